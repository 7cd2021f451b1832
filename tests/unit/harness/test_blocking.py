"""Whose thread ran a synchronous HTTP client in a profile, and what a cap of one says of it."""

from __future__ import annotations

from typing import Any

from harness.blocking import PARAM, ClientCalls, blocking_call, client_calls
from harness.records import RunRecord, capture_environment, make_series

ENV = capture_environment()
# Stacks as pyinstrument 5 leaves them (root first), read from real profiles of a gateway that
# calls requests in an async handler, and of one that calls it with asyncio.to_thread.
MAIN = ("<thread>:MainThread", "<frozen runpy>:_run_code", "app.py:<module>",
        "uvicorn/main.py:run", "asyncio/runners.py:run",
        "asyncio/base_events.py:_UnixSelectorEventLoop.run_forever",
        "asyncio/events.py:Handle._run",
        "litestar/routes/http.py:HTTPRoute._call_handler_function", "app.py:chat")  # fmt: skip
WORKER = ("<thread>:asyncio_1", "threading.py:Thread._bootstrap", "threading.py:Thread.run",
          "concurrent/futures/thread.py:_worker", "app.py:call")  # fmt: skip
REQUESTS = ("requests/sessions.py:Session.post", "urllib3/connectionpool.py:urlopen",
            "http/client.py:HTTPResponse.begin", "<built-in>:socket.recv_into")  # fmt: skip
IDLE_LOOP = (*MAIN[:6], "selectors.py:EpollSelector.select")


def test_a_sync_client_under_the_event_loop_is_counted_on_the_loops_thread() -> None:
    calls = client_calls([(MAIN + REQUESTS, 0.9), (IDLE_LOOP, 0.5), (WORKER + REQUESTS, 0.1)])
    assert calls.clients == ("requests",)  # the one the gateway's code called, not urllib3
    assert calls.loops == ("asyncio", "litestar", "uvicorn")
    assert (calls.on_loop_s, calls.in_thread_s) == (0.9, 0.1)
    assert calls.on_the_loop and calls.loop_seen


def test_a_sync_client_in_a_worker_thread_is_off_the_loop() -> None:
    calls = client_calls([(WORKER + REQUESTS, 0.4)] * 3 + [(IDLE_LOOP, 2.0)])
    assert (calls.on_loop_s, round(calls.in_thread_s, 6), calls.loops) == (0.0, 1.2, ())
    assert not calls.on_the_loop and calls.loop_seen


def test_importing_a_client_or_parsing_headers_with_http_client_is_no_call() -> None:
    importing = (*MAIN[:3], "<frozen importlib._bootstrap>:_find_and_load",
                 "requests/__init__.py:<module>")  # fmt: skip
    server = ("<thread>:Thread-1", "threading.py:Thread.run", "http/server.py:handle",
              "http/client.py:parse_headers")  # fmt: skip
    assert client_calls([(importing, 0.3), (server, 0.2)]) == ClientCalls()


def profile(calls: ClientCalls | None, *frames: str) -> RunRecord:
    params: dict[str, Any] = {} if calls is None else {PARAM: calls.as_params()}
    shares = tuple(make_series(f"share:{f}", "ratio", [0.1]) for f in frames)
    return RunRecord("profile", "gateway", params, ENV, shares, labels={"variant": "gw"})


def test_a_client_called_on_the_loop_is_named_as_the_blocking_call() -> None:
    on_loop = client_calls([(MAIN + REQUESTS, 0.9)])
    said = blocking_call([profile(on_loop)], "gw")
    assert said.startswith(
        "its profile shows why: requests (a synchronous HTTP client) called on the event loop's "
        "own thread (under asyncio, litestar, uvicorn): a blocking call on the event loop"
    )
    assert blocking_call([profile(on_loop)], "another gateway") == ""


def test_a_client_called_in_worker_threads_is_not_called_a_blocking_call_on_the_loop() -> None:
    # review7 B8: asyncio.to_thread behind a lock was told to "call it in a thread".
    in_threads = client_calls([(WORKER + REQUESTS, 0.9), (IDLE_LOOP, 1.0)])
    said = blocking_call([profile(in_threads, "requests/sessions.py:Session.send",
                                  "asyncio/events.py:Handle._run")], "gw")  # fmt: skip
    assert "blocking call on the event loop" not in said and "in a thread" not in said
    assert said == (
        "its profile shows requests (a synchronous HTTP client) called in worker threads, off "
        "any event loop: not a blocking call on the loop, but a lock or a pool of one thread "
        "around those calls"
    )


def test_a_threaded_server_with_no_event_loop_gets_no_sentence() -> None:
    flask = (("<thread>:Thread-3", "threading.py:Thread.run", "werkzeug/serving.py:handle",
              "app.py:chat", *REQUESTS), 1.0)  # fmt: skip
    assert blocking_call([profile(client_calls([flask]))], "gw") == ""


def test_a_profile_saved_before_threads_were_recorded_is_read_from_its_frames_as_likely() -> None:
    old = profile(None, "<built-in>:socket.recv_into", "requests/sessions.py:Session.send",
                  "litestar/app.py:Litestar.__call__")  # fmt: skip
    said = blocking_call([old], "gw")
    assert said.startswith(
        "its profile suggests why: requests (a synchronous HTTP client) beside litestar (an "
        "event loop): likely a blocking call on the event loop"
    )
    assert "did not record which thread" in said
    assert blocking_call([profile(None, "requests/sessions.py:Session.send")], "gw") == ""
