"""The mock app on a real loopback server: every endpoint, every documented error, the headers."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from typing import Any

import pytest

from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.journal import text_sha256
from mock_salesforce.replies import expected_reply
from mock_salesforce.token_counts import count_tokens
from tests.integration.conftest import MakeMock
from tests.integration.mock_fronts import UrlClient

API = "/einstein/platform/v1"
CHAT = f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
GEN = f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/generations"
EMBED = f"{API}/models/sfdc_ai__DefaultOpenAITextEmbeddingAda_002/embeddings"
FEEDBACK = f"{API}/feedback"
FORM = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
CHAT_BODY = {"messages": [{"role": "user", "content": "a cherry pie recipe"}], "temperature": 0}


async def start(mock_client: MakeMock, config: MockConfig | None = None) -> UrlClient:
    return await mock_client(config or load_profile("fast"))


async def auth_headers(client: UrlClient) -> dict[str, str]:
    response = await client.post("/services/oauth2/token", data=FORM)
    token = (await response.json())["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "x-sfdc-app-context": "EinsteinGPT",
        "x-client-feature-id": "ai-platform-models-connected-app",
    }


async def error_of(response: Any) -> dict[str, Any]:
    document = await response.json()
    assert set(document) == {"errorCode", "messageCode", "message"}
    return dict(document)


async def test_client_credentials_sent_as_http_basic_get_a_token_and_wrong_ones_do_not(
    mock_client: MakeMock,
) -> None:
    # client_secret_basic (RFC 6749 2.3.1), authlib's and requests-oauthlib's default (R114):
    # each part form-urlencoded, then base64.
    config = dataclasses.replace(load_profile("fast"), credentials=("my id", "s3cr:et"))
    client = await start(mock_client, config)
    grant = {"grant_type": "client_credentials"}

    def basic(pair: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    good = await client.post("/services/oauth2/token", data=grant, headers=basic("my+id:s3cr%3Aet"))
    assert good.status == 200 and (await good.json())["token_type"] == "Bearer"
    wrong = await client.post("/services/oauth2/token", data=grant, headers=basic("my+id:nope"))
    assert wrong.status == 401 and (await wrong.json())["error"] == "invalid_client"
    garbled = await client.post(
        "/services/oauth2/token", data=grant, headers={"Authorization": "Basic %%%"}
    )
    assert garbled.status == 400 and (await garbled.json())["error"] == "invalid_request"


async def test_token_endpoint_returns_the_real_field_set_with_its_own_urls(
    mock_client: MakeMock,
) -> None:
    client = await start(mock_client)
    response = await client.post("/services/oauth2/token", data=FORM)
    document = await response.json()
    assert response.status == 200
    assert document["token_format"] == "jwt" and "expires_in" not in document
    assert document["api_instance_url"] == str(client.make_url("")).rstrip("/")


async def test_token_endpoint_rejects_bad_grants_and_methods_with_oauth_errors(
    mock_client: MakeMock,
) -> None:
    client = await start(mock_client)
    bad_grant = await client.post("/services/oauth2/token", data={**FORM, "grant_type": "x"})
    assert bad_grant.status == 400
    assert (await bad_grant.json())["error"] == "unsupported_grant_type"
    wrong_method = await client.get("/services/oauth2/token")
    assert wrong_method.status == 405
    journal = await (await client.get("/__admin/journal")).json()
    assert [e["error"] for e in journal["entries"]] == [
        "unsupported_grant_type: grant type not supported",
        "invalid_request: must use HTTP POST",
    ]


async def test_chat_generation_replies_in_the_official_shape_with_fidelity_headers(
    mock_client: MakeMock,
) -> None:
    client = await start(mock_client)
    response = await client.post(CHAT, json=CHAT_BODY, headers=await auth_headers(client))
    document = await response.json()
    generation = document["generationDetails"]["generations"][0]
    expected = expected_reply(0, "chat-generations", CHAT_BODY)
    assert response.status == 200
    assert generation["content"] == expected.text
    usage = document["generationDetails"]["parameters"]["usage"]
    assert usage["completion_tokens"] == count_tokens(generation["content"])
    assert response.headers["x-sfperf-shape"] == "official-chat-generations"
    assert float(response.headers["x-sfperf-latency-ms"]) == 0.0
    assert response.headers["x-request-id"] and "x-envoy-upstream-service-time" in response.headers
    assert "x-sfperf-fault" not in response.headers


async def test_generations_embeddings_and_feedback_answer_as_documented(
    mock_client: MakeMock,
) -> None:
    client = await start(mock_client, dataclasses.replace(MockConfig(), embedding_dims=8))
    headers = await auth_headers(client)
    generation = await (await client.post(GEN, json={"prompt": "hi"}, headers=headers)).json()
    assert (
        generation["generation"]["generatedText"]
        == expected_reply(0, "generations", {"prompt": "hi"}).text
    )
    embeddings = await (
        await client.post(EMBED, json={"input": ["a", "b"]}, headers=headers)
    ).json()
    assert [len(e["embedding"]) for e in embeddings["embeddings"]] == [8, 8]
    assert [e["index"] for e in embeddings["embeddings"]] == [0, 1]
    feedback = await client.post(FEEDBACK, json={"id": "1", "generationId": "g"}, headers=headers)
    assert feedback.status == 202
    assert await feedback.json() == {"message": "Feedback received, Thank you!"}


@pytest.mark.parametrize(
    "path, kwargs, status, code",
    [
        (CHAT, {"json": {"messages": []}}, 400, "REQUIRED_FIELD_MISSING"),
        (CHAT, {"json": {"messages": "hi"}}, 400, "INVALID_TYPE"),
        (CHAT, {"data": b"{not json"}, 400, "JSON_PARSER_ERROR"),
        (f"{API}/models/gpt-4/chat-generations", {"json": CHAT_BODY}, 404, "NOT_FOUND"),
        (f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/embeddings", {"json": {"input": ["a"]}}, 404,
         "NOT_FOUND"),
        (f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/nonsense", {"json": {}}, 404, "NOT_FOUND"),
        ("/no/such/path", {"json": {}}, 404, "NOT_FOUND"),
        (CHAT, {"data": b"x" * 2048}, 413, "REQUEST_TOO_LARGE"),
    ],
)  # fmt: skip
async def test_each_bad_request_gets_its_documented_error(
    mock_client: MakeMock, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    client = await start(mock_client, MockConfig(body_limit_bytes=1024))
    response = await client.post(path, headers=await auth_headers(client), **kwargs)
    assert response.status == status
    assert (await error_of(response))["errorCode"] == code


async def test_a_chunked_body_over_the_limit_is_refused(mock_client: MakeMock) -> None:
    client = await start(mock_client, MockConfig(body_limit_bytes=1024))

    async def chunks() -> Any:
        for _ in range(8):
            yield b"x" * 512

    response = await client.post(CHAT, data=chunks(), headers=await auth_headers(client))
    assert response.status == 413


async def test_a_wrong_method_is_405_with_allow(mock_client: MakeMock) -> None:
    client = await start(mock_client)
    response = await client.get(CHAT, headers=await auth_headers(client))
    assert response.status == 405 and response.headers["Allow"] == "POST"
    assert (await error_of(response))["errorCode"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("authorization", [None, "Bearer garbage", "Basic abc"])
async def test_missing_or_invalid_bearers_are_401_invalid_auth(
    mock_client: MakeMock, authorization: str | None
) -> None:
    client = await start(mock_client)
    headers = await auth_headers(client)
    del headers["Authorization"]
    if authorization:
        headers["Authorization"] = authorization
    response = await client.post(CHAT, json=CHAT_BODY, headers=headers)
    assert response.status == 401
    assert (await error_of(response))["errorCode"] == "INVALID_AUTH"


async def test_an_expired_token_is_401_and_journaled_as_expired(
    mock_client: MakeMock,
) -> None:
    now = [100.0]
    client = await mock_client(MockConfig(token_lifetime_s=60), clock=lambda: now[0])
    headers = await auth_headers(client)
    assert (await client.post(CHAT, json=CHAT_BODY, headers=headers)).status == 200
    now[0] += 61
    response = await client.post(CHAT, json=CHAT_BODY, headers=headers)
    assert response.status == 401
    journal = await (await client.get("/__admin/journal")).json()
    assert [e["token_status"] for e in journal["entries"]][-2:] == ["valid", "expired"]
    assert journal["entries"][-1]["token_expires_t_s"] == pytest.approx(60, abs=1)


async def test_missing_app_headers_are_400_unless_strictness_is_off(
    mock_client: MakeMock,
) -> None:
    strict = await start(mock_client)
    headers = await auth_headers(strict)
    del headers["x-client-feature-id"]
    response = await strict.post(CHAT, json=CHAT_BODY, headers=headers)
    assert response.status == 400
    assert (await error_of(response))["errorCode"] == "MISSING_HEADER"
    lax = await start(mock_client, MockConfig(strict_headers=False))
    lax_headers = await auth_headers(lax)
    del lax_headers["x-client-feature-id"]
    assert (await lax.post(CHAT, json=CHAT_BODY, headers=lax_headers)).status == 200


async def test_configured_credentials_are_enforced(mock_client: MakeMock) -> None:
    client = await start(mock_client, MockConfig(credentials=("id", "right")))
    response = await client.post("/services/oauth2/token", data=FORM)
    assert response.status == 401
    assert (await response.json())["error"] == "invalid_client"


async def test_quotas_answer_429_limit_exceeded_past_the_limit(mock_client: MakeMock) -> None:
    client = await start(mock_client, MockConfig(quotas_rpm={"chat-generations": 2}))
    headers = await auth_headers(client)
    statuses = [(await client.post(CHAT, json=CHAT_BODY, headers=headers)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = await client.post(CHAT, json=CHAT_BODY, headers=headers)
    assert (await error_of(response))["errorCode"] == "LIMIT_EXCEEDED"
    counters = await (await client.get("/__admin/counters")).json()
    assert counters["quota_rejections"] == 2


async def test_the_mix_profile_serves_variant_shapes_the_harness_can_predict(
    mock_client: MakeMock,
) -> None:
    client = await start(mock_client, load_profile("mixed-shapes"))
    headers = await auth_headers(client)
    seen = set()
    for index in range(40):
        body = {"messages": [{"role": "user", "content": f"question {index}"}]}
        response = await client.post(CHAT, json=body, headers=headers)
        shape = response.headers["x-sfperf-shape"]
        assert shape == expected_reply(0, "chat-generations", body, _mix()).shape
        assert expected_reply(0, "chat-generations", body, _mix()).text in await response.text()
        seen.add(shape)
    assert len(seen) >= 3


def _mix() -> Any:
    from mock_salesforce.replies import ShapeMix

    return ShapeMix.from_mapping(load_profile("mixed-shapes").mix)


async def test_injected_latency_is_reported_in_headers_and_journal(
    mock_client: MakeMock,
) -> None:
    client = await start(mock_client, MockConfig(latency={"chat-generations": "fixed:30ms"}))
    response = await client.post(CHAT, json=CHAT_BODY, headers=await auth_headers(client))
    assert response.headers["x-sfperf-latency-ms"] == "30.000"
    assert response.headers["x-envoy-upstream-service-time"] == "30"
    entry = (await (await client.get("/__admin/journal")).json())["entries"][-1]
    assert entry["latency_ms"] == 30.0 and entry["duration_s"] >= 0.03


async def test_journal_entries_carry_every_contract_field(mock_client: MakeMock) -> None:
    client = await start(mock_client)
    headers = await auth_headers(client)
    marker = "sfpm00000000000000c4"
    messages = [{"role": "system", "content": "Be terse."},
                {"role": "user", "content": f"a cherry pie recipe {marker}"}]  # fmt: skip
    body = {"messages": messages, "temperature": 0, "max Tokens": 5}
    reply = await (await client.post(CHAT, json=body, headers=headers)).json()
    entries = (await (await client.get("/__admin/journal?since=1")).json())["entries"]
    entry = entries[0]
    generation = reply["generationDetails"]["generations"][0]
    assert entry["reply_sha256"] == text_sha256(generation["content"])
    assert entry["markers"] == [marker] and entry["system_text"] == "Be terse."
    usage = reply["generationDetails"]["parameters"]["usage"]
    assert (entry["prompt_tokens"], entry["completion_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert entry["finish_reason"] == generation["parameters"]["finish_reason"]
    assert entry["seq"] == 2 and entry["endpoint"] == "chat-generations"
    assert entry["extra_fields"] == ["max Tokens", "temperature"]
    assert entry["app_context"] == "EinsteinGPT" and entry["client"].startswith("127.0.0.1:")
    assert entry["token_status"] == "valid" and entry["token_id"]
    assert entry["status"] == 200 and entry["shape"] == "official-chat-generations"
    assert len(entry["body_sha256"]) == 64 and entry["disconnected"] is False
    from mock_salesforce.journal import FIELDS

    assert list(entry) == list(FIELDS)
    assert json.dumps(entries)


async def test_a_body_that_arrives_after_its_headers_is_read_whole(
    mock_client: MakeMock,
) -> None:
    client = await start(mock_client, MockConfig(require_auth=False, strict_headers=False))
    body = json.dumps(CHAT_BODY).encode()
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(head + body[:10])
    await writer.drain()
    await asyncio.sleep(0.05)  # the handler starts before the rest of the body is there
    writer.write(body[10:])
    reply = await reader.read()
    writer.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert expected_reply(0, "chat-generations", CHAT_BODY).text.encode() in reply


async def test_a_large_embeddings_reply_arrives_whole(mock_client: MakeMock) -> None:
    client = await start(mock_client, dataclasses.replace(load_profile("fast"), embedding_dims=16))
    inputs = [f"passage {index}" for index in range(300)]  # built in slices, sent in pieces
    response = await client.post(EMBED, json={"input": inputs}, headers=await auth_headers(client))
    document = await response.json()
    assert response.status == 200 and response.headers["x-sfperf-shape"] == "official-embeddings"
    assert [item["index"] for item in document["embeddings"]] == list(range(300))
    assert {len(item["embedding"]) for item in document["embeddings"]} == {16}
    assert document["parameters"]["usage"]["prompt_tokens"] == count_tokens("\n".join(inputs))
    journal = await (await client.get("/__admin/journal")).json()
    assert [e["endpoint"] for e in journal["entries"]] == ["token", "embeddings"]


async def test_token_and_feedback_bodies_have_their_own_smaller_caps(mock_client: MakeMock) -> None:
    client = await start(mock_client)
    form = {**FORM, "padding": "x" * 20_000}
    assert (await client.post("/services/oauth2/token", data=form)).status == 413
    feedback = {"id": "i", "generationId": "g", "feedbackText": "x" * 70_000}
    response = await client.post(FEEDBACK, json=feedback, headers=await auth_headers(client))
    assert response.status == 413
    assert (await response.json())["errorCode"] == "REQUEST_TOO_LARGE"
