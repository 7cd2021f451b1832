"""One request's bookkeeping: what the journal and counters record, and the reply headers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from aiohttp import web

from mock_salesforce.errors import ApiError
from mock_salesforce.journal import kept_body
from mock_salesforce.replies import Reply
from mock_salesforce.state import MockState, Runtime


class Incoming(Protocol):
    """What the handlers read of a request: an aiohttp `web.Request`, or the front door's own."""

    @property
    def headers(self) -> Mapping[str, str]: ...  # asked by lower-case name (see `header_fields`)

    @property
    def remote(self) -> str | None: ...

    @property
    def transport(self) -> asyncio.Transport | None: ...


class Exchange:
    """Journal fields of one request, filled in as the handler goes."""

    __slots__ = (
        "body", "disconnected", "endpoint", "error", "fault", "latency_ms", "model",
        "reply", "request_id", "retry_after_s", "runtime", "seq", "shape", "status", "t0_s",
        "token_expires_t_s", "token_id", "token_status",
    )  # fmt: skip

    def __init__(self, state: MockState, endpoint: str, model: str | None) -> None:
        self.runtime: Runtime = state.runtime
        self.seq = state.next_seq()
        self.t0_s = state.clock()
        self.request_id = state.ids.uuid("request", self.seq)
        self.endpoint = endpoint
        self.model = model
        self.body: bytes | None = None
        self.reply: Reply | None = None  # the reply made for the request, once it is made
        self.token_id: str | None = None
        self.token_status: str | None = None
        self.token_expires_t_s: float | None = None
        self.status = 0  # 0: no HTTP status was sent (reset, empty reply, hang)
        self.shape: str | None = None
        self.fault: str | None = None
        self.latency_ms = 0.0
        self.retry_after_s: float | None = None
        self.disconnected = False
        self.error: str | None = None  # the error the mock answered itself: "code: message"

    def headers(self) -> dict[str, str]:
        """The response headers every Models API reply carries."""
        shown_ms, upstream_ms = self._latency_values()
        headers = {
            "x-request-id": self.request_id,
            "x-sfperf-latency-ms": shown_ms,
            "x-envoy-upstream-service-time": upstream_ms,
        }
        if self.shape is not None:
            headers["x-sfperf-shape"] = self.shape
        if self.fault is not None:
            headers["x-sfperf-fault"] = self.fault
        return headers

    def header_lines(self) -> str:
        """`headers()` as HTTP header lines, each ending in CRLF, formatted in one go (the
        front door's every reply: a quarter of the time of the dict joined line by line)."""
        shown_ms, upstream_ms = self._latency_values()
        lines = (
            f"x-request-id: {self.request_id}\r\nx-sfperf-latency-ms: {shown_ms}\r\n"
            f"x-envoy-upstream-service-time: {upstream_ms}\r\n"
        )
        if self.shape is not None:
            lines += f"x-sfperf-shape: {self.shape}\r\n"
        if self.fault is not None:
            lines += f"x-sfperf-fault: {self.fault}\r\n"
        return lines

    def _latency_values(self) -> tuple[str, str]:
        """The injected latency as `x-sfperf-latency-ms` and `x-envoy-upstream-service-time`."""
        latency_ms = self.latency_ms
        if latency_ms == 0.0:  # the load-test case: no formatting
            return "0.000", "0"
        return f"{latency_ms:.3f}", str(round(latency_ms))


def peer_of(peer: object) -> str | None:
    """`host:port` (`[host]:port` for IPv6) of a socket's peer: the journal's `client` names the
    connection a request came on, so a client's connection reuse can be counted."""
    if not isinstance(peer, tuple) or len(peer) < 2:
        return None
    host = str(peer[0])
    return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"


def finish(state: MockState, request: Incoming, exchange: Exchange) -> None:
    """Count the request and write its journal entry (values in `journal.STORED` order: atoms
    and references to what the request already holds, nothing computed)."""
    state.counters.count(
        exchange.endpoint, exchange.status, exchange.shape, exchange.fault, exchange.latency_ms
    )
    if exchange.disconnected:
        state.counters.disconnects += 1
    headers, reply = request.headers, exchange.reply
    state.journal.append(
        (
            exchange.seq,
            exchange.request_id,
            exchange.t0_s - state.start_s,
            exchange.endpoint,
            exchange.model,
            request.remote,
            kept_body(exchange.endpoint, exchange.body),
            exchange.token_id,
            exchange.token_status,
            exchange.token_expires_t_s,
            exchange.status,
            exchange.shape,
            exchange.fault,
            exchange.latency_ms,
            exchange.retry_after_s,
            headers.get("x-sfdc-app-context"),
            headers.get("x-client-feature-id"),
            state.clock() - exchange.t0_s,
            exchange.disconnected,
            exchange.error,
            *(_reply_atoms(reply) if reply is not None and _delivered(exchange) else _NO_REPLY),
        )
    )


_NO_REPLY = (None, None, None, None)
_INTACT_FAULTS = (None, "dribble")  # a dribbled reply is slow, but whole


def _delivered(exchange: Exchange) -> bool:
    """Whether the reply went out whole: the journal shows a reply only then."""
    return exchange.status == 200 and exchange.fault in _INTACT_FAULTS and not exchange.disconnected


def _reply_atoms(reply: Reply) -> tuple[bytes, str, int, int]:
    """What the journal keeps of a reply: atoms only, so its tuples stay out of the GC's way."""
    return reply.utf8, reply.finish_reason, reply.prompt_tokens, reply.completion_tokens


async def read_body(request: web.Request, limit_bytes: int) -> bytes:
    """The request body; 413 REQUEST_TOO_LARGE as soon as it passes `limit_bytes`."""
    length = request.content_length
    if length is not None:
        if length > limit_bytes:
            raise ApiError.for_status(413, f"Request body over {limit_bytes} bytes")
        content = request.content
        if content.is_eof():  # the whole body already arrived: take it without a loop hop
            return content.read_nowait()
        return await request.read()
    chunks, size = [], 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit_bytes:
            raise ApiError.for_status(413, f"Request body over {limit_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
