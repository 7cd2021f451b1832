"""sfperf's locust plugin: raw per-request rows, open-loop pacing and an OpenAI chat user.

Every locustfile in this directory imports it; only the locust child process does (gevent
patches the process it runs in). It adds `--sfperf-*` options to locust, writes one raw row per
request (see `harness.runners.support.loadrows`) and gives scenarios `ChatUser`, a user that
measures each request itself: time to first token and inter-token gaps from the SSE chunks,
latency from the intended start in open-loop mode, and every reply's facts (text digest, finish
reason, usage) beside the request's marker and body, for the load runner to judge against what
the upstream really sent (`harness.join`).
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.ssl
from geventhttpclient import HTTPClient
from locust import LoadTestShape, User, constant, events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.runners.support.loadrows import IN_FLIGHT, UNSENT, Row, format_row, quote_body
from harness.runners.support.openloop import ARRIVALS, ArrivalSchedule, user_schedule, wait_for_slot
from harness.targets.endpoints import CHAT_PATH, endpoint_path
from harness.targets.headers import HEADERS_VARIABLE
from harness.targets.tls import TLS_VARIABLE, TargetTls
from scenarios.load._fidelity import read_answer, readable
from scenarios.load._prompts import chat_body, wire_text
from scenarios.load._sse import Exchange, read_sse

FLUSH_INTERVAL_S = 1.0  # a crashed process loses at most this much of its rows


def listen(hook: Any, handler: Callable[..., Any]) -> None:
    """`hook.add_listener(handler)`, typed (locust's EventHook is not)."""
    hook.add_listener(handler)


def options_of(environment: Environment) -> Any:
    """Locust's parsed options (argparse.Namespace, with the `--sfperf-*` ones)."""
    if environment.parsed_options is None:
        raise RuntimeError("sfperf's locust plugin needs locust's parsed options")
    return environment.parsed_options


def add_arguments(parser: Any) -> None:
    """The `--sfperf-*` options; locust forwards them from the master to every worker."""
    group = parser.add_argument_group("sfperf")
    group.add_argument("--sfperf-out", default="", help="directory for raw per-request rows")
    group.add_argument("--sfperf-mode", choices=("closed", "open"), default="closed")
    group.add_argument("--sfperf-rate", type=float, default=0.0, help="open loop: total req/s")
    group.add_argument("--sfperf-arrival", choices=ARRIVALS, default="constant")
    group.add_argument("--sfperf-users", type=int, default=1, help="users sharing the rate")
    group.add_argument("--sfperf-duration", type=float, default=30.0, help="shaped runs: seconds")
    group.add_argument("--sfperf-seed", type=int, default=1234)
    group.add_argument("--sfperf-model", default="gpt-4o-mini")
    group.add_argument("--sfperf-timeout", type=float, default=30.0, help="per request, seconds")
    group.add_argument("--sfperf-mock-url", default="", help="the mock behind the target")


listen(events.init_command_line_parser, add_arguments)


class RowSink:
    """Where this process's rows go: its own file, or (a worker) the master via its reports."""

    def __init__(self, path: Path | None, forward: bool) -> None:
        self.forward = forward
        self.pending: list[str] = []
        self.handle = path.open("a", encoding="utf-8", buffering=1 << 16) if path else None

    def add_line(self, line: str) -> None:
        if self.handle is not None:
            self.handle.write(line)
        elif self.forward:
            self.pending.append(line)

    def on_request(self, **kwargs: Any) -> None:
        self.add_line(format_row(row_from_event(**kwargs)))

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data["sfperf_rows"], self.pending = self.pending, []

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        for line in data.get("sfperf_rows", ()):
            self.add_line(line)

    def flush(self, **_: Any) -> None:
        if self.handle is not None:
            self.handle.flush()

    def flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()


def row_from_event(
    name: str,
    response_time: float,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    response: Any = None,
    start_time: float | None = None,
    **_: Any,
) -> Row:
    """A ChatUser request carries its Row; any other request is described from the event."""
    if context and isinstance(context.get("sfperf"), Row):
        row: Row = context["sfperf"]
        return row
    start_s = start_time if start_time is not None else time.time() - response_time / 1000.0
    status = int(getattr(response, "status_code", 0) or 0)
    error = "" if exception is None else type(exception).__name__
    return Row(name, start_s, start_s, float(response_time), status, exception is None, error=error)


def install_sink(environment: Environment, **_: Any) -> None:
    """Route this process's request events into a RowSink."""
    # gevent's loop caches its clock; after the slow import of a locustfile it lags by the
    # import time, and locust's --run-time timer (armed next) would end the run that much early.
    gevent.get_hub().loop.update_now()
    is_worker = isinstance(environment.runner, WorkerRunner)
    out = "" if is_worker else options_of(environment).sfperf_out
    role = "master" if isinstance(environment.runner, MasterRunner) else "local"
    path = Path(out) / f"requests-{role}-{socket.gethostname()}-{os.getpid()}.tsv" if out else None
    sink = RowSink(path, forward=is_worker)
    if path is None and not is_worker:
        return  # plain locust without --sfperf-out: no rows, and no cost for them
    listen(environment.events.request, sink.on_request)
    listen(environment.events.report_to_master, sink.on_report_to_master)
    listen(environment.events.worker_report, sink.on_worker_report)
    listen(environment.events.test_stop, sink.flush)
    listen(environment.events.quitting, sink.flush)
    if path is not None:
        gevent.spawn(sink.flush_forever)


listen(events.init, install_sink)


def target_headers() -> dict[str, str]:
    """The headers every request carries: the target's (`--target-header`, passed in the
    environment so no command line shows them) and the JSON content type."""
    given = json.loads(os.environ.get(HEADERS_VARIABLE) or "{}")
    return {**{str(k): str(v) for k, v in given.items()}, "content-type": "application/json"}


def tls_options() -> dict[str, Any]:
    """geventhttpclient's options for an https target's certificate, as `--target-ca` or
    `--target-insecure` chose (passed in the environment; none: the system's CAs)."""
    tls = TargetTls.from_json(os.environ.get(TLS_VARIABLE, ""))
    if tls.insecure:  # its `insecure` alone skips the host name check, not the chain's
        return {"insecure": True, "ssl_context_factory": _unverified_context}
    return {"ssl_options": {"ca_certs": tls.ca_file}} if tls.ca_file else {}


def _unverified_context(**_: Any) -> gevent.ssl.SSLContext:
    context = gevent.ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = gevent.ssl.CERT_NONE
    return context


def time_connects(http: HTTPClient, note: Callable[[float], None]) -> None:
    """Have `http` tell `note` how long each new connection took to open (ms; TLS included).
    geventhttpclient has no hook for it: its pool's connect step is wrapped, and a version
    without that step is simply not timed."""
    pool = getattr(http, "_connection_pool", None)
    connect = getattr(pool, "_connect_socket", None)
    if connect is None:
        return

    def timed(sock: Any, address: Any) -> Any:
        started_s = time.perf_counter()
        try:
            return connect(sock, address)
        finally:
            note((time.perf_counter() - started_s) * 1000.0)

    setattr(pool, "_connect_socket", timed)  # noqa: B010 (an instance's method, replaced)


class RequestFailed(Exception):
    """What locust's own statistics see for a request sfperf counts as not ok."""


class ChatUser(User):
    """A client of an OpenAI-compatible gateway sending `POST /v1/chat/completions`.

    Closed loop: sends the next request as soon as the last reply is in. Open loop: waits for
    its next intended start (its share of `--sfperf-rate`) and counts latency from it.
    """

    abstract = True
    wait_time = constant(0)
    stream = False
    errors_allowed = False  # True while the mock injects faults: error statuses are right then
    _count = 0  # users created in this process, to give each its own seed

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        options = options_of(environment)
        ChatUser._count += 1
        key = f"{options.sfperf_seed}-{socket.gethostname()}-{os.getpid()}-{ChatUser._count}"
        self.options = options
        # Plain `locust -f` (no --sfperf-out, not a worker) keeps no rows: nothing reads answers.
        self.reading = bool(options.sfperf_out) or isinstance(environment.runner, WorkerRunner)
        self.rng = random.Random(zlib.crc32(key.encode()))
        self.schedule: ArrivalSchedule | None = None
        self.headers = target_headers()
        # The target's own path prefix is kept (`http://host/openai`): R47.
        self.chat_path = endpoint_path(str(self.host), CHAT_PATH)
        self.http = HTTPClient.from_url(
            str(self.host),
            concurrency=1,
            connection_timeout=options.sfperf_timeout,
            network_timeout=options.sfperf_timeout,
            **tls_options(),
        )
        self.connect_ms: float | None = None  # opening a connection for the request in flight
        time_connects(self.http, self._connected)

    def on_start(self) -> None:
        if self.options.sfperf_mode == "open":
            self.schedule = user_schedule(
                self.options.sfperf_rate,
                max(1, self.options.sfperf_users),
                self.options.sfperf_arrival,
                time.time(),
                self.rng.randrange(1 << 30),
            )

    def on_stop(self) -> None:
        # Open loop: the starts its schedule had before now that this user never took, being
        # still held by the target, are requests the rate promised: each a row (R90).
        stopped_s = time.time()
        for intended_s in self.schedule.due_before(stopped_s) if self.schedule else ():
            self.report("chat", Row("chat", intended_s, stopped_s, 0.0, 0, False, error=UNSENT), 0)
        self.http.close()

    def _connected(self, took_ms: float) -> None:
        self.connect_ms = (self.connect_ms or 0.0) + took_ms

    def next_start_s(self) -> float:
        if self.schedule is None:
            return time.time()
        return wait_for_slot(self.schedule, time.time, gevent.sleep)

    def chat(self, name: str = "chat") -> Row:
        """Send one chat completion, read it, report it; the Row is returned for scenarios.
        `ok` says a readable 200 came back: the load runner judges the answer after the run."""
        body, marker = chat_body(self.rng, self.options.sfperf_model, self.stream)
        sent = wire_text(body, marker)
        intended_s = self.next_start_s()
        start_s, t0 = time.time(), time.perf_counter()
        self.connect_ms = None
        try:
            exchange = self.exchange(sent.encode(), t0)
        except gevent.GreenletExit:  # stopped while waiting: still a request the target had
            waited_ms = (time.perf_counter() - t0) * 1000.0
            self.report(name, Row(name, intended_s, start_s, waited_ms, 0, False, error=IN_FLIGHT,
                                  marker=marker, request=sent), 0)  # fmt: skip
            raise
        response_ms = (time.perf_counter() - t0) * 1000.0
        answer = read_answer(body, exchange.status, exchange.payload) if self.reading else None
        ok = exchange.status == 200 and not exchange.error and (answer is None or readable(answer))
        # The start of a reply that is not ok, or whose text reads like an error: the report
        # quotes it (a readable 200 may still be error text the judging will name).
        telling = not ok or (answer is not None and answer.error_text)
        quoted = quote_body(exchange.payload) if telling else ""
        row = Row(
            name, intended_s, start_s, response_ms, exchange.status, ok, exchange.ttft_ms,
            exchange.itl_ms, (), exchange.error, quoted, marker, answer, sent, self.errors_allowed,
            exchange.retry_after, self.connect_ms, exchange.closed,
        )  # fmt: skip
        self.report(name, row, exchange.size_bytes)
        return row

    def report(self, name: str, row: Row, size_bytes: int) -> None:
        """Fire locust's request event for `row` (the sink writes it)."""
        self.environment.events.request.fire(
            request_type="POST",
            name=name,
            response_time=row.latency_ms,
            response_length=size_bytes,
            response=None,
            context={"sfperf": row},
            exception=None if row.ok else RequestFailed(describe_failure(row)),
        )

    def exchange(self, body: bytes, t0: float) -> Exchange:
        try:
            response = self.http.post(self.chat_path, body=body, headers=self.headers)
            # `Connection: close`, or HTTP/1.0 without keep-alive: the target closes it (R101).
            closed = not response.should_keep_alive()
            if self.stream and response.status_code == 200:
                streamed = read_sse(response, response.status_code, t0)
                streamed.closed = closed
                return streamed
            payload = response.read()
            given = response.get("Retry-After") or ""
            retry_after = given[0] if isinstance(given, list) else given
            return Exchange(response.status_code, payload, len(payload), retry_after=retry_after,
                            closed=closed)  # fmt: skip
        except Exception as exc:  # any transport failure is a measured outcome, not a crash
            return Exchange(0, b"", error=type(exc).__name__)


def describe_failure(row: Row) -> str:
    if row.error:
        return row.error
    if row.fidelity:
        return "fidelity:" + ",".join(row.fidelity)
    return f"HTTP {row.status}"


def shape_options(shape: LoadTestShape) -> Any:
    """The parsed options seen from a LoadTestShape (it runs on the master or the only process)."""
    if shape.runner is None:
        raise RuntimeError("a LoadTestShape ticks only once attached to a runner")
    return options_of(shape.runner.environment)


def shape_time_s(shape: LoadTestShape) -> float:
    """Seconds since the shape started (typed wrapper of `get_run_time`)."""
    run_time: Callable[[], float] = shape.get_run_time
    return run_time()
