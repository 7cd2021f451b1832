"""The admin API, and counters that add up exactly under concurrent load."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mock_salesforce.app import create_app
from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.replies import expected_reply

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]
CHAT = "/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
EMBED = "/einstein/platform/v1/models/sfdc_ai__DefaultOpenAITextEmbeddingAda_002/embeddings"
OPEN = MockConfig(require_auth=False, strict_headers=False, embedding_dims=4)
JSON_TYPE = {"Content-Type": "application/json"}


def body(index: int) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": f"question {index}"}]}


async def test_config_is_read_and_patched_at_runtime_without_restart(
    aiohttp_client: MakeClient,
) -> None:
    client = await aiohttp_client(create_app(OPEN))
    assert (await (await client.get("/__admin/config")).json())["faults"] == []
    patched = await client.patch("/__admin/config", json={"faults": ["503:every=1"]})
    assert patched.status == 200
    assert (await client.post(CHAT, json=body(1))).status == 503
    await client.patch("/__admin/config", json={"faults": [], "latency": {"*": "fixed:5ms"}})
    response = await client.post(CHAT, json=body(1))
    assert response.status == 200 and response.headers["x-sfperf-latency-ms"] == "5.000"


async def test_a_bad_patch_is_400_and_changes_nothing(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(OPEN))
    before = await (await client.get("/__admin/config")).json()
    for patch in ({"latency": {"*": "nonsense"}}, {"nope": 1}, [1, 2]):
        response = await client.patch("/__admin/config", json=patch)
        assert response.status == 400 and "error" in await response.json()
    malformed = await client.patch("/__admin/config", data=b"{", headers=JSON_TYPE)
    assert malformed.status == 400
    assert await (await client.get("/__admin/config")).json() == before


async def test_quotas_and_the_mix_can_be_changed_at_runtime(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(OPEN))
    await client.patch(
        "/__admin/config",
        json={"quotas_rpm": {"chat-generations": 1},
              "mix": {"chat-generations": {"variant-top-text": 1}}},
    )  # fmt: skip
    first = await client.post(CHAT, json=body(1))
    assert first.headers["x-sfperf-shape"] == "variant-top-text"
    assert (await client.post(CHAT, json=body(1))).status == 429


async def test_expected_answers_what_the_mock_sends(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(OPEN.patched({"seed": 11})))
    response = await client.post(CHAT, json=body(3))
    sent = (await response.json())["generationDetails"]["generations"][0]["content"]
    expected = await (
        await client.post("/__admin/expected", json={"endpoint": "chat-generations",
                                                     "body": body(3)})
    ).json()  # fmt: skip
    assert expected["text"] == sent == expected_reply(11, "chat-generations", body(3)).text
    assert expected["shape"] == response.headers["x-sfperf-shape"]
    bad = await client.post("/__admin/expected", json={"endpoint": "x", "body": {}})
    assert bad.status == 400


async def test_reset_zeroes_counters_and_empties_the_journal(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(OPEN))
    await client.post(CHAT, json=body(1))
    assert (await client.post("/__admin/reset", headers=JSON_TYPE)).status == 200
    counters = await (await client.get("/__admin/counters")).json()
    journal = await (await client.get("/__admin/journal")).json()
    assert counters["requests"] == 0 and journal["entries"] == []


async def test_admin_can_require_a_token_or_be_disabled(aiohttp_client: MakeClient) -> None:
    guarded = await aiohttp_client(create_app(OPEN.patched({"admin_token": "s3cret"})))
    assert (await guarded.get("/__admin/counters")).status == 401
    ok = await guarded.get("/__admin/counters", headers={"Authorization": "Bearer s3cret"})
    assert ok.status == 200
    disabled = await aiohttp_client(create_app(OPEN.patched({"admin_enabled": False})))
    assert (await disabled.get("/__admin/health")).status == 404


async def test_admin_routes_answer_405_to_other_methods(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(OPEN))
    response = await client.post("/__admin/health")
    assert response.status == 405 and response.headers["Allow"] == "GET"
    bad_since = await client.get("/__admin/journal?since=x")
    assert bad_since.status == 400


async def test_counters_add_up_exactly_to_what_was_sent_concurrently(
    aiohttp_client: MakeClient,
) -> None:
    config = OPEN.patched({"faults": ["500:every=4,endpoint=chat-generations"],
                           "latency": {"*": "uniform:0ms..3ms"}, "journal_size": 1000})  # fmt: skip
    client = await aiohttp_client(create_app(config))

    async def chat(index: int) -> int:
        return (await client.post(CHAT, json=body(index))).status

    async def embed(index: int) -> int:
        return (await client.post(EMBED, json={"input": [str(index)]})).status

    async def bad(index: int) -> int:
        return (await client.post(CHAT, data=b"{")).status

    jobs = (
        [chat(i) for i in range(200)] + [embed(i) for i in range(60)] + [bad(i) for i in range(40)]
    )
    statuses = await asyncio.gather(*jobs)
    counters = await (await client.get("/__admin/counters")).json()
    assert counters["requests"] == 300
    assert counters["by_endpoint"] == {"chat-generations": 240, "embeddings": 60}
    assert counters["by_status"] == {"200": 210, "400": 40, "500": 50}
    assert sorted(statuses).count(500) == 50
    assert counters["by_fault"] == {"500": 50}
    assert sum(counters["by_shape"].values()) == 210
    journal = await (await client.get("/__admin/journal")).json()
    assert sorted(e["seq"] for e in journal["entries"]) == list(range(1, 301))


async def test_a_config_patch_keeps_fault_schedules_and_request_ids_running(
    aiohttp_client: MakeClient,
) -> None:
    client = await aiohttp_client(create_app(OPEN))
    await client.patch("/__admin/config", json={"faults": ["429:first=1"]})
    first = await client.post(CHAT, json=body(1))
    await client.patch("/__admin/config", json={"latency": {"*": "fixed:1ms"}})
    second = await client.post(CHAT, json=body(1))
    assert (first.status, second.status) == (429, 200)
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    journal = await (await client.get("/__admin/journal")).json()
    assert len({entry["request_id"] for entry in journal["entries"]}) == 2


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"latency": {"chat": "fixed:1ms"}}, "unknown latency selector 'chat'"),
        ({"latency": {"embeddings": "fixed:1ms,per_token=2ms"}}, "no output tokens"),
        ({"quotas_rpm": {"token": 5}}, "token endpoint is not supported"),
        ({"faults": ["500:endpoint=chats"]}, "unknown endpoint 'chats'"),
    ],
)
async def test_a_patch_that_cannot_apply_is_a_400_saying_why(
    aiohttp_client: MakeClient, patch: dict[str, object], message: str
) -> None:
    client = await aiohttp_client(create_app(OPEN))
    response = await client.patch("/__admin/config", json=patch)
    assert response.status == 400 and message in (await response.json())["error"]


async def test_a_patched_latency_without_selector_replaces_the_profiles_and_shows_as_effective(
    aiohttp_client: MakeClient,
) -> None:
    profile = load_profile("default").patched({"require_auth": False, "strict_headers": False})
    client = await aiohttp_client(create_app(profile))
    patch = {"latency": {"*": "fixed:0ms", "embeddings": "fixed:3ms"}}
    effective = (await (await client.patch("/__admin/config", json=patch)).json())["effective"]
    assert effective["chat-generations"]["latency"] == "fixed:0ms"
    assert effective["embeddings"] == {
        "latency": "fixed:3ms", "latency_by_model": {}, "faults": [], "quota_rpm": None,
    }  # fmt: skip
    response = await client.post(CHAT, json=body(1))
    assert response.headers["x-sfperf-latency-ms"] == "0.000"


async def test_the_config_never_shows_a_secret(aiohttp_client: MakeClient) -> None:
    config = OPEN.patched({"credentials": ["my-id", "hunter2"], "admin_token": "s3cret"})
    client = await aiohttp_client(create_app(config))
    token = {"Authorization": "Bearer s3cret"}
    read = await (await client.get("/__admin/config", headers=token)).json()
    assert read["credentials"] == ["my-id", "<redacted>"] and read["admin_token"] == "<redacted>"
    secrets = {"credentials": read["credentials"], "admin_token": read["admin_token"]}
    echoed = await client.patch("/__admin/config", json={**secrets, "seed": 5}, headers=token)
    assert echoed.status == 200 and "hunter2" not in await echoed.text()
    assert (await client.get("/__admin/counters", headers=token)).status == 200  # token kept
    other_id = {"credentials": ["other-id", "<redacted>"]}
    assert (await client.patch("/__admin/config", json=other_id, headers=token)).status == 400


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Content-Type": "text/plain"}, 415),
        ({}, 415),
        ({**JSON_TYPE, "Host": "evil.example:80"}, 403),
        ({**JSON_TYPE, "Origin": "http://evil.example"}, 403),
        ({**JSON_TYPE, "Origin": "null"}, 403),
        ({**JSON_TYPE, "Origin": "http://localhost:5173"}, 200),
        ({**JSON_TYPE, "Host": "10.1.2.3:8080"}, 200),
        ({**JSON_TYPE, "Host": "[::1]:8080", "Origin": "http://127.0.0.1:1"}, 200),
    ],
)
async def test_a_call_that_changes_the_mock_cannot_come_from_a_web_page(
    aiohttp_client: MakeClient, headers: dict[str, str], status: int
) -> None:
    client = await aiohttp_client(create_app(OPEN))
    await client.post(CHAT, json=body(1))
    response = await client.post("/__admin/reset", data=b"", headers=headers)
    assert response.status == status
    counters = await (await client.get("/__admin/counters")).json()
    assert counters["requests"] == (0 if status == 200 else 1)


@pytest.mark.parametrize("payload", [b"[" * 5000, b'{"seed": "' + b"x" * (1 << 20) + b'"}'])
async def test_a_hostile_admin_body_is_a_400(aiohttp_client: MakeClient, payload: bytes) -> None:
    client = await aiohttp_client(create_app(OPEN))
    for method, path in (("PATCH", "/__admin/config"), ("POST", "/__admin/expected")):
        data = io.BytesIO(payload)  # (aiohttp warns of a large body given as bytes)
        response = await client.request(method, path, data=data, headers=JSON_TYPE)
        assert response.status == 400 and "error" in await response.json()
