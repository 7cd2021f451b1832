"""The front door without sockets: bytes in, bytes out, and what it hands to aiohttp."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

import mock_salesforce
from mock_salesforce.config import MockConfig
from mock_salesforce.exchange import Exchange, peer_of
from mock_salesforce.frontdoor import (
    FrontDoor,
    HttpDate,
    compose,
    head_of,
    response_head,
)
from mock_salesforce.outbox import Outbox
from mock_salesforce.protocol import header_fields
from mock_salesforce.state import MockState

CHAT = b"/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
BODY = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()


class Transport(asyncio.Transport):
    """Collects what is written; remembers whether it was closed, half-closed or paused."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = self.eof_written = self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_written = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

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


def door_for(
    config: MockConfig | None = None, outbox: Outbox | None = None
) -> tuple[FrontDoor, Transport, Fallback]:
    state = MockState(
        config or MockConfig(require_auth=False, strict_headers=False, seed=2),
        clock=lambda: 5.0,
        wall_clock=lambda: 1_700_000_000.0,
    )
    fallback = Fallback()
    date = HttpDate(lambda: 1_700_000_000.0)
    door = FrontDoor(state, lambda: fallback, date, set(), outbox=outbox)
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


@pytest.mark.parametrize("latency_ms", [0.0, 12.3456])
@pytest.mark.parametrize("shape, fault", [(None, None), ("official", None), (None, "500")])
@pytest.mark.parametrize("close", [False, True])
def test_an_exchange_head_from_its_lines_is_the_head_of_its_headers(
    latency_ms: float, shape: str | None, fault: str | None, close: bool
) -> None:
    state = MockState(MockConfig(seed=1), clock=lambda: 5.0, wall_clock=lambda: 1.7e9)
    exchange = Exchange(state, "chat-generations", "m")
    exchange.latency_ms, exchange.shape, exchange.fault = latency_ms, shape, fault
    lines = exchange.header_lines()
    assert head_of(200, lines, 7, "d", close=close) == response_head(
        200, exchange.headers(), 7, "d", close=close
    )


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


async def test_the_journal_numbers_each_connection_so_a_recycled_port_is_a_new_one() -> None:
    # review7 B11: the peer is 127.0.0.1:5000 on both connections, as a recycled port would be.
    door, _, _ = door_for()
    again = FrontDoor(door.state, Fallback, HttpDate(lambda: 1_700_000_000.0), set())
    again.connection_made(Transport())
    door.data_received(post(CHAT) + post(CHAT))
    again.data_received(post(CHAT))
    first, second, third = (e["client"] for e in door.state.journal.since(0))
    assert first == second != third
    assert all(re.fullmatch(r"127\.0\.0\.1:5000#\d+", c) for c in (first, third))


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


