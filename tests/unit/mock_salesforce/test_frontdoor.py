"""The front door without sockets: bytes in, bytes out, and what it hands to aiohttp."""

from __future__ import annotations

import asyncio
import json

from mock_salesforce.config import MockConfig
from mock_salesforce.frontdoor import FrontDoor, HttpDate, compose
from mock_salesforce.state import MockState

CHAT = b"/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
BODY = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()


class Transport(asyncio.Transport):
    """Collects what is written; remembers whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 5000) if name == "peername" else default


class Fallback(asyncio.Protocol):
    """Stands in for aiohttp's protocol: records the bytes handed over."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data


def post(path: bytes, body: bytes = BODY, extra: bytes = b"") -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n" % (path, extra, len(body))
    return head + body


def door_for(config: MockConfig | None = None) -> tuple[FrontDoor, Transport, Fallback]:
    state = MockState(
        config or MockConfig(require_auth=False, strict_headers=False, seed=2),
        clock=lambda: 5.0,
        wall_clock=lambda: 1_700_000_000.0,
    )
    fallback = Fallback()
    door = FrontDoor(state, lambda: fallback, HttpDate(lambda: 1_700_000_000.0), set())
    transport = Transport()
    door.connection_made(transport)
    return door, transport, fallback


def replies(written: bytes | bytearray) -> list[tuple[bytes, bytes]]:
    """(status line, body) of each Content-Length response in `written`."""
    out, rest = [], bytes(written)
    while rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(
            int(v) for k, _, v in (x.partition(b": ") for x in lines) if k == b"Content-Length"
        )
        out.append((lines[0], rest[:length]))
        rest = rest[length:]
    return out


def test_compose_writes_status_headers_length_and_date() -> None:
    response = compose(404, {"x-request-id": "r1"}, b"{}", "Tue, 14 Nov 2023 22:13:20 GMT")
    assert response == (
        b"HTTP/1.1 404 Not Found\r\nx-request-id: r1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n{}"
    )
    assert b"Connection: close\r\n" in compose(200, {}, b"", "d", close=True)


def test_the_date_is_formatted_once_a_second() -> None:
    now = [1_700_000_000.2]
    date = HttpDate(lambda: now[0])
    first = date()
    now[0] = 1_700_000_000.9
    assert date() is first
    now[0] = 1_700_000_001.0
    assert date() == "Tue, 14 Nov 2023 22:13:21 GMT" != first


async def test_two_requests_in_one_chunk_get_two_replies_in_order() -> None:
    door, transport, fallback = door_for()
    door.data_received(post(CHAT) + post(CHAT))
    (first, first_body), (second, second_body) = replies(transport.written)
    assert first == second == b"HTTP/1.1 200 OK"
    assert json.loads(first_body)["id"] != json.loads(second_body)["id"]
    assert fallback.transport is None  # nothing was handed over


async def test_a_request_split_across_reads_is_answered_once_whole() -> None:
    door, transport, _ = door_for()
    whole = post(CHAT)
    door.data_received(whole[:20])
    assert not transport.written
    door.data_received(whole[20:])
    assert [status for status, _ in replies(transport.written)] == [b"HTTP/1.1 200 OK"]


async def test_an_error_is_the_documented_object() -> None:
    door, transport, _ = door_for()
    door.data_received(post(CHAT, b"{not json"))
    ((status, body),) = replies(transport.written)
    assert status == b"HTTP/1.1 400 Bad Request"
    assert json.loads(body)["errorCode"] == "JSON_PARSER_ERROR"


async def test_other_requests_are_handed_over_whole_and_so_is_all_that_follows() -> None:
    door, transport, fallback = door_for()
    admin = b"GET /__admin/counters HTTP/1.1\r\nHost: x\r\n\r\n"
    door.data_received(admin + post(CHAT))
    assert fallback.transport is transport
    assert bytes(fallback.received) == admin + post(CHAT)  # re-serialized byte for byte
    assert not transport.written  # the front door answered nothing itself


async def test_a_percent_escaped_path_is_left_to_aiohttp_which_decodes_it() -> None:
    door, transport, fallback = door_for()
    escaped = b"/einstein/platform/v1/models/sfdc%5Fai__DefaultGPT4OmniMini/chat-generations"
    door.data_received(post(escaped))
    assert bytes(fallback.received) == post(escaped) and not transport.written


async def test_a_chunked_body_is_handed_over_chunked() -> None:
    door, _, fallback = door_for()
    head = b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % CHAT
    door.data_received(head + b"5\r\nhello\r\n0\r\n\r\n")
    assert bytes(fallback.received) == head + b"5\r\nhello\r\n0\r\n\r\n"


async def test_connection_close_closes_after_the_reply() -> None:
    door, transport, _ = door_for()
    door.data_received(post(CHAT, extra=b"Connection: close\r\n"))
    assert transport.closed
    assert b"Connection: close\r\n" in transport.written


class DuckTransport:
    """A stream transport that is not an asyncio.Transport subclass (as uvloop's is not)."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 5000) if name == "peername" else default


async def test_any_stream_transport_will_do() -> None:
    door, _, _ = door_for()
    transport = DuckTransport()
    door.connection_made(transport)  # type: ignore[arg-type]
    door.data_received(post(CHAT))
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
