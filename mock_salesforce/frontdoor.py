"""The front door: a lean HTTP/1.1 layer that serves the Salesforce surface itself.

aiohttp's web layer (request and response objects, routing, the task per request) costs more per
request than the mock's whole logic, so in front of the aiohttp application sits this protocol:
httptools (the parser uvicorn uses) splits the byte stream into requests, and a plain POST to
the token endpoint, `/einstein/platform/v1/models/{model}/{operation}` or feedback is answered
here, through the same checks, plans and renderers as the aiohttp handlers (`app.plan_model`,
`plan_token`, `plan_feedback`), with the same bytes.

Everything else goes to the aiohttp application on the same socket: the admin API, unknown paths
and methods, and anything unusual about a request (a query string or percent-escapes, a chunked
or oversized body, `Expect: 100-continue`, an upgrade). The first such request hands its
connection over for good: from then on each parsed request is re-serialized and fed to an aiohttp
protocol, in order.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import cast

import httptools  # type: ignore[import-untyped]
from multidict import CIMultiDict

from mock_salesforce import delivery
from mock_salesforce.app import (
    FEEDBACK_REPLY,
    MODEL_OPERATIONS,
    issue_token,
    plan_feedback,
    plan_model,
    plan_token,
    wait_latency,
)
from mock_salesforce.errors import ApiError
from mock_salesforce.exchange import Exchange, finish
from mock_salesforce.faults import Fault
from mock_salesforce.oauth import OAuthError
from mock_salesforce.rendering import render
from mock_salesforce.state import MockState

MODEL_PATH = re.compile(r"/einstein/platform/v1/models/([^/?#]+)/([a-z-]+)")
# Paths served here besides the models (exact: a query string goes to aiohttp).
OTHER_PATHS = {b"/services/oauth2/token": "token", b"/einstein/platform/v1/feedback": "feedback"}
MAX_BACKLOG = 32  # pipelined requests parsed ahead of their turn before reading pauses
KEEPALIVE_S = 75.0  # idle connections are closed after this long, as aiohttp does by default
_REASONS = {status.value: status.phrase for status in HTTPStatus}
Payload = Callable[[], bytes]  # the reply body, made when it is due


class HttpDate:
    """The `Date` header value, formatted at most once a second (`clock`: epoch seconds)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._second = -1
        self._value = ""

    def __call__(self) -> str:
        second = int(self._clock())
        if second != self._second:
            self._second, self._value = second, email.utils.formatdate(second, usegmt=True)
        return self._value


class Request:
    """One request the front door serves itself (what `exchange.Incoming` asks for)."""

    __slots__ = ("body", "headers", "keep_alive", "model", "operation", "remote", "transport")

    def __init__(
        self,
        headers: CIMultiDict[str],
        model: str,
        operation: str,
        keep_alive: bool,
        remote: str | None,
        transport: asyncio.Transport,
    ) -> None:
        self.headers = headers
        self.model = model
        self.operation = operation
        self.keep_alive = keep_alive
        self.remote = remote
        self.transport: asyncio.Transport | None = transport
        self.body = b""


def compose(
    status: int, headers: Mapping[str, str], body: bytes, date: str, *, close: bool = False
) -> bytes:
    """A whole HTTP/1.1 response: status line, headers, `Content-Length`, `Date`, body."""
    return response_head(status, headers, len(body), date, close=close) + body


