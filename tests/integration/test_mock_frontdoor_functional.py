"""The front door on the wire: same replies as aiohttp, HTTP/1.1 done right, hand-over in order."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from mock_salesforce.config import MockConfig
from mock_salesforce.server import MockServer

from .mock_fronts import exchange, request

CHAT = "/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
BODY = json.dumps({"messages": [{"role": "user", "content": "a cherry pie recipe"}]}).encode()
OPEN = MockConfig(require_auth=False, strict_headers=False)
FORM = b"grant_type=client_credentials&client_id=id&client_secret=secret"


def with_latency(server: MockServer, spec: str) -> None:
    server.state.apply(server.state.config.patched({"latency": {"chat-generations": spec}}))


@pytest.fixture
async def fast() -> Any:
    async with MockServer(OPEN, front="fast") as server:
        yield server


def without_run_fields(value: Any) -> Any:
    """A JSON document without the fields that differ from run to run (ids, timestamps)."""
    if isinstance(value, dict):
        return {
            k: without_run_fields(v)
            for k, v in value.items()
            if "creat" not in k.lower() and k.lower() not in ("id", "timestamp")
        }
    if isinstance(value, list):
        return [without_run_fields(v) for v in value]
    return value


async def test_both_fronts_send_the_same_token_and_reply() -> None:
    replies = {}
    for front in ("fast", "aiohttp"):
        async with MockServer(MockConfig(seed=3, strict_headers=False), front=front) as server:
            token_request = request("/services/oauth2/token", FORM)
            (token,), _ = await exchange(server.port, token_request, 1)
            bearer = json.loads(token.body)["access_token"]
            chat = request(CHAT, BODY, extra=f"Authorization: Bearer {bearer}\r\n")
            (reply,), _ = await exchange(server.port, chat, 1)
            replies[front] = (token, reply, server.state.journal.since(0))
    (fast_token, fast_reply, fast_journal) = replies["fast"]
    (slow_token, slow_reply, slow_journal) = replies["aiohttp"]
    assert set(json.loads(fast_token.body)) == set(json.loads(slow_token.body))
    assert without_run_fields(json.loads(fast_reply.body)) == without_run_fields(
        json.loads(slow_reply.body)
    )
    assert "usage" in json.dumps(without_run_fields(json.loads(fast_reply.body)))
    for name in ("x-sfperf-shape", "x-sfperf-latency-ms", "content-type"):
        assert fast_reply.headers[name] == slow_reply.headers[name]
    kept = ("endpoint", "status", "shape", "token_status", "body_sha256", "extra_fields")
    assert [{k: e[k] for k in kept} for e in fast_journal] == [
        {k: e[k] for k in kept} for e in slow_journal
    ]
    # Both name the connection a request came on: the peer's host and its (ephemeral) port; the
    # front door numbers its connections too, so a recycled port is not the same one (B11).
    fast_clients = [e["client"] for e in fast_journal]
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+#\d+", c) for c in fast_clients), fast_clients
    slow_clients = [e["client"] for e in slow_journal]
    assert all(re.fullmatch(r"127\.0\.0\.1:\d+", c) for c in slow_clients), slow_clients


async def test_pipelined_requests_are_answered_in_order(fast: MockServer) -> None:
    with_latency(fast, "fixed:50ms")
    pipelined = (
        request(CHAT, BODY) + request("/__admin/counters", b"", method="GET") + request(CHAT, BODY)
    )
    replies, closed = await exchange(fast.port, pipelined, 3)
    assert [r.status for r in replies] == [200, 200, 200]
    assert "generationDetails" in json.loads(replies[0].body)
    assert "by_status" in json.loads(replies[1].body)  # aiohttp answered after the slow reply
    assert "generationDetails" in json.loads(replies[2].body)
    assert not closed


async def test_connection_close_is_honoured(fast: MockServer) -> None:
    replies, closed = await exchange(
        fast.port, request(CHAT, BODY, extra="Connection: close\r\n"), 1
    )
    assert replies[0].status == 200 and replies[0].headers["connection"] == "close"
    assert closed


async def test_a_chunked_body_is_handed_to_aiohttp_and_read_whole(fast: MockServer) -> None:
    chunked = request(CHAT, b"", extra="Transfer-Encoding: chunked\r\n", length=False)
    pieces = [chunked, b"%x\r\n%s\r\n" % (len(BODY[:10]), BODY[:10])]
    pieces.append(b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY[10:]), BODY[10:]))
    (reply,), _ = await exchange(fast.port, pieces, 1, pause_s=0.05)
    assert reply.status == 200
    assert "generationDetails" in json.loads(reply.body)


async def test_expect_100_continue_gets_its_interim_reply(fast: MockServer) -> None:
    head = request(CHAT, b"", extra="Expect: 100-continue\r\n", length=False)
    head = head[:-2] + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    replies, _ = await exchange(fast.port, [head, BODY], 2, pause_s=0.05)
    assert [r.status for r in replies] == [100, 200]


async def test_bytes_that_are_not_http_get_a_400_and_the_connection_closes(
    fast: MockServer,
) -> None:
    replies, closed = await exchange(fast.port, b"NOT HTTP AT ALL\r\n\r\n", 1)
    assert replies[0].status == 400 and closed


async def test_a_request_after_a_hand_over_is_still_served(fast: MockServer) -> None:
    sequence = [request("/__admin/counters", b"", method="GET"), request(CHAT, BODY)]
    replies, _ = await exchange(fast.port, sequence, 2, pause_s=0.05)
    assert [r.status for r in replies] == [200, 200]
    entries = fast.state.journal.since(0)
    assert [e["endpoint"] for e in entries] == ["chat-generations"]


async def test_a_client_leaving_during_injected_latency_is_journaled(fast: MockServer) -> None:
    with_latency(fast, "fixed:300ms")
    _reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    writer.write(request(CHAT, BODY))
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    for _ in range(50):
        if fast.state.journal.since(0):
            break
        await asyncio.sleep(0.02)
    (entry,) = fast.state.journal.since(0)
    assert entry["disconnected"] is True


@pytest.mark.parametrize("front", ["fast", "aiohttp"])
async def test_an_idle_connection_is_closed_after_the_keepalive_time(front: str) -> None:
    async with MockServer(OPEN, front=front, keepalive_s=0.3) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(request(CHAT, BODY))
            await writer.drain()
            assert (await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)).startswith(
                b"HTTP/1.1 200"
            )
            rest = await asyncio.wait_for(reader.read(), 5)  # to EOF: closed while idle
            assert rest.endswith(b"}")
        finally:
            writer.close()
