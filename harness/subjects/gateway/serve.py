"""Run a gateway: in a background thread (tests, benchmarks) or in the foreground until a signal.

Both servers run off the main thread, so the foreground mode handles SIGINT/SIGTERM the same
way for Flask and aiohttp: the main thread waits for a signal, then stops the server cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from aiohttp import web
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from harness.subjects.gateway.aiohttp_app import create_aiohttp_app
from harness.subjects.gateway.flask_app import create_flask_app
from harness.subjects.gateway.options import GatewayConfigError, GatewayOptions
from harness.subjects.gateway.variants import Assembly, assemble
from mock_salesforce.process import stop_with_parent, tune_gc_for_serving

SHUTDOWN_GRACE_S = 5.0
STOP_DEADLINE_S = SHUTDOWN_GRACE_S + 5.0  # a stop that takes longer than this ends the process
PARENT_ENV = "SFPERF_PARENT_PID"  # set by harness.targets.process for the processes it starts
LISTEN_BACKLOG = 1024  # load tests open hundreds of connections at once


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: at load it would cost more than the request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _ThreadedServer(ThreadedWSGIServer):
    """werkzeug's threaded server (what `make_server(threaded=True)` builds), longer backlog."""

    request_queue_size = LISTEN_BACKLOG


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class RunningGateway:
    """A gateway serving in a background thread; `stop()` shuts it down and releases all."""

    def __init__(self, assembly: Assembly, url: str, stop: Callable[[], None]) -> None:
        self.assembly = assembly
        self.gateway = assembly.gateway
        self.url = url
        self._stop = stop

    def stop(self) -> None:
        try:
            self._stop()
        finally:
            self.assembly.cleanup()


def _start_flask(assembly: Assembly, host: str, port: int) -> RunningGateway:
    app = create_flask_app(assembly.gateway, assembly.client)  # type: ignore[arg-type]
    assembly.gateway.runtime.update(server="flask")  # a thread per request, no event loop
    server = _ThreadedServer(host, port, app, handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="gateway-flask", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join()
        server.server_close()
        assembly.client.close()  # type: ignore[attr-defined]

    return RunningGateway(assembly, _url(host, server.server_port), stop)


def new_event_loop(choice: str) -> tuple[asyncio.AbstractEventLoop, str]:
    """A new loop for the aiohttp server and its name: uvloop for `uvloop`, and for `auto`
    when it is installed (as production aiohttp servers run); asyncio's own otherwise.
    Only this loop changes: no policy is set, so `asyncio.run` elsewhere is untouched."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise GatewayConfigError("--loop uvloop: uvloop is not installed") from None
        else:
            return uvloop.new_event_loop(), "uvloop"
    return asyncio.new_event_loop(), "asyncio"


def _start_aiohttp(assembly: Assembly, host: str, port: int, loop_choice: str) -> RunningGateway:
    app = create_aiohttp_app(assembly.gateway, assembly.client)  # type: ignore[arg-type]
    # In-flight requests get a few seconds at shutdown, not aiohttp's default minute.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    loop, loop_name = new_event_loop(loop_choice)
    assembly.gateway.runtime.update(server="aiohttp", loop=loop_name)
    thread = threading.Thread(target=loop.run_forever, name="gateway-aiohttp", daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def stop() -> None:
        run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    try:
        run(runner.setup())
        run(web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG).start())
    except BaseException:
        stop()
        raise
    bound_port = runner.addresses[0][1]
    return RunningGateway(assembly, _url(host, bound_port), stop)


def start(options: GatewayOptions) -> RunningGateway:
    """Build and start a gateway in the background; raises GatewayConfigError on bad options."""
    assembly = assemble(options)
    try:
        if assembly.spec.server == "flask":
            return _start_flask(assembly, options.host, options.port)
        return _start_aiohttp(assembly, options.host, options.port, options.loop)
    except GatewayConfigError:
        assembly.cleanup()
        raise
    except OSError as exc:
        assembly.cleanup()
        raise GatewayConfigError(f"cannot listen on {options.host}:{options.port}: {exc}") from exc


@contextmanager
def run_in_thread(options: GatewayOptions) -> Iterator[RunningGateway]:
    """`with run_in_thread(opts) as gw:` serve on `gw.url` for the duration of the block."""
    running = start(options)
    try:
        yield running
    finally:
        running.stop()


def serve(options: GatewayOptions, announce: Callable[[str], None]) -> int:
    """Serve in the foreground: announce the URL when ready, stop cleanly on SIGINT or SIGTERM;
    returns 128 + that signal's number (130 or 143), the status a shell would report."""
    stopping = threading.Event()
    stopped_by: list[int] = []

    def stop(signum: int) -> None:
        stopped_by.append(signum)
        stopping.set()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop(signum)

    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, on_signal) for signum in watched}
    # The kernel's parent-death SIGTERM is a first line, but it is lost when SIGTERM is blocked
    # or ignored here: the watch calls `stop` itself.
    stop_with_parent(sfperf_parent(), stop)
    try:
        running = start(options)
        tune_gc_for_serving()  # this process only serves from now on
        try:
            announce(running.url)
            while not stopping.wait(0.5):
                pass
        finally:
            exit_if_stuck(128 + (stopped_by[0] if stopped_by else signal.SIGTERM))
            running.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 + stopped_by[0]


def sfperf_parent() -> int | None:
    """The pid of the sfperf process that started this one (PARENT_ENV), None if none did."""
    parent = os.environ.get(PARENT_ENV, "")
    return int(parent) if parent.isdigit() else None


def exit_if_stuck(status: int, deadline_s: float = STOP_DEADLINE_S) -> threading.Timer:
    """End the process with `status` if stopping the server takes longer than `deadline_s`
    (a handler that ignores cancellation must not keep a stopped gateway alive)."""
    timer = threading.Timer(deadline_s, os._exit, (status,))
    timer.daemon = True
    timer.start()
    return timer