def response_head(
    status: int, headers: Mapping[str, str], length: int, date: str, *, close: bool = False
) -> bytes:
    """The status line and headers of a JSON response of `length` bytes, blank line included."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Type: application/json\r\nContent-Length: {length}\r\nDate: {date}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class FrontDoor(asyncio.Protocol):
    """One client connection: Models API requests served here, the rest handed to aiohttp."""

    def __init__(
        self,
        state: MockState,
        fallback: Callable[[], asyncio.Protocol],
        date: HttpDate,
        connections: set[FrontDoor],
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.state = state
        self._fallback = fallback
        self._date = date
        self._connections = connections
        self._keepalive_s = keepalive_s
        self._active_s = 0.0  # loop time of the last bytes received
        self._idle_timer: asyncio.TimerHandle | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._remote: str | None = None
        self._handed: asyncio.Protocol | None = None  # the aiohttp protocol, once handed over
        self._backlog: deque[Request | bytes] = deque()  # in arrival order: ours, or bytes for it
        self._busy: asyncio.Task[None] | None = None
        self._paused = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._current: Request | None = None
        self._body: list[bytes] = []
        self._forwarding = False  # the message being parsed goes to aiohttp
        self._handing_over = False  # ...and so does every message after it
        self._chunked = False
        self._raw = False  # after an upgrade: bytes go to aiohttp unparsed

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always an asyncio.Transport subclass (uvloop's is not).
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._remote = str(peer[0]) if isinstance(peer, tuple) and peer else None
        self._connections.add(self)
        loop = asyncio.get_running_loop()
        self._active_s = loop.time()
        self._idle_timer = loop.call_at(self._active_s + self._keepalive_s, self._check_idle)

    def _check_idle(self) -> None:
        """Close a connection idle for `keepalive_s` (one timer, moved on lazily)."""
        loop = asyncio.get_running_loop()
        due_s = self._active_s + self._keepalive_s
        if self._handed is not None or self._transport is None:
            self._idle_timer = None  # aiohttp keeps its own time, or the connection is gone
        elif self._busy is not None or self._backlog or loop.time() < due_s:
            self._idle_timer = loop.call_at(max(due_s, loop.time() + 0.01), self._check_idle)
        else:
            self._idle_timer = None
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._active_s = asyncio.get_running_loop().time()
        if self._raw:
            self._queue(data)
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:  # aiohttp answers it, and what follows
            self._raw = self._handing_over = True
            self._queue(data[upgrade.args[0] :])
        except httptools.HttpParserError:
            self._bad_request()

    def eof_received(self) -> bool | None:
        if self._handed is not None:
            return self._handed.eof_received()  # type: ignore[attr-defined, no-any-return]
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._busy is not None:
            self._busy.cancel()
        if self._handed is not None:
            self._handed.connection_lost(exc)
        self._transport = None

    def pause_writing(self) -> None:
        if self._handed is not None:
            self._handed.pause_writing()  # type: ignore[attr-defined]
        elif self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._handed is not None:
            self._handed.resume_writing()  # type: ignore[attr-defined]
        elif self._transport is not None:
            self._transport.resume_reading()

    def close(self) -> None:
        """Close the connection (server shutdown); a request in flight is cancelled."""
        if self._transport is not None:
            self._transport.close()

    # --- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", [], []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._current = self._ours()
        self._forwarding = self._current is None
        if self._forwarding:
            self._start_forwarding()

    def on_body(self, body: bytes) -> None:
        if not self._forwarding:
            self._body.append(body)
        elif self._chunked:
            self._queue(b"%x\r\n%s\r\n" % (len(body), body))
        else:
            self._queue(body)

    def on_message_complete(self) -> None:
        request, self._current = self._current, None
        if request is None:
            if self._chunked:
                self._queue(b"0\r\n\r\n")
            return
        request.body = b"".join(self._body)
        self._queue(request)

    # --- choosing and handing over -------------------------------------------------------

    def _ours(self) -> Request | None:
        """The request, if it is a plain Models API POST this layer serves; else None."""
        parser = self._parser
        if self._handing_over or parser.get_method() != b"POST":
            return None
        model, operation = "", OTHER_PATHS.get(self._url, "")
        if not operation and b"%" not in self._url:  # percent-escapes: aiohttp decodes them
            match = MODEL_PATH.fullmatch(self._url.decode("latin-1"))
            if match is None or match.group(2) not in MODEL_OPERATIONS:
                return None
            model, operation = match.groups()
        if not operation:
            return None
        headers: CIMultiDict[str] = CIMultiDict(
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in self._headers]
        )
        length = headers.get("Content-Length", "")
        limit = self.state.runtime.config.body_limit_bytes
        if not length.isdigit() or int(length) > limit or "Expect" in headers:
            return None
        assert self._transport is not None
        return Request(
            headers, model, operation, parser.should_keep_alive(), self._remote, self._transport
        )

    def _start_forwarding(self) -> None:
        """Hand this request (and the connection) to aiohttp: re-serialize its head."""
        self._handing_over = True
        names = {name.lower() for name, _ in self._headers}
        self._chunked = b"transfer-encoding" in names and b"content-length" not in names
        version = self._parser.get_http_version()
        head = [b"%s %s HTTP/%s" % (self._parser.get_method(), self._url, version.encode())]
        head += [name + b": " + value for name, value in self._headers]
        self._queue(b"\r\n".join(head) + b"\r\n\r\n")

    def _queue(self, item: Request | bytes) -> None:
        self._backlog.append(item)
        if len(self._backlog) > MAX_BACKLOG and self._transport is not None and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        self._pump()

    def _pump(self) -> None:
        """Serve or forward queued items in order; stop while a reply is still in the making."""
        while self._busy is None and self._backlog and self._transport is not None:
            item = self._backlog.popleft()
            if isinstance(item, bytes):
                self._handover().data_received(item)  # type: ignore[attr-defined]
            else:
                self._serve(item)
        if self._paused and len(self._backlog) <= MAX_BACKLOG // 2 and self._transport:
            self._paused = False
            self._transport.resume_reading()

    def _handover(self) -> asyncio.Protocol:
        if self._handed is None:
            assert self._transport is not None
            self._handed = self._fallback()
            self._handed.connection_made(self._transport)
        return self._handed

    def _bad_request(self) -> None:
        """Bytes that are not HTTP: 400 and close (after a hand-over aiohttp may be mid-reply,
        so then just close)."""
        self._backlog.clear()
        if self._transport is None:
            return
        if self._handed is None and self._busy is None:
            body = ApiError(400, "BAD_REQUEST", "Malformed HTTP request").body()
            self._transport.write(compose(400, {}, body, self._date(), close=True))
        self._transport.close()

    # --- serving -------------------------------------------------------------------------

    def _serve(self, request: Request) -> None:
        """Answer at once when nothing has to wait; otherwise in a task (latency, slow faults)."""
        state, operation = self.state, request.operation
        exchange = Exchange(state, operation, request.model or None)
        try:
            fault, payload = self._plan(request, exchange)
        except (ApiError, OAuthError) as error:
            self._error(request, exchange, error)
            finish(state, request, exchange)
            return
        if exchange.latency_ms > 0 or (fault is not None and fault.kind in delivery.SLOW_FAULTS):
            task = asyncio.get_running_loop().create_task(
                self._serve_later(request, exchange, payload, fault)
            )
            self._busy = task
            task.add_done_callback(self._served)
            return
        self._deliver(request, exchange, payload, fault)
        finish(state, request, exchange)

    def _plan(self, request: Request, exchange: Exchange) -> tuple[Fault | None, Payload]:
        """What `app` settles before the wait, and how to make the reply body after it."""
        state, raw = self.state, request.body
        if request.operation == "token":
            exchange.token_status = "not-required"
            form, fault = plan_token(state, exchange, raw, {})
            base_url = f"http://{request.headers.get('Host', '')}"
            return fault, lambda: issue_token(state, exchange, form, base_url)
        if request.operation == "feedback":
            return plan_feedback(request, state, exchange, raw), lambda: FEEDBACK_REPLY
        prepared, fault = plan_model(request, state, exchange, raw)
        return fault, lambda: render(state, exchange.seq, prepared)

    async def _serve_later(
        self, request: Request, exchange: Exchange, payload: Payload, fault: Fault | None
    ) -> None:
        state = self.state
        try:
            if exchange.latency_ms > 0:
                await wait_latency(state, exchange)
            if fault is not None and fault.kind in delivery.SLOW_FAULTS:
                await self._fault_slowly(request, exchange, payload(), fault)
            else:
                self._deliver(request, exchange, payload, fault)
        except asyncio.CancelledError:  # the client left (or the server stops)
            exchange.disconnected = True
            finish(state, request, exchange)
            raise
        finish(state, request, exchange)

    def _deliver(
        self, request: Request, exchange: Exchange, payload: Payload, fault: Fault | None
    ) -> None:
        """The reply, or the fault that replaces or breaks it (the body is made only if sent)."""
        if fault is not None and fault.kind == "status":
            self._fault_now(request, exchange, b"", fault)
            return
        try:
            body = payload()
        except OAuthError as error:  # a bad grant or bad credentials, found on issuing
            self._error(request, exchange, error)
            return
        if fault is None:
            status = 202 if request.operation == "feedback" else 200
            self._send(request, exchange, status, exchange.headers(), body)
        else:
            self._fault_now(request, exchange, body, fault)

    def _served(self, task: asyncio.Task[None]) -> None:
        self._busy = None
        self._pump()

    def _send(
        self,
        request: Request,
        exchange: Exchange,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Write a whole response (closing after it unless the client keeps the connection)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            exchange.disconnected = True
            return
        exchange.status = status
        close = not request.keep_alive
        transport.write(compose(status, headers, body, self._date(), close=close))
        if close:
            self._backlog.clear()
            transport.close()

    def _error(self, request: Request, exchange: Exchange, error: ApiError | OAuthError) -> None:
        headers = exchange.headers()
        if isinstance(error, ApiError):
            headers.update(error.headers)
        self._send(request, exchange, error.status, headers, error.body())

    def _fault_now(
        self, request: Request, exchange: Exchange, payload: bytes, fault: Fault
    ) -> None:
        """Faults that go out at once: an error status, a reset, an empty or broken reply."""
        exchange.disconnected = delivery.client_gone(self._transport)
        if fault.kind not in delivery.BODY_FAULTS:
            exchange.shape = None  # what goes out is not the reply shape
        headers = exchange.headers()
        if fault.kind == "status":
            error = delivery.status_error(fault, headers)
            self._send(request, exchange, error.status, headers, error.body())
        elif fault.kind == "reset":
            delivery.reset_connection(self._transport)
        elif fault.kind == "empty":
            delivery.close_connection(self._transport)
        elif fault.kind == "truncated":
            head = response_head(200, headers, len(payload), self._date())
            self._send_raw(exchange, head + payload[: len(payload) // 2])
            delivery.close_connection(self._transport)
        elif fault.kind == "malformed":
            self._send(request, exchange, 200, headers, delivery.malformed(payload))

    def _send_raw(self, exchange: Exchange, data: bytes) -> None:
        """Bytes of a broken reply (the status line says 200)."""
        exchange.status = 200
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    async def _fault_slowly(
        self, request: Request, exchange: Exchange, payload: bytes, fault: Fault
    ) -> None:
        """Faults that take their time: a hang, or a body dribbled out a few bytes at a time."""
        transport = self._transport
        exchange.disconnected = delivery.client_gone(transport)
        if fault.kind == "hang":
            exchange.shape = None
            exchange.disconnected = await delivery.hang(transport, fault.hang_s)
            return
        self._send_raw(exchange, response_head(200, exchange.headers(), len(payload), self._date()))
        pause_s = delivery.dribble_pause_s(fault.dribble_bytes_per_s)
        for start in range(0, len(payload), delivery.DRIBBLE_CHUNK_BYTES):
            if transport is None or delivery.client_gone(transport):
                exchange.disconnected = True
                return
            transport.write(payload[start : start + delivery.DRIBBLE_CHUNK_BYTES])
            await asyncio.sleep(pause_s)
        if not request.keep_alive and transport is not None:
            transport.close()
