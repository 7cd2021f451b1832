"""Injected faults as a client meets them on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest

from mock_salesforce.config import MockConfig
from mock_salesforce.server import MockServer
from tests.integration.conftest import MakeMock
from tests.integration.mock_fronts import UrlClient

CHAT = "/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
BODY = {"messages": [{"role": "user", "content": "hello"}]}
OPEN = MockConfig(require_auth=False, strict_headers=False)


async def with_fault(mock_client: MakeMock, spec: str) -> UrlClient:
    config = OPEN.patched({"faults": [spec]})
    return await mock_client(config)


async def last_entry(client: UrlClient) -> dict[str, object]:
    entries = (await (await client.get("/__admin/journal")).json())["entries"]
    return dict(entries[-1])


@pytest.mark.parametrize("status", [401, 404, 423, 500, 503])
async def test_status_faults_send_the_documented_error_object(
    mock_client: MakeMock, status: int
) -> None:
    client = await with_fault(mock_client, f"{status}:every=1")
    response = await client.post(CHAT, json=BODY)
    document = await response.json()
    assert response.status == status
    assert set(document) == {"errorCode", "messageCode", "message"}
    assert response.headers["x-sfperf-fault"] == str(status)
    assert "x-sfperf-shape" not in response.headers


async def test_a_429_fault_carries_retry_after_and_is_journaled(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "429:every=1,retry_after=2")
    response = await client.post(CHAT, json=BODY)
    assert response.status == 429
    assert response.headers["Retry-After"] == "2"
    assert (await response.json())["errorCode"] == "LIMIT_EXCEEDED"
    entry = await last_entry(client)
    assert (entry["fault"], entry["retry_after_s"], entry["status"]) == ("429", 2.0, 429)
    assert entry["reply_sha256"] is None  # the reply was made, but never sent


async def test_faults_follow_their_schedule(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "500:every=3")
    statuses = [(await client.post(CHAT, json=BODY)).status for _ in range(6)]
    assert statuses == [200, 200, 500, 200, 200, 500]


async def test_a_reset_fault_resets_the_connection(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "reset:every=1")
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.post(CHAT, json=BODY)
    entry = await last_entry(client)
    assert (entry["fault"], entry["status"]) == ("reset", 0)
    assert entry["reply_sha256"] is None and entry["completion_tokens"] is None


async def test_an_empty_reply_fault_closes_without_a_byte(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "empty:every=1")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post(CHAT, json=BODY)


async def test_a_hang_fault_sends_nothing_until_it_gives_up(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "hang:every=1,duration=200ms")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post(CHAT, json=BODY)
    entry = await last_entry(client)
    assert entry["fault"] == "hang"
    assert isinstance(entry["duration_s"], float) and entry["duration_s"] >= 0.2


async def test_a_hang_ends_when_the_client_gives_up(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "hang:first=1")
    async with aiohttp.ClientSession() as impatient:  # closing it closes the connection
        with pytest.raises(TimeoutError):
            await impatient.post(
                client.make_url(CHAT), json=BODY, timeout=aiohttp.ClientTimeout(total=0.2)
            )
    assert (await client.post(CHAT, json=BODY)).status == 200
    for _ in range(100):  # the hang notices the client left within one poll (50 ms)
        counters = await (await client.get("/__admin/counters")).json()
        if counters["by_fault"]:
            break
        await asyncio.sleep(0.02)
    assert counters["by_fault"] == {"hang": 1}
    assert counters["disconnects"] == 1


async def test_a_truncated_fault_cuts_the_body_short(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "truncated:every=1")
    response = await client.post(CHAT, json=BODY)
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()


async def test_a_malformed_fault_sends_broken_json(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "malformed:every=1")
    response = await client.post(CHAT, json=BODY)
    assert response.status == 200 and response.headers["x-sfperf-fault"] == "malformed"
    with pytest.raises(json.JSONDecodeError):
        json.loads(await response.read())


async def test_a_dribble_fault_sends_the_whole_body_slowly(mock_client: MakeMock) -> None:
    client = await with_fault(mock_client, "dribble:every=1,rate=20000")
    response = await client.post(CHAT, json=BODY)
    document = json.loads(await response.read())
    assert document["generationDetails"]["generations"][0]["content"]
    entry = await last_entry(client)
    assert entry["fault"] == "dribble"
    assert isinstance(entry["duration_s"], float) and entry["duration_s"] > 0.02


async def test_the_server_keeps_serving_after_every_kind_of_fault(
    mock_client: MakeMock,
) -> None:
    kinds = ["reset", "empty", "truncated", "malformed", "500", "hang:duration=10ms"]
    config = OPEN.patched({"faults": [f"{k}{',' if ':' in k else ':'}first=1" for k in kinds]})
    client = await mock_client(config)
    outcomes = []
    for _ in range(3):
        try:
            response = await client.post(CHAT, json=BODY)
            outcomes.append(response.status)
            await response.read()
        except aiohttp.ClientError:
            outcomes.append(-1)
    assert (await client.post(CHAT, json=BODY)).status == 200
    assert len(outcomes) == 3


@pytest.mark.parametrize(
    ("spec", "gives_up"),
    [("dribble:every=1,rate=200", True), ("dribble:every=1,rate=100000", False),
     ("hang:every=1,duration=2s", True), ("hang:every=1,duration=0.1s", False)],
)  # fmt: skip
async def test_the_journal_says_whether_the_client_left_during_the_fault(
    spec: str, gives_up: bool
) -> None:
    # A real server: like production, it does not cancel handlers when the client leaves.
    async with MockServer(OPEN.patched({"faults": [spec]})) as server:
        async with aiohttp.ClientSession() as client:
            with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                timeout = aiohttp.ClientTimeout(total=0.3 if gives_up else 5)
                response = await client.post(server.url + CHAT, json=BODY, timeout=timeout)
                await response.read()
        for _ in range(100):  # the handler notices within one dribble chunk or hang poll
            if server.state.journal.since(0):
                break
            await asyncio.sleep(0.02)
        (entry,) = server.state.journal.since(0)
    assert entry["fault"] == spec.split(":")[0]
    assert entry["disconnected"] is gives_up


async def test_a_client_that_leaves_with_a_dribbled_body_whole_did_not_give_up() -> None:
    # 20 ms between 16-byte chunks: the client has the last chunk and closes at once, while a
    # pause after the last chunk (there was one) would still be running.
    config = OPEN.patched({"faults": ["dribble:every=1,rate=800"], "reply_lengths": "fixed:1"})
    async with MockServer(config) as server:
        async with aiohttp.ClientSession() as client:
            response = await client.post(server.url + CHAT, json=BODY)
            body = await response.read()
        for _ in range(100):
            if server.state.journal.since(0):
                break
            await asyncio.sleep(0.02)
        (entry,) = server.state.journal.since(0)
    assert response.status == 200 and json.loads(body)
    assert entry["fault"] == "dribble" and entry["disconnected"] is False
