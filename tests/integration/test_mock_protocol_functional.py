"""HTTP/1.1 on the wire, behind both fronts: every request aiohttp would refuse gets the
documented JSON error, is counted and journaled, and nothing in a body is ever run as a request."""

from __future__ import annotations

import asyncio
import json

import pytest

from mock_salesforce.config import MockConfig
from mock_salesforce.server import FRONTS, MockServer

from .mock_fronts import exchange, request

CHAT = "/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
BODY = json.dumps({"messages": [{"role": "user", "content": "a cherry pie recipe"}]}).encode()
OPEN = MockConfig(require_auth=False, strict_headers=False, header_timeout_s=0.3)
ERROR_FIELDS = {"errorCode", "messageCode", "message"}


def chunked_head(path: str, extra: str = "") -> bytes:
    return request(path, b"", extra=extra + "Transfer-Encoding: chunked\r\n", length=False)


HOSTILE = {
    "request target over 8190 bytes": request("/" + "a" * 9000, b"", method="GET"),
    "header over 8190 bytes": request(CHAT, BODY, extra=f"X: {'a' * 9000}\r\n"),
    "129 headers": request(CHAT, BODY, extra="".join(f"X{i}: 1\r\n" for i in range(129))),
    "no Host": request(CHAT, BODY).replace(b"Host: 127.0.0.1\r\n", b""),
    "two Hosts": request(CHAT, BODY, extra="Host: elsewhere\r\n"),
    "two Content-Types": request(CHAT, BODY, extra="Content-Type: a\r\ncontent-type: b\r\n"),
    "an unknown Transfer-Encoding": request(
        CHAT, b"5\r\nhello\r\n0\r\n\r\n", extra="Transfer-Encoding: xchunked\r\n", length=False
    ),
    "a broken chunk": chunked_head(CHAT) + b"5\r\nhello\r\nZZ\r\n",
    "a broken chunk after a hand-over": request("/__admin/health", b"", method="GET")
    + chunked_head(CHAT)
    + b"5\r\nhello\r\nZZ\r\n",
    "bytes that are not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
}


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("kind", HOSTILE)
async def test_a_request_aiohttp_refuses_gets_a_json_error_counted_and_journaled(
    front: str, kind: str
) -> None:
    async with MockServer(OPEN, front=front) as server:
        handed_first = kind.endswith("hand-over")
        replies, closed = await exchange(server.port, HOSTILE[kind], 2 if handed_first else 1)
        refusal = replies[-1]
        assert 400 <= refusal.status < 500 and closed
        assert set(json.loads(refusal.body)) == ERROR_FIELDS
        (entry,) = server.state.journal.since(0)
        assert entry["status"] == refusal.status
        assert server.state.counters.requests == 1


@pytest.mark.parametrize("front", FRONTS)
async def test_a_body_is_never_run_as_a_request_even_after_an_upgrade(front: str) -> None:
    smuggled = request("/__admin/reset", b"")
    upgrade = request(CHAT, smuggled, extra="Connection: Upgrade\r\nUpgrade: h2c\r\n")
    async with MockServer(OPEN, front=front) as server:
        (reply,), _ = await exchange(server.port, upgrade, 1)
        assert json.loads(reply.body)["errorCode"] == "JSON_PARSER_ERROR"  # the body, as a body
        await asyncio.sleep(0.1)
        assert server.state.counters.requests == 1  # not reset by the smuggled request


@pytest.mark.parametrize("front", FRONTS)
async def test_a_connect_gets_the_documented_not_found(front: str) -> None:
    async with MockServer(OPEN, front=front) as server:
        (reply, *_), _ = await exchange(server.port, b"CONNECT a:80 HTTP/1.1\r\nHost: a\r\n\r\n", 1)
        assert reply.status == 404 and set(json.loads(reply.body)) == ERROR_FIELDS


async def test_a_head_that_never_ends_is_refused_after_the_header_timeout() -> None:
    async with MockServer(OPEN, front="fast") as server:
        slow = request(CHAT, BODY)
        pieces = [slow[:10], slow[10:20], slow[20:30]]  # one piece every 0.2 s, never the end
        (reply,), closed = await exchange(server.port, pieces, 1, pause_s=0.2)
        assert reply.status == 408 and closed
        assert json.loads(reply.body)["errorCode"] == "REQUEST_TIMEOUT"
        assert [e["status"] for e in server.state.journal.since(0)] == [408]


async def test_a_head_arriving_slowly_but_in_time_is_served() -> None:
    async with MockServer(OPEN.patched({"header_timeout_s": 5.0}), front="fast") as server:
        slow = request(CHAT, BODY)
        (reply,), _ = await exchange(server.port, [slow[:10], slow[10:]], 1, pause_s=0.2)
        assert reply.status == 200


@pytest.mark.parametrize("front", FRONTS)
async def test_the_mock_keeps_serving_after_every_refusal(front: str) -> None:
    async with MockServer(OPEN, front=front) as server:
        for data in HOSTILE.values():
            await exchange(server.port, data, 1)
        (reply,), _ = await exchange(server.port, request(CHAT, BODY), 1)
        assert reply.status == 200


async def test_a_broken_chunk_sent_after_a_continue_gets_its_400() -> None:
    async with MockServer(OPEN, front="fast") as server:
        head = chunked_head(CHAT, extra="Expect: 100-continue\r\n")
        replies, closed = await exchange(server.port, [head, b"5\r\nhello\r\nZZ\r\n"], 2, 0.1)
        assert [reply.status for reply in replies] == [100, 400] and closed
        assert [e["status"] for e in server.state.journal.since(0)] == [400]
