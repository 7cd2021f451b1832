"""mock_salesforce.testing: aiohttp clients calling Salesforce URLs get the mock's real replies."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from mock_salesforce.admin_client import AdminClient
from mock_salesforce.testing import CompatClientResponse, salesforce_responses

MODEL = "sfdc_ai__DefaultGPT4Omni"
FORM = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
CHAT = {"messages": [{"role": "user", "content": "Can you give me a recipe for cherry pie?"}]}
REQUIRED = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


async def token(session: aiohttp.ClientSession, host: str = "acme.my.salesforce.com") -> Any:
    async with session.post(f"https://{host}/services/oauth2/token", data=FORM) as reply:
        assert reply.status == 200
        return await reply.json()


async def counted_faults(admin: AdminClient, wait_s: float = 5.0) -> dict[str, int]:
    """The mock's fault counters, once it has finished the request (a hang ends after the
    client leaves, when the mock next looks)."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while (
        not (faults := admin.counters()["by_fault"])
        and asyncio.get_running_loop().time() < deadline
    ):
        await asyncio.sleep(0.02)
    return dict(faults)


def chat_url(base: str = "https://api.salesforce.com") -> str:
    return f"{base}/einstein/platform/v1/models/{MODEL}/chat-generations"


async def test_the_token_reply_names_salesforce_hosts_not_the_mock() -> None:
    with salesforce_responses():
        async with aiohttp.ClientSession() as session:
            document = await token(session)
    assert document["instance_url"] == "https://acme.my.salesforce.com"
    assert document["api_instance_url"] == "https://api.salesforce.com"
    assert document["id"].startswith("https://acme.my.salesforce.com/id/")
    assert "expires_in" not in document


async def test_a_chat_call_gets_the_reply_the_mock_says_it_sends() -> None:
    with salesforce_responses(seed=4) as sf:
        async with aiohttp.ClientSession(headers=REQUIRED) as session:
            bearer = {"Authorization": f"Bearer {(await token(session))['access_token']}"}
            async with session.post(chat_url(), json=CHAT, headers=bearer) as reply:
                status, shape, body = (
                    reply.status,
                    reply.headers["x-sfperf-shape"],
                    await reply.json(),
                )
        expected = sf.admin.expected("chat-generations", CHAT)
        counters = sf.admin.counters()
    assert (status, shape) == (200, "official-chat-generations")
    assert body["generationDetails"]["generations"][0]["content"] == expected["text"]
    assert counters["by_endpoint"] == {"token": 1, "chat-generations": 1}


async def test_checks_run_as_in_the_real_api() -> None:
    with salesforce_responses():
        async with aiohttp.ClientSession() as session:
            bearer = {"Authorization": f"Bearer {(await token(session))['access_token']}"}
            async with session.post(chat_url(), json=CHAT, headers=bearer) as reply:
                missing_headers = (reply.status, (await reply.json())["errorCode"])
            async with session.post(chat_url(), json=CHAT, headers=REQUIRED) as reply:
                no_bearer = reply.status
    assert missing_headers[0] == 400 and missing_headers[1]
    assert no_bearer == 401


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("reset", aiohttp.ClientOSError),
        ("empty", aiohttp.ServerDisconnectedError),
        ("truncated", aiohttp.ClientPayloadError),
        ("hang:duration=5s", aiohttp.ServerTimeoutError),
    ],
)
async def test_wire_faults_raise_what_aiohttp_raises_for_them(
    fault: str, error: type[Exception]
) -> None:
    timeout = aiohttp.ClientTimeout(total=0.3)
    spec = fault + ("," if ":" in fault else ":") + "endpoint=chat-generations"
    with salesforce_responses(faults=[spec]) as sf:
        async with aiohttp.ClientSession(headers=REQUIRED) as session:
            bearer = {"Authorization": f"Bearer {(await token(session))['access_token']}"}
            with pytest.raises(error):
                await session.post(chat_url(), json=CHAT, headers=bearer, timeout=timeout)
        faults = await counted_faults(sf.admin)
    assert faults == {fault.partition(":")[0]: 1}


async def test_a_429_fault_arrives_with_its_retry_after_and_error_object() -> None:
    with salesforce_responses(faults=["429:first=1,retry_after=3"]):
        async with aiohttp.ClientSession(headers=REQUIRED) as session:
            bearer = {"Authorization": f"Bearer {(await token(session))['access_token']}"}
            async with session.post(chat_url(), json=CHAT, headers=bearer) as first:
                limited = (first.status, first.headers["Retry-After"], await first.json())
            async with session.post(chat_url(), json=CHAT, headers=bearer) as second:
                retried = second.status
    assert limited[:2] == (429, "3")
    assert limited[2]["errorCode"] == "LIMIT_EXCEEDED"
    assert retried == 200


async def test_other_urls_stay_with_the_callers_aioresponses() -> None:
    with aioresponses() as responses, salesforce_responses(responses=responses) as sf:
        sf.responses.get(
            "https://example.com/health", payload={"ok": True}, response_class=CompatClientResponse
        )
        async with aiohttp.ClientSession() as session:
            async with session.get("https://example.com/health") as reply:
                other = await reply.json()
            document = await token(session, host="api.salesforce.com")
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get("https://login.example.org/")
    assert other == {"ok": True}
    assert document["instance_url"] == "https://sfperf-test.my.salesforce.com"
