"""Bridges: an async client behind Flask threads, a sync client behind the aiohttp loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from harness.subjects.gateway.bridges import LoopThreadClient, ThreadPoolClient
from harness.subjects.upstream import UpstreamResult


class AsyncFake:
    def __init__(self) -> None:
        self.loops: set[int] = set()
        self.closed = False

    async def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult:
        self.loops.add(id(asyncio.get_running_loop()))
        return UpstreamResult(200, {"endpoint": endpoint, "model": model})

    async def close(self) -> None:
        self.closed = True

    def counters(self) -> dict[str, float]:
        return {"calls": 1.0}


class SyncFake:
    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.closed = False

    def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult:
        self.threads.add(threading.get_ident())
        return UpstreamResult(200, {"model": model})

    def close(self) -> None:
        self.closed = True

    def counters(self) -> dict[str, float]:
        return {}


def test_every_thread_shares_the_one_background_loop_of_an_async_client() -> None:
    inner = AsyncFake()
    bridge = LoopThreadClient(inner)
    results: list[UpstreamResult] = []
    workers = [
        threading.Thread(target=lambda: results.append(bridge.call("generations", "m", {})))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    bridge.close()
    assert [r.json for r in results] == [{"endpoint": "generations", "model": "m"}] * 4
    assert len(inner.loops) == 1
    assert inner.closed
    assert bridge.counters() == {"calls": 1.0}


async def test_a_sync_client_runs_off_the_event_loop_thread() -> None:
    inner = SyncFake()
    bridge = ThreadPoolClient(inner, max_workers=2)
    results = await asyncio.gather(*(bridge.call("generations", "m", {}) for _ in range(3)))
    await bridge.close()
    assert [r.status for r in results] == [200, 200, 200]
    assert threading.get_ident() not in inner.threads
    assert inner.closed