def chunked(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\n" % (path, extra)
    return head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


async def test_a_chunked_models_request_is_served_here() -> None:
    door, transport, fallback = door_for()
    door.data_received(chunked(CHAT, BODY))
    ((status, body),) = replies(transport.written)
    assert status == b"HTTP/1.1 200 OK" and "generationDetails" in json.loads(body)
    assert fallback.transport is None


async def test_another_chunked_body_is_handed_over_whole_with_its_length() -> None:
    door, _, fallback = door_for()
    door.data_received(chunked(b"/__admin/config", b'{"seed": 3}', b"Expect: nothing\r\n"[:0]))
    assert bytes(fallback.received) == (
        b'POST /__admin/config HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{"seed": 3}'
    )


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def test_expect_continue_is_answered_here_when_nothing_is_owed_before_it() -> None:
    door, transport, fallback = door_for()
    door.data_received(chunked(CHAT, BODY, b"Expect: 100-continue\r\n"))
    assert transport.written.startswith(CONTINUE) and fallback.transport is None
    ((status, _),) = replies(transport.written[len(CONTINUE) :])
    assert status == b"HTTP/1.1 200 OK"


async def test_a_broken_chunk_after_a_continue_is_refused() -> None:
    door, transport, _ = door_for()
    broken = chunked(CHAT, b"hello", b"Expect: 100-continue\r\n").replace(b"0\r\n\r\n", b"ZZ\r\n")
    door.data_received(broken)
    assert transport.written.startswith(CONTINUE)
    transport.written = transport.written[len(CONTINUE) :]
    assert refusal(transport)[0] == 400


async def test_an_expect_behind_an_owed_reply_is_left_to_aiohttp() -> None:
    door, transport, fallback = door_for()
    door.data_received(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n\r\n")
    request = chunked(CHAT, b"hello", b"Expect: 100-continue\r\n")
    door.data_received(request)
    assert bytes(fallback.received).endswith(request)  # aiohttp sends its interim 100 in turn
    assert not transport.written


async def test_connection_close_closes_after_the_reply() -> None:
    door, transport, _ = door_for()
    door.data_received(post(CHAT, extra=b"Connection: close\r\n"))
    assert transport.closed
    assert b"Connection: close\r\n" in transport.written


async def test_with_an_outbox_replies_leave_together_when_the_loops_turn_ends() -> None:
    outbox = Outbox(asyncio.get_running_loop())
    (one, one_transport, _), (two, two_transport, _) = (
        door_for(outbox=outbox),
        door_for(outbox=outbox),
    )
    one.data_received(post(CHAT) + post(CHAT))
    two.data_received(post(CHAT))
    assert not one_transport.written and not two_transport.written and len(outbox) == 3
    await asyncio.sleep(0)
    assert [status for status, _ in replies(one_transport.written)] == [b"HTTP/1.1 200 OK"] * 2
    assert [status for status, _ in replies(two_transport.written)] == [b"HTTP/1.1 200 OK"]


async def test_with_an_outbox_a_close_or_a_handover_never_overtakes_a_kept_reply() -> None:
    outbox = Outbox(asyncio.get_running_loop())
    door, transport, _ = door_for(outbox=outbox)
    door.data_received(post(CHAT) + post(CHAT, extra=b"Connection: close\r\n"))
    assert transport.closed and len(replies(transport.written)) == 2  # in order, then closed
    door, transport, fallback = door_for(outbox=outbox)
    admin = b"GET /__admin/counters HTTP/1.1\r\nHost: x\r\n\r\n"
    door.data_received(post(CHAT) + admin)
    assert bytes(fallback.received) == admin  # (aiohttp may answer within the read)
    assert [status for status, _ in replies(transport.written)] == [b"HTTP/1.1 200 OK"]


async def test_with_an_outbox_a_client_that_half_closes_after_its_request_gets_the_reply() -> None:
    door, transport, _ = door_for(outbox=Outbox(asyncio.get_running_loop()))
    door.data_received(post(CHAT))
    door.eof_received()  # then the transport closes (its buffer is still sent)
    assert [status for status, _ in replies(transport.written)] == [b"HTTP/1.1 200 OK"]


async def test_with_an_outbox_a_refusal_comes_after_the_reply_kept_before_it() -> None:
    door, transport, _ = door_for(outbox=Outbox(asyncio.get_running_loop()))
    door.data_received(post(CHAT) + b"POST " + CHAT + b" HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    statuses = [status for status, _ in replies(transport.written)]
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad Request"]


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


def refusal(transport: Transport) -> tuple[int, dict[str, str]]:
    """The status and JSON error of the one reply written, after checking it closes."""
    ((status_line, body),) = replies(transport.written)
    assert b"Connection: close\r\n" in transport.written and transport.eof_written
    document = json.loads(body)
    assert set(document) == {"errorCode", "messageCode", "message"}
    return int(status_line.split()[1]), document


def head(lines: bytes, path: bytes = b"/") -> bytes:
    return b"GET %s HTTP/1.1\r\n%s\r\n" % (path, lines)


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (head(b"Host: x\r\n", b"/" + b"a" * 8190), 414),
        (head(b"Host: x\r\nX: " + b"a" * 8190 + b"\r\n"), 431),
        (head(b"Host: x\r\n" + b"".join(b"X%d: 1\r\n" % i for i in range(128))), 431),
        (head(b""), 400),
        (head(b"Host: x\r\nHost: y\r\n"), 400),
        (head(b"Host: x\r\nContent-Type: a\r\ncontent-type: b\r\n"), 400),
        (head(b"Host: x\r\nTransfer-Encoding: xchunked\r\n"), 400),
        (head(b"Host: x\r\nTransfer-Encoding: gzip, chunked\r\n"), 400),
        (head(b"Host: x\r\nSec-WebSocket-Key1: 1\r\n"), 400),
        (chunked(CHAT, b"hello").replace(b"0\r\n\r\n", b"ZZ\r\n"), 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01", 400),
    ],
)
async def test_a_request_aiohttp_would_refuse_gets_a_json_error_and_is_journaled(
    request_bytes: bytes, status: int
) -> None:
    door, transport, fallback = door_for()
    door.data_received(request_bytes)
    assert refusal(transport)[0] == status
    (entry,) = door.state.journal.since(0)
    assert (entry["endpoint"], entry["status"]) == ("other", status)
    assert door.state.counters.requests == 1 and fallback.transport is None


async def test_a_url_or_header_at_the_limit_is_accepted() -> None:
    door, transport, _ = door_for()
    door.data_received(head(b"Host: x\r\nX: " + b"a" * 8189 + b"\r\n", b"/" + b"a" * 8189))
    assert not transport.written  # handed to aiohttp: an unknown path


async def test_http_1_0_needs_no_host() -> None:
    door, transport, _ = door_for()
    door.data_received(post(CHAT).replace(b"HTTP/1.1\r\nHost: x\r\n", b"HTTP/1.0\r\n"))
    assert replies(transport.written)[0][0] == b"HTTP/1.1 200 OK"


async def test_a_refusal_comes_after_the_replies_owed_before_it() -> None:
    door, transport, _ = door_for()
    door.data_received(post(CHAT) + head(b""))
    (ok, _), (refused, _) = replies(transport.written)
    assert ok == b"HTTP/1.1 200 OK" and refused == b"HTTP/1.1 400 Bad Request"
    assert [e["status"] for e in door.state.journal.since(0)] == [200, 400]


async def test_after_a_refusal_nothing_more_is_parsed() -> None:
    door, transport, _ = door_for()
    door.data_received(head(b"") + post(CHAT))
    door.data_received(post(CHAT))
    assert refusal(transport)[0] == 400 and door.state.counters.requests == 1


async def test_a_head_over_the_limit_is_refused_while_it_arrives() -> None:
    door, transport, _ = door_for()
    door.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n")
    sent = 0
    while not transport.written:
        door.data_received(b"X%d: %s\r\n" % (sent, b"v" * 8000))
        sent += 1
    status, document = refusal(transport)
    assert status == 431 and "head" in document["message"]
    assert 32_768 < sent * 8000 <= 32_768 + 2 * 8000  # the read it began in is not counted


async def test_an_upgrade_hands_its_body_to_aiohttp_unparsed() -> None:
    door, transport, fallback = door_for()
    smuggled = b"POST /__admin/reset HTTP/1.1\r\nHost: x\r\n\r\n"
    extra = b"Connection: Upgrade\r\nUpgrade: h2c\r\n"
    door.data_received(post(CHAT, smuggled, extra))
    assert bytes(fallback.received) == post(CHAT, smuggled, extra)
    assert not transport.written and door.state.counters.requests == 0


async def test_a_refused_grant_is_journaled_with_the_mocks_reason() -> None:
    door, _, _ = door_for()
    form = b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z"
    door.data_received(post(b"/services/oauth2/token", form,
                            b"Content-Type: application/x-www-form-urlencoded\r\n"))  # fmt: skip
    await asyncio.sleep(0)  # an answer that waits for its latency goes out in a task
    (entry,) = door.state.journal.since(0)
    assert (entry["endpoint"], entry["status"]) == ("token", 400)
    assert entry["error"] == "invalid_grant: invalid assertion"


async def test_a_refused_request_is_journaled_with_the_error_it_got() -> None:
    door, _, _ = door_for()
    door.data_received(head(b""))  # no Host
    (entry,) = door.state.journal.since(0)
    assert entry["error"] is not None and entry["error"].startswith("BAD_REQUEST: ")


def test_the_journals_client_names_the_connection_a_request_came_on() -> None:
    assert peer_of(("127.0.0.1", 40123)) == "127.0.0.1:40123"
    assert peer_of(("::1", 40123, 0, 0)) == "[::1]:40123"
    assert peer_of(None) is None and peer_of("/tmp/mock.sock") is None


def test_a_heads_fields_are_by_lower_case_name_the_first_of_a_repeated_one() -> None:
    raw = [(b"Authorization", b"Bearer a"), (b"X-Caf\xe9", b"cr\xe8me"), (b"authorization", b"b")]
    assert header_fields(raw) == {"authorization": "Bearer a", "x-caf\xe9": "cr\xe8me"}


def test_the_handlers_ask_for_a_requests_headers_by_lower_case_name() -> None:
    # The front door's are a dict by lower-case name: "Authorization" would find nothing there.
    asked = re.compile(r"""headers\.get\(\s*["'][^"']*[A-Z]""")
    package = Path(mock_salesforce.__file__).parent
    for module in ("app", "delivery", "exchange", "frontdoor", "protocol", "validation"):
        assert not asked.search((package / f"{module}.py").read_text()), module
