"""Upstream clients against a fake session: headers, retries, backoff, 401 refresh, batching."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any

import aiohttp
import pytest

from harness.subjects.clients import AsyncClient, BatchingClient, SyncWrapperClient, _finished
from harness.subjects.token_providers import TokenFetchError
from harness.subjects.upstream import Backoff, ClientSettings, UpstreamResult
from tests.unit.subjects.fakes import BASE, FakeProvider, FakeUpstream

CHAT_URL = f"{BASE}/einstein/platform/v1/models/sfdc_ai__M/chat-generations"
GEN_URL = f"{BASE}/einstein/platform/v1/models/sfdc_ai__M/generations"
MESSAGES = [{"role": "user", "content": "hi"}]


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)


def client_for(
    upstream: FakeUpstream,
    provider: FakeProvider | None = None,
    sleep: RecordingSleep | None = None,
    **changes: Any,
) -> AsyncClient:
    return AsyncClient(
        ClientSettings(upstream_url="http://unused.test", **changes),
        provider or FakeProvider(),
        sleep=sleep or RecordingSleep(),
        session_factory=upstream.session,  # type: ignore[arg-type]
    )


async def test_a_chat_call_sends_the_models_api_headers_and_body() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, payload={"id": "a"}, headers={"x-request-id": "rq-1"})
    client = client_for(upstream)
    result = await client.chat("sfdc_ai__M", MESSAGES)
    await client.close()
    assert (result.status, result.json, result.request_id, result.attempts) == (
        200,
        {"id": "a"},
        "rq-1",
        1,
    )
    assert result.ok
    request = upstream.sent[0]
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert request.headers["x-sfdc-app-context"] == "EinsteinGPT"
    assert request.headers["x-client-feature-id"] == "ai-platform-models-connected-app"
    assert request.json == {"messages": MESSAGES}


async def test_the_async_client_reuses_one_session_for_every_call() -> None:
    upstream = FakeUpstream()
    upstream.add(GEN_URL, payload={})
    client = client_for(upstream)
    for _ in range(3):
        await client.generate("sfdc_ai__M", "p")
    assert upstream.sessions == 1


async def test_the_async_clients_pool_is_unbounded_unless_a_size_is_given() -> None:
    limits = []
    for settings in (ClientSettings(BASE), ClientSettings(BASE, pool_size=8)):
        client = AsyncClient(settings, FakeProvider())
        connector = client._shared_session().connector
        assert connector is not None
        limits.append((connector.limit, connector.limit_per_host))
        await client.close()
    assert limits == [(0, 0), (8, 8)]


async def test_a_429_is_retried_after_the_upstreams_retry_after() -> None:
    upstream = FakeUpstream()
    upstream.add(GEN_URL, status=429, headers={"Retry-After": "1.5"}, payload={"message": "slow"})
    upstream.add(GEN_URL, payload={"ok": True})
    sleep = RecordingSleep()
    result = await client_for(upstream, sleep=sleep).generate("sfdc_ai__M", "p")
    assert (result.status, result.attempts, sleep.delays) == (200, 2, [1.5])


async def test_a_retry_after_beyond_the_cap_is_passed_on_not_waited() -> None:
    upstream = FakeUpstream()
    upstream.add(GEN_URL, status=429, headers={"Retry-After": "60"}, payload={"message": "slow"})
    sleep = RecordingSleep()
    result = await client_for(upstream, sleep=sleep).generate("sfdc_ai__M", "p")
    assert (result.status, result.error_kind, result.retry_after_s) == (429, "rate_limited", 60.0)
    assert sleep.delays == []


async def test_5xx_is_retried_with_growing_jittered_backoff_then_given_up() -> None:
    upstream = FakeUpstream()
    upstream.add(GEN_URL, status=503, payload={"message": "busy"})
    sleep = RecordingSleep()
    client = client_for(upstream, sleep=sleep, max_retries=2, backoff_base_s=0.1)
    result = await client.generate("sfdc_ai__M", "p")
    assert (result.status, result.error_kind, result.attempts) == (503, "upstream_error", 3)
    assert result.message == "busy"
    assert 0.05 <= sleep.delays[0] <= 0.1 < sleep.delays[1] <= 0.2


async def test_a_401_refreshes_the_token_once_and_retries() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, status=401, payload={"errorCode": "INVALID_AUTH"})
    upstream.add(CHAT_URL, payload={"id": "b"})
    provider = FakeProvider()
    result = await client_for(upstream, provider).chat("sfdc_ai__M", MESSAGES)
    assert (result.status, result.attempts, provider.invalidations) == (200, 2, 1)
    tokens = [request.headers["Authorization"] for request in upstream.sent]
    assert tokens == ["Bearer tok-1", "Bearer tok-2"]


async def test_a_second_401_is_an_auth_error_without_a_third_try() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, status=401, payload={})
    provider = FakeProvider()
    result = await client_for(upstream, provider).chat("sfdc_ai__M", MESSAGES)
    assert (result.status, result.error_kind, result.attempts) == (401, "auth", 2)
    assert provider.invalidations == 1


async def test_a_404_is_a_client_error_and_is_not_retried() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, status=404, payload={"errorCode": "NOT_FOUND"})
    result = await client_for(upstream).chat("sfdc_ai__M", MESSAGES)
    assert (result.status, result.error_kind, result.attempts) == (404, "client_error", 1)


async def test_a_timeout_becomes_a_504_result_without_retrying() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, exception=TimeoutError())
    result = await client_for(upstream).chat("sfdc_ai__M", MESSAGES)
    assert (result.status, result.error_kind, result.attempts) == (504, "timeout", 1)


async def test_a_refused_connection_is_retried_then_reported() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, exception=aiohttp.ClientConnectionError("refused"))
    sleep = RecordingSleep()
    result = await client_for(upstream, sleep=sleep, max_retries=1).chat("sfdc_ai__M", MESSAGES)
    assert (result.status, result.error_kind, result.attempts) == (502, "connection", 2)
    assert len(sleep.delays) == 1


async def test_a_body_that_is_not_json_is_a_bad_response() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, body=b"<html>")
    result = await client_for(upstream).chat("sfdc_ai__M", MESSAGES)
    assert (result.status, result.error_kind) == (502, "bad_response")


async def test_each_model_gets_its_own_url_and_the_url_memo_stays_bounded() -> None:
    upstream = FakeUpstream()
    for index in range(300):
        upstream.add(CHAT_URL.replace("sfdc_ai__M", f"sfdc_ai__M{index}"), payload={})
    client = client_for(upstream)
    for index in (*range(300), 0, 299):
        await client.chat(f"sfdc_ai__M{index}", MESSAGES)
    sent = [request.url.rsplit("/", 2)[1] for request in upstream.sent]
    assert sent == [f"sfdc_ai__M{index}" for index in (*range(300), 0, 299)]
    assert len(client.retrier._urls) <= 256


def test_a_finished_result_keeps_every_field_of_the_last_attempt() -> None:
    last = UpstreamResult(429, {"m": 1}, "rq", 1, "rate_limited", 2.5, 0.0, "slow")
    finished = _finished(last, attempts=3, latency_s=0.25)
    assert finished == dataclasses.replace(last, attempts=3, latency_s=0.25)


@pytest.mark.parametrize(
    ("status", "kind", "expected"), [(401, "auth", 401), (0, "connection", 502)]
)
async def test_a_failed_token_fetch_is_reported_without_calling_upstream(
    status: int, kind: str, expected: int
) -> None:
    upstream = FakeUpstream()
    provider = FakeProvider(fail=TokenFetchError("no", status))
    result = await client_for(upstream, provider).chat("sfdc_ai__M", MESSAGES)
    assert (result.status, result.error_kind) == (expected, kind)
    assert upstream.sent == []


def test_the_sync_wrapper_opens_a_new_session_for_every_call() -> None:
    upstream = FakeUpstream()
    upstream.add(CHAT_URL, payload={"id": "c"})
    settings = ClientSettings(upstream_url="http://unused.test")
    client = SyncWrapperClient(settings, FakeProvider(), session_factory=upstream.session)  # type: ignore[arg-type]
    results = [client.chat("sfdc_ai__M", MESSAGES) for _ in range(2)]
    assert [r.json for r in results] == [{"id": "c"}, {"id": "c"}]
    assert (upstream.sessions, client.counters()["calls"]) == (2, 2)


async def test_batching_sends_concurrent_calls_together_and_answers_each() -> None:
    upstream = FakeUpstream()
    for index in range(3):
        upstream.add(GEN_URL, payload={"n": index})
    client = BatchingClient(client_for(upstream), window_s=0.001, max_batch=8)
    results = await asyncio.gather(*(client.generate("sfdc_ai__M", f"p{i}") for i in range(3)))
    await client.close()
    assert sorted(r.json["n"] for r in results if r.json) == [0, 1, 2]
    assert (client.counters()["batches"], client.counters()["batched_calls"]) == (1, 3)


async def test_a_full_batch_is_sent_without_waiting_for_the_window() -> None:
    upstream = FakeUpstream()
    upstream.add(GEN_URL, payload={})
    never = asyncio.Event()

    async def endless_window(_delay_s: float) -> None:
        await never.wait()

    client = BatchingClient(client_for(upstream), 1.0, 2, sleep=endless_window)
    results = await asyncio.gather(*(client.generate("sfdc_ai__M", "p") for _ in range(2)))
    await client.close()
    assert [r.status for r in results] == [200, 200]
    assert client.counters()["batches"] == 1


def test_backoff_honours_retry_after_and_caps_growth() -> None:
    backoff = Backoff(base_s=1.0, max_s=3.0, rng=random.Random(7))
    assert backoff.delay_s(1, 12.0) == 12.0
    assert all(1.5 <= backoff.delay_s(5, None) <= 3.0 for _ in range(50))
