"""A small, bounded closed-loop load for profiling: N chat completions from C aiohttp workers.

It only has to keep a gateway busy while the profiler samples it, so it is deliberately plain:
a fixed request count, a wall-clock cap, one shared session, loopback only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ssl import SSLContext

import aiohttp

from harness.runners.support.progress import Advance, no_progress
from harness.targets.endpoints import CHAT_PATH, endpoint_url
from harness.targets.tls import DEFAULT_TLS, TargetTls

MODEL = "gpt-4o-mini"
TIMEOUT_S = 30.0


@dataclass
class LoadResult:
    """Per request: latency and success; whether Ctrl-C cut the load short."""

    latencies_ms: list[float] = field(default_factory=list)
    oks: list[int] = field(default_factory=list)
    duration_s: float = 0.0
    interrupted: bool = False


def drive_load(
    url: str,
    requests: int,
    concurrency: int,
    max_duration_s: float,
    advance: Advance = no_progress,
    clock: Callable[[], float] = time.perf_counter,
    model: str = MODEL,
    headers: Mapping[str, str] | None = None,
    tls: TargetTls = DEFAULT_TLS,
) -> LoadResult:
    """Send up to `requests` chat completions for `model` to `url` within `max_duration_s`
    (each with `headers`: the target's `--target-header`s; its certificate checked as `tls`
    says)."""
    result = LoadResult()
    start_s = clock()
    try:
        deadline_s = start_s + max_duration_s
        load = _load(url, requests, concurrency, deadline_s, result, advance, clock, model,
                     tls.aiohttp_ssl(), dict(headers or {}))  # fmt: skip
        asyncio.run(load)
    except KeyboardInterrupt:
        result.interrupted = True  # what was measured so far stays in `result`
    result.duration_s = clock() - start_s
    return result


async def _load(
    url: str,
    requests: int,
    concurrency: int,
    deadline_s: float,
    result: LoadResult,
    advance: Advance,
    clock: Callable[[], float],
    model: str,
    ssl: SSLContext | bool,
    headers: dict[str, str],
) -> None:
    counter = iter(range(requests))
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=ssl)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, headers=headers
    ) as session:

        async def worker() -> None:
            for index in counter:
                if clock() >= deadline_s:
                    return
                ok, latency_ms = await _one(session, url, index, clock, model)
                result.oks.append(ok)
                result.latencies_ms.append(latency_ms)
                advance(1, "")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _one(
    session: aiohttp.ClientSession, url: str, index: int, clock: Callable[[], float], model: str
) -> tuple[int, float]:
    body = {"model": model, "messages": [{"role": "user", "content": f"profile request {index}"}]}
    start_s = clock()
    try:
        async with session.post(endpoint_url(url, CHAT_PATH), json=body) as response:
            await response.read()
            ok = int(response.status == 200)
    except (aiohttp.ClientError, TimeoutError):
        ok = 0
    return ok, (clock() - start_s) * 1000.0
