"""HTTP/1.1 as the mock accepts it, behind either front: aiohttp's limits and head rules, and
the refusal every request that breaks them gets.

A refusal is an `ApiError` (a Salesforce-style JSON 4xx): it is counted and journaled like any
request (endpoint `other`), the connection closes after it, and nothing is logged above debug.
The front door checks heads with `check_head` as it parses; aiohttp's own parser checks the rest,
and `MockRequestHandler` answers what it refuses the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from aiohttp import web

from mock_salesforce.errors import ApiError
from mock_salesforce.exchange import Exchange, Incoming, finish
from mock_salesforce.state import MockState

# aiohttp's server defaults (aiohttp.web_protocol.RequestHandler), which its parser enforces.
MAX_LINE_BYTES = 8190  # the request target
MAX_FIELD_BYTES = 8190  # one header, name and value together
MAX_HEADERS = 128
# The whole head. aiohttp allows 128 x 8190 bytes; nginx's default buffers hold 4 x 8 KiB.
MAX_HEAD_BYTES = 32_768
# Headers that may appear once (aiohttp's SINGLETON_HEADERS): a second one is a 400.
SINGLETON_HEADERS = frozenset(
    {b"content-length", b"content-location", b"content-range", b"content-type", b"etag",
     b"host", b"max-forwards", b"server", b"transfer-encoding", b"user-agent"}
)  # fmt: skip
# A stream aiohttp's parser refuses at its first byte: fed to it to have a refusal answered in
# order, after the replies it still owes.
POISON = b"\x00\r\n\r\n"
JSON = "application/json"
logger = logging.getLogger("mock_salesforce.protocol")


def bad_request(message: str) -> ApiError:
    """A request the mock cannot read as HTTP/1.1 (400 BAD_REQUEST)."""
    return ApiError(400, "BAD_REQUEST", message[:300])


def head_too_large(reason: str) -> ApiError:
    return ApiError(431, "HEADERS_TOO_LARGE", reason)


def check_sizes(target: bytes, headers: Sequence[tuple[bytes, bytes]]) -> None:
    """Refuse a head over aiohttp's limits: request target, one header, header count."""
    if len(target) > MAX_LINE_BYTES:
        raise ApiError(414, "URI_TOO_LONG", f"Request target over {MAX_LINE_BYTES} bytes")
    if len(headers) > MAX_HEADERS:
        raise head_too_large(f"More than {MAX_HEADERS} headers")
    if any(len(name) + len(value) > MAX_FIELD_BYTES for name, value in headers):
        raise head_too_large(f"Header over {MAX_FIELD_BYTES} bytes")


def header_fields(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """A head's fields by lower-cased name, decoded as latin-1 (as HTTP defines them); of a
    repeated field, the first, as multidict's `get` gives. Handlers look fields up by their
    lower-case names (aiohttp's own headers answer those too): a plain dict is built in under
    half the time of a `CIMultiDict`, and every request the front door serves builds one."""
    return {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in reversed(headers)}


def check_head(
    headers: Sequence[tuple[bytes, bytes]],
    fields: Mapping[str, str],
    http_version: Callable[[], str],
) -> None:
    """Refuse a head aiohttp's parser would refuse: a singleton header twice, no `Host` in
    HTTP/1.1, a `Transfer-Encoding` other than `chunked` (as nginx does), or the old WebSocket
    handshake. `fields` are the head's `header_fields`."""
    if len(fields) != len(headers):
        _check_singletons([name.lower() for name, _ in headers])
    if "host" not in fields and http_version() == "1.1":
        raise bad_request("Missing Host header")
    encoding = fields.get("transfer-encoding")
    if encoding is not None and encoding.strip().lower() != "chunked":
        raise bad_request("Unsupported Transfer-Encoding (only chunked)")
    if "sec-websocket-key1" in fields:
        raise bad_request("Unsupported WebSocket handshake")


def _check_singletons(names: list[bytes]) -> None:
    for name in SINGLETON_HEADERS.intersection(names):
        if names.count(name) > 1:
            raise bad_request(f"Duplicate {name.decode()} header")


class Refused:
    """A refused request: the error, and what the journal reads (the headers parsed so far)."""

    __slots__ = ("error", "headers", "remote", "transport")

    def __init__(self, headers: Mapping[str, str], remote: str | None, error: ApiError) -> None:
        self.headers = headers
        self.remote = remote
        self.error = error
        self.transport: asyncio.Transport | None = None


def journal_refusal(state: MockState, request: Incoming, error: ApiError) -> Exchange:
    """Count and journal a refused request (endpoint `other`); its exchange, for the headers."""
    exchange = Exchange(state, "other", None)
    exchange.status, exchange.error = error.status, error.said()
    finish(state, request, exchange)
    return exchange


class MockRequestHandler(web.RequestHandler):
    """aiohttp's connection protocol, answering what its parser refuses (or a handler that
    fails) with the mock's JSON error, counted and journaled, and no traceback for clients'
    mistakes."""

    def __init__(self, manager: web.Server, state: MockState, keepalive_s: float) -> None:
        super().__init__(
            manager,
            loop=asyncio.get_running_loop(),
            keepalive_timeout=keepalive_s,
            access_log=None,  # type: ignore[arg-type]  # aiohttp reads None as no log
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_FIELD_BYTES,
            max_headers=MAX_HEADERS,
        )
        self.state = state
        # Set by the front door before it feeds `POISON`: the reason to give instead of
        # aiohttp's own.
        self.refusal: ApiError | None = None

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: too late for another reply
            raise ConnectionError("a reply was already under way")
        if status >= 500:
            logger.error("the mock failed on a request", exc_info=exc)  # the mock's own bug
            error = ApiError.for_status(500)
        else:
            logger.debug("refused a request: %s", message)
            error = self.refusal or bad_request(f"Malformed HTTP request: {message or status}")
        headers = journal_refusal(self.state, request, error).headers()
        response = web.Response(
            body=error.body(), status=error.status, headers=headers, content_type=JSON
        )
        response.force_close()
        return response
