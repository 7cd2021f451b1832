"""The front door: a lean HTTP/1.1 layer that serves the Salesforce surface itself.

aiohttp's web layer (request and response objects, routing, the task per request) costs more per
request than the mock's whole logic, so in front of the aiohttp application sits this protocol:
httptools (the parser uvicorn uses) splits the byte stream into requests, and a plain POST to
the token endpoint, `/einstein/platform/v1/models/{model}/{operation}` or feedback is answered
here, through the same checks, plans and renderers as the aiohttp handlers (`app.plan_model`,
`plan_token`, `plan_feedback`), with the same bytes.

Everything else goes to the aiohttp application on the same socket: the admin API, unknown paths
and methods, and anything unusual about a request (a query string or percent-escapes, an
oversized body, an upgrade, an `Expect` this layer cannot answer in turn). The first such request
hands its connection over for good: from then on each parsed request is re-serialized and fed to
an aiohttp protocol, in order (a chunked body collected first and given its length).

It is at least as strict as aiohttp (`protocol.py`): what aiohttp's parser would refuse is
refused here, with the mock's JSON error, in turn after the replies owed before it.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import cast

import httptools  # type: ignore[import-untyped]

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
from mock_salesforce.exchange import Exchange, finish, peer_of
from mock_salesforce.faults import Fault
from mock_salesforce.oauth import OAuthError
from mock_salesforce.outbox import Outbox
from mock_salesforce.protocol import (
    MAX_FIELD_BYTES,
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    POISON,
    MockRequestHandler,
    Refused,
    bad_request,
    check_head,
    check_sizes,
    head_too_large,
    header_fields,
    journal_refusal,
)
from mock_salesforce.rendering import Prepared, render, render_parts
from mock_salesforce.state import MockState

MODEL_PATH = re.compile(r"/einstein/platform/v1/models/([^/?#]+)/([a-z-]+)")
# Paths served here besides the models (exact: a query string goes to aiohttp).
OTHER_PATHS = {b"/services/oauth2/token": "token", b"/einstein/platform/v1/feedback": "feedback"}
MAX_BACKLOG = 32  # pipelined requests parsed ahead of their turn before reading pauses
CHUNK_POISON = b"X\r\n"  # not a chunk size: ends a chunked body aiohttp is reading, in error
# What becomes of a message: served here; a chunked body collected, then handed to aiohttp with
# its length (so a broken chunk is refused before aiohttp sees any of it); handed over as it comes.
OURS, BUFFER, STREAM = "ours", "buffer", "stream"
KEEPALIVE_S = 75.0  # idle connections are closed after this long, as aiohttp does by default
LINGER_S, LINGER_BYTES = 2.0, 1 << 20  # after a refusal: what the client still sends is dropped
_REASONS = {status.value: status.phrase for status in HTTPStatus}
# Connections numbered in the process, never reset: the journal's `client` is `host:port#N`, so
# a port the kernel gives a later connection is not taken for the same connection (review7 B11).
_CONNECTION_NUMBERS = itertools.count(1)
logger = logging.getLogger("mock_salesforce.frontdoor")
Payload = Callable[[], bytes]  # the reply body, made when it is due


def _refusal(exc: httptools.HttpParserError) -> ApiError:
    """What to answer a request the parser (or a check in a callback) rejected."""
    cause = exc.__context__
    if cause is not None and not isinstance(cause, ApiError):
        raise cause from None  # a bug of ours in a callback, not the client's mistake
    return cause or bad_request(f"Malformed HTTP request: {exc}")


def route_of(url: bytes) -> tuple[str, str]:
    """(model, operation) of a request target this layer serves; operation "" for any other."""
    operation = OTHER_PATHS.get(url, "")
    if operation or b"%" in url:  # percent-escapes: aiohttp decodes them
        return "", operation
    match = MODEL_PATH.fullmatch(url.decode("latin-1"))
    if match is None or match.group(2) not in MODEL_OPERATIONS:
        return "", ""
    model, operation = match.groups()
    return model, operation


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
        headers: dict[str, str],  # `protocol.header_fields`: by lower-case name
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
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    return head_of(status, lines, length, date, close=close)


def head_of(status: int, lines: str, length: int, date: str, *, close: bool = False) -> bytes:
    """`response_head` with the headers already as lines (`Exchange.header_lines`)."""
    connection = "Connection: close\r\n" if close else ""
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n{lines}"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\nDate: {date}\r\n"
        f"{connection}\r\n"
    ).encode()


class FrontDoor(asyncio.Protocol):
    """One client connection: Models API requests served here, the rest handed to aiohttp."""

    # Slots: attribute reads stay fast however many there are (an instance dict past 30 keys
    # loses CPython's specialised lookups), and a connection costs less memory.
    __slots__ = (
        "_active_s", "_backlog", "_body", "_body_bytes", "_body_limit", "_busy", "_chunked",
        "_connections", "_continued", "_current", "_date", "_fallback", "_handed", "_handing_over",
        "_head_bytes", "_head_from_s", "_head_split", "_head_timer", "_headers", "_idle_timer",
        "_in_body", "_keepalive_s", "_linger_bytes", "_loop_time", "_mode", "_outbox", "_parser",
        "_paused",
        "_raw", "_read_bytes", "_reading_done", "_remote", "_route", "_route_url", "_transport",
        "_url", "state",
    )  # fmt: skip

    def __init__(
        self,
        state: MockState,
        fallback: Callable[[], asyncio.Protocol],
        date: HttpDate,
        connections: set[FrontDoor],
        keepalive_s: float = KEEPALIVE_S,
        outbox: Outbox | None = None,
    ) -> None:
        """`outbox`: the server's, to write replies at the end of the loop's turn; None writes
        each at once."""
        self.state = state
        self._outbox = outbox
        self._fallback = fallback
        self._date = date
        self._connections = connections
        self._keepalive_s = keepalive_s
        self._active_s = 0.0  # loop time of the last bytes received
        self._loop_time: Callable[[], float] = time.monotonic  # the loop's clock, once connected
        self._idle_timer: asyncio.TimerHandle | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._remote: str | None = None
        self._handed: asyncio.Protocol | None = None  # the aiohttp protocol, once handed over
        # In arrival order: ours, bytes for aiohttp, or a refusal to answer in turn.
        self._backlog: deque[Request | bytes | Refused] = deque()
        self._busy: asyncio.Task[None] | None = None
        self._paused = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._current: Request | None = None
        self._mode = OURS  # what becomes of the message being parsed (see OURS, BUFFER, STREAM)
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._body_limit = 0
        self._handing_over = False  # this message and every one after it go to aiohttp
        self._chunked = False
        self._in_body = False  # between the end of a head and the end of its message
        self._continued = False  # this layer answered the message's Expect: 100-continue
        self._raw = False  # after an upgrade: bytes go to aiohttp unparsed
        self._reading_done = False  # a refusal or a close is due: nothing more is parsed
        self._linger_bytes = 0  # what may still be read (and dropped) before closing
        self._head_from_s: float | None = None  # loop time the head being parsed began
        self._head_split = False  # ...and it did not end in the read it began in
        self._head_bytes = 0  # bytes of its later reads
        self._head_timer: asyncio.TimerHandle | None = None
        self._read_bytes = 0  # size of the read being parsed
        self._route_url, self._route = b"", ("", "")  # the last request target, and its route

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always an asyncio.Transport subclass (uvloop's is not).
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        remote = peer_of(peer)
        self._remote = f"{remote}#{next(_CONNECTION_NUMBERS)}" if remote else None
        self._connections.add(self)
        loop = asyncio.get_running_loop()
        # Kept, not asked again per read: asking for the running loop costs a getpid syscall.
        self._loop_time = loop.time
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
            self._flush()
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._active_s = self._loop_time()
        if self._reading_done:
            self._drop(len(data))
            return
        if self._raw:
            self._queue(data)
            self._pump()
            return
        self._read_bytes = len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:  # aiohttp answers it, and what follows
            self._raw = True
            self._queue(data[upgrade.args[0] :])
        except httptools.HttpParserError as exc:
            self._refuse(_refusal(exc))
        else:
            if self._head_from_s is not None:
                self._head_continues(len(data))
        self._pump()

    def _drop(self, size: int) -> None:
        """Bytes after a refusal: dropped, up to `LINGER_BYTES`."""
        self._linger_bytes -= size
        if self._linger_bytes < 0 and self._transport is not None:
            self._flush()
            self._transport.close()

    def eof_received(self) -> bool | None:
        self._flush()  # a client that half-closes after its request still gets the reply
        if self._handed is not None:
            return self._handed.eof_received()  # type: ignore[attr-defined, no-any-return]
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        for timer in (self._idle_timer, self._head_timer):
            if timer is not None:
                timer.cancel()
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
        elif self._transport is not None and not self._reading_done:
            self._transport.resume_reading()

    def close(self) -> None:
        """Close the connection (server shutdown); a request in flight is cancelled."""
        if self._transport is not None:
            self._flush()
            self._transport.close()

    # --- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", [], []
        self._head_from_s = self._active_s

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_from_s = None
        # A head that came whole in a read no bigger than aiohttp's field limit breaks no size
        # limit but the count's: sizes are checked only when a head may break one.
        big = self._head_split or self._read_bytes > MAX_FIELD_BYTES
        if big or len(self._headers) > MAX_HEADERS:
            check_sizes(self._url, self._headers)
            if self._head_split:
                self._end_split_head()
        parser = self._parser
        fields = header_fields(self._headers)
        check_head(self._headers, fields, parser.get_http_version)
        self._chunked = "transfer-encoding" in fields
        self._in_body, self._body_bytes = True, 0
        if "upgrade" in fields and parser.should_upgrade():  # (a CONNECT is not ours either)
            self._stream_to_aiohttp()  # httptools stops at the head: aiohttp reads on, raw
            return
        self._continued = "expect" in fields and self._may_continue()
        expects = "expect" in fields and not self._continued  # an expectation left to aiohttp
        self._current = self._ours(fields, expects)
        if self._current is not None:
            self._mode = OURS
        elif self._chunked and not expects:
            self._mode, self._handing_over = BUFFER, True
            self._body_limit = self.state.config.body_limit_bytes
        else:
            self._continued = False  # aiohttp answers the Expect itself
            self._stream_to_aiohttp()
            return
        if self._continued and self._transport is not None:
            self._flush()
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _may_continue(self) -> bool:
        """Whether to answer `Expect: 100-continue` here: nothing owed on the connection yet
        (an interim reply must not overtake a final one), and no other expectation."""
        if self._handing_over or self._busy is not None or self._backlog:
            return False
        values = [v.strip().lower() for n, v in self._headers if n.lower() == b"expect"]
        return values == [b"100-continue"]

    def on_body(self, body: bytes) -> None:
        if self._mode == STREAM:
            self._queue(b"%x\r\n%s\r\n" % (len(body), body) if self._chunked else body)
            return
        self._body.append(body)
        if self._chunked:  # (a Content-Length was checked against the limit)
            self._body_bytes += len(body)
            if self._body_bytes > self._body_limit:
                raise ApiError.for_status(413, f"Request body over {self._body_limit} bytes")

    def on_message_complete(self) -> None:
        self._in_body = False
        request, self._current = self._current, None
        if request is not None:
            request.body = b"".join(self._body)
            self._queue(request)
        elif self._mode == BUFFER:  # the body whole: handed over with its length
            body = b"".join(self._body)
            self._queue(self._head(length=len(body)) + body)
        elif self._chunked and not self._parser.should_upgrade():
            self._queue(b"0\r\n\r\n")

    # --- heads that take long, and refusals ----------------------------------------------

    def _head_continues(self, size: int) -> None:
        """A head went on past the end of a read: time it, and count its later reads."""
        if not self._head_split:
            self._head_split = True
            assert self._head_from_s is not None
            due_s = self._head_from_s + self.state.config.header_timeout_s
            self._head_timer = asyncio.get_running_loop().call_at(due_s, self._head_timed_out)
        else:
            self._head_bytes += size
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(head_too_large(f"Request head over {MAX_HEAD_BYTES} bytes"))

    def _end_split_head(self) -> None:
        self._head_split, self._head_bytes = False, 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_from_s is not None and not self._reading_done:
            timeout_s = self.state.config.header_timeout_s
            self._refuse(ApiError(408, "REQUEST_TIMEOUT", f"No request head in {timeout_s:g} s"))
            self._pump()

    def _refuse(self, error: ApiError) -> None:
        """Answer `error` in turn, after the replies still owed, then close; read no more."""
        self._reading_done = True
        self._head_from_s = None
        self._end_split_head()
        if self._transport is not None:
            self._transport.pause_reading()
        if not self._handing_over:
            self._backlog.append(Refused(header_fields(self._headers), self._remote, error))
            return
        # aiohttp owns the connection: have it answer in order, by breaking its stream
        handed = self._handover()
        if isinstance(handed, MockRequestHandler):
            handed.refusal = error
        in_chunks = self._mode == STREAM and self._chunked and self._in_body
        self._backlog.append(CHUNK_POISON if in_chunks else POISON)

    # --- choosing and handing over -------------------------------------------------------

    def _ours(self, fields: dict[str, str], expects: bool) -> Request | None:
        """The request, if it is a plain Models API POST this layer serves; else None."""
        parser = self._parser
        if self._handing_over or parser.get_method() != b"POST" or expects:
            return None
        if self._url == self._route_url:  # a client sends one path over and over
            model, operation = self._route
        else:
            model, operation = route_of(self._url)
            self._route_url, self._route = self._url, (model, operation)
        if not operation:
            return None
        limit = self.state.runtime.body_limits_bytes[operation]
        if not self._chunked:  # (a chunked body is limited as it arrives)
            length = fields.get("content-length", "")
            if not length.isdigit() or int(length) > limit:
                return None  # aiohttp answers: 413, or the empty body's 400
        self._body_limit = limit
        assert self._transport is not None
        return Request(
            fields, model, operation, parser.should_keep_alive(), self._remote, self._transport
        )

    def _stream_to_aiohttp(self) -> None:
        """Hand this message (and the connection) to aiohttp as it arrives, head first."""
        self._mode, self._handing_over = STREAM, True
        self._queue(self._head())

    def _head(self, length: int | None = None) -> bytes:
        """The head of the message being parsed, re-serialized; with `length`, a chunked
        message's head made a `Content-Length` one (its body is handed over whole)."""
        parser = self._parser
        version = parser.get_http_version().encode()
        lines = [b"%s %s HTTP/%s" % (parser.get_method(), self._url, version)]
        lines += [name + b": " + value for name, value in self._headers]
        if length is not None:  # (and an Expect this layer answered goes too)
            dropped = (
                (b"transfer-encoding:", b"expect:") if self._continued else (b"transfer-encoding:",)
            )
            lines = [line for line in lines if not line.lower().startswith(dropped)]
            lines.append(b"Content-Length: %d" % length)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _queue(self, item: Request | bytes) -> None:
        self._backlog.append(item)
        if len(self._backlog) > MAX_BACKLOG and self._transport is not None and not self._paused:
            self._paused = True
            self._transport.pause_reading()

    def _pump(self) -> None:
        """Serve or forward queued items in order; stop while a reply is still in the making."""
        while self._busy is None and self._backlog and self._transport is not None:
            item = self._backlog.popleft()
            if isinstance(item, bytes):
                self._flush()  # (aiohttp may answer within the read)
                self._handover().data_received(item)  # type: ignore[attr-defined]
            elif isinstance(item, Request):
                self._serve(item)
            else:
                self._answer_refusal(item)
        if self._paused and len(self._backlog) <= MAX_BACKLOG // 2 and self._transport:
            self._paused = False
            if not self._reading_done:
                self._transport.resume_reading()

    def _handover(self) -> asyncio.Protocol:
        if self._handed is None:
            assert self._transport is not None
            self._handed = self._fallback()
            self._handed.connection_made(self._transport)
        return self._handed

    def _answer_refusal(self, refused: Refused) -> None:
        """A refused request's reply, counted and journaled; the connection closes after it."""
        self._backlog.clear()
        error = refused.error
        headers = journal_refusal(self.state, refused, error).headers()
        reply = compose(error.status, headers, error.body(), self._date(), close=True)
        transport = self._transport
        assert transport is not None
        self._flush()
        transport.write(reply)
        # Close the way nginx does (a lingering close): closing with unread bytes would send a
        # reset that can destroy the reply before the client reads it.
        if transport.can_write_eof():
            transport.write_eof()
        self._linger_bytes = LINGER_BYTES
        transport.resume_reading()
        asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    # --- serving -------------------------------------------------------------------------

    def _serve(self, request: Request) -> None:
        """Answer at once when nothing has to wait; otherwise in a task (latency, slow faults)."""
        state, operation = self.state, request.operation
        exchange = Exchange(state, operation, request.model or None)
        try:
            fault, payload, large = self._plan(request, exchange)
        except (ApiError, OAuthError) as error:
            self._error(request, exchange, error)
            finish(state, request, exchange)
            return
        except Exception as exc:  # a bug of the mock's: say so, as aiohttp would
            self._fail(request, exchange, exc)
            finish(state, request, exchange)
            return
        slow = fault is not None and fault.kind in delivery.SLOW_FAULTS
        if exchange.latency_ms > 0 or slow or large is not None:
            task = asyncio.get_running_loop().create_task(
                self._serve_later(request, exchange, payload, fault, large)
            )
            self._busy = task
            task.add_done_callback(self._served)
            return
        self._deliver(request, exchange, payload, fault)
        finish(state, request, exchange)

    def _plan(
        self, request: Request, exchange: Exchange
    ) -> tuple[Fault | None, Payload, Prepared | None]:
        """What `app` settles before the wait, how to make the reply body after it, and the
        prepared reply when it is a large one (built in slices, written in pieces)."""
        state, raw = self.state, request.body
        if request.operation == "token":
            exchange.token_status = "not-required"
            form, fault = plan_token(state, exchange, raw, {}, request.headers.get("authorization"))
            base_url = f"http://{request.headers.get('host', '')}"
            return fault, lambda: issue_token(state, exchange, form, base_url), None
        if request.operation == "feedback":
            return plan_feedback(request, state, exchange, raw), lambda: FEEDBACK_REPLY, None
        prepared, fault = plan_model(request, state, exchange, raw)
        if prepared.pending is not None:
            return fault, lambda: b"", prepared
        return fault, functools.partial(render, state, exchange.seq, prepared), None  # (C-level)

    async def _serve_later(
        self,
        request: Request,
        exchange: Exchange,
        payload: Payload,
        fault: Fault | None,
        large: Prepared | None,
    ) -> None:
        state = self.state
        try:
            if large is not None:
                await self._serve_large(request, exchange, large, fault)
            else:
                await self._wait_and_deliver(request, exchange, payload, fault)
        except asyncio.CancelledError:  # the client left (or the server stops)
            exchange.disconnected = True
            finish(state, request, exchange)
            raise
        except Exception as exc:
            self._fail(request, exchange, exc)
        finish(state, request, exchange)

    async def _wait_and_deliver(
        self, request: Request, exchange: Exchange, payload: Payload, fault: Fault | None
    ) -> None:
        if exchange.latency_ms > 0:
            await wait_latency(self.state, exchange)
        if fault is not None and fault.kind in delivery.SLOW_FAULTS:
            await self._fault_slowly(request, exchange, payload(), fault)
        else:
            self._deliver(request, exchange, payload, fault)

    async def _serve_large(
        self, request: Request, exchange: Exchange, large: Prepared, fault: Fault | None
    ) -> None:
        """A large reply: built in slices, then written in pieces (or cut up by its fault)."""
        parts = await render_parts(self.state, exchange.seq, large)
        if fault is None:
            await wait_latency(self.state, exchange)
            self._send_parts(request, exchange, parts)
        else:  # faults cut the reply up whole
            await self._wait_and_deliver(
                request, exchange, functools.partial(b"".join, parts), fault
            )

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
            self._send(request, exchange, status, None, body)
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
        headers: Mapping[str, str] | None,
        body: bytes,
    ) -> None:
        """Write a whole response (closing after it unless the client keeps the connection);
        `headers` None: the exchange's own."""
        transport = self._transport
        if transport is None or transport.is_closing():
            exchange.disconnected = True
            return
        exchange.status = status
        close = not request.keep_alive
        if headers is None:
            head = head_of(status, exchange.header_lines(), len(body), self._date(), close=close)
        else:
            head = response_head(status, headers, len(body), self._date(), close=close)
        outbox = self._outbox
        if outbox is not None and not close:
            outbox.put(transport, head + body)
            return
        self._flush()
        transport.write(head + body)
        if close:
            self._reading_done = True
            self._backlog.clear()
            transport.close()

    def _flush(self) -> None:
        """Write the replies the outbox keeps, before anything else is written or closed here
        (a fault, a refusal, bytes aiohttp answers): nothing overtakes a kept reply."""
        if self._outbox is not None:
            self._outbox.flush()

    def _fail(self, request: Request, exchange: Exchange, exc: Exception) -> None:
        """A 500 for a request the mock failed on (a bug), with its traceback logged."""
        logger.error("the mock failed on a request", exc_info=exc)
        if exchange.status and self._transport is not None:  # a reply is under way: cut it
            self._flush()
            self._transport.close()
            return
        self._error(request, exchange, ApiError.for_status(500))

    def _send_parts(self, request: Request, exchange: Exchange, parts: list[bytes]) -> None:
        """A large 200 reply, written piece by piece (the transport buffers what the client has
        not read yet, and pauses reading meanwhile)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            exchange.disconnected = True
            return
        exchange.status = 200
        close = not request.keep_alive
        length = sum(map(len, parts))
        self._flush()
        transport.write(response_head(200, exchange.headers(), length, self._date(), close=close))
        for part in parts:
            transport.write(part)
        if close:
            self._reading_done = True
            self._backlog.clear()
            transport.close()

    def _error(self, request: Request, exchange: Exchange, error: ApiError | OAuthError) -> None:
        exchange.error = error.said()
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
            self._flush()
            delivery.reset_connection(self._transport)
        elif fault.kind == "empty":
            self._flush()
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
            self._flush()
            self._transport.write(data)

    async def _fault_slowly(
        self, request: Request, exchange: Exchange, payload: bytes, fault: Fault
    ) -> None:
        """Faults that take their time: a hang, or a body dribbled out a few bytes at a time."""
        transport = self._transport
        exchange.disconnected = delivery.client_gone(transport)
        if fault.kind == "hang":
            self._flush()
            exchange.shape = None
            exchange.disconnected = await delivery.hang(transport, fault.hang_s)
            return
        self._send_raw(exchange, response_head(200, exchange.headers(), len(payload), self._date()))
        pause_s = delivery.dribble_pause_s(fault.dribble_bytes_per_s)
        for start in range(0, len(payload), delivery.DRIBBLE_CHUNK_BYTES):
            if start:  # a pause between chunks, none after the last: a client that has the
                await asyncio.sleep(pause_s)  # whole body may leave at once, and did not give up
            if transport is None or delivery.client_gone(transport):
                exchange.disconnected = True
                return
            transport.write(payload[start : start + delivery.DRIBBLE_CHUNK_BYTES])
        if not request.keep_alive and transport is not None:
            transport.close()
