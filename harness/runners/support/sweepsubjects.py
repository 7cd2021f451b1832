"""The subjects of the sweep, each measured closed loop for one window at one concurrency.

Upstream clients (`harness.subjects.clients`) call the mock directly: `sync-wrapper` from a
thread pool (it blocks), `async` and `async-batching` from tasks on one event loop. Gateway
variants are called over HTTP by an aiohttp client with one connection per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from harness.runners.support.closedloop import Window, drive_async, drive_threads
from harness.subjects.clients import AsyncClient, BatchingClient, SyncWrapperClient
from harness.subjects.token_providers import MemoryTokenStore, MemoryTtlTokenProvider, TokenProvider
from harness.subjects.upstream import ClientSettings, UpstreamResult, fetch_grant

CLIENTS = ("sync-wrapper", "async", "async-batching")
UPSTREAM_MODEL = "sfdc_ai__DefaultOpenAIGPT4OmniMini"
GATEWAY_MODEL = "gpt-4o-mini"
GATEWAY_TIMEOUT_S = 60.0


def messages(n: int) -> list[dict[str, str]]:
    """A varied user message (the mock's reply depends on the content)."""
    return [{"role": "user", "content": f"Summarise the status of account #{n}."}]


def token_provider(settings: ClientSettings) -> TokenProvider:
    """The optimized provider: one OAuth grant kept in memory for the whole measurement."""
    return MemoryTtlTokenProvider(
        MemoryTokenStore(), lambda: fetch_grant(settings, time.time), time.time
    )


def succeeded(result: UpstreamResult) -> bool:
    return result.ok and result.status == 200


def measure_client(
    subject: str, mock_url: str, concurrency: int, duration_s: float, pool_size: int
) -> Window:
    """Drive one upstream client against the mock for `duration_s` with `concurrency` callers."""
    settings = ClientSettings(upstream_url=mock_url, pool_size=max(pool_size, concurrency))
    provider = token_provider(settings)
    if subject == "sync-wrapper":
        client = SyncWrapperClient(settings, provider)
        counter = itertools.count()

        def call() -> bool:
            return succeeded(client.chat(UPSTREAM_MODEL, messages(next(counter))))

        call()  # warm up: the OAuth grant is fetched outside the window
        return drive_threads(call, concurrency, duration_s)
    return asyncio.run(_measure_async_client(subject, settings, provider, concurrency, duration_s))


async def _measure_async_client(
    subject: str,
    settings: ClientSettings,
    provider: TokenProvider,
    concurrency: int,
    duration_s: float,
) -> Window:
    inner = AsyncClient(settings, provider)
    client: AsyncClient | BatchingClient = inner if subject == "async" else BatchingClient(inner)
    counter = itertools.count()

    async def call() -> bool:
        return succeeded(await client.chat(UPSTREAM_MODEL, messages(next(counter))))

    try:
        return await _warm_and_drive(call, concurrency, duration_s)
    finally:
        await client.close()


def measure_gateway(url: str, concurrency: int, duration_s: float) -> Window:
    """Drive a gateway's `POST /v1/chat/completions` with `concurrency` callers."""
    return asyncio.run(_measure_gateway(url, concurrency, duration_s))


async def _measure_gateway(url: str, concurrency: int, duration_s: float) -> Window:
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=GATEWAY_TIMEOUT_S)
    endpoint = url.rstrip("/") + "/v1/chat/completions"
    counter = itertools.count()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def call() -> bool:
            body: dict[str, Any] = {"model": GATEWAY_MODEL, "messages": messages(next(counter))}
            async with session.post(endpoint, json=body) as response:
                await response.read()
                return response.status == 200

        return await _warm_and_drive(call, concurrency, duration_s)


async def _warm_and_drive(
    call: Callable[[], Awaitable[bool]], concurrency: int, duration_s: float
) -> Window:
    """One call first (token fetch, first connection), then the measured window."""
    with contextlib.suppress(Exception):  # the window will show a subject that keeps failing
        await call()
    return await drive_async(call, concurrency, duration_s)
