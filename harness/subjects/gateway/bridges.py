"""Adapters that let any client run under either server, so components mix one by one.

`LoopThreadClient` gives Flask a sync face over an async client (one event loop in a background
thread, shared by every request thread). `ThreadPoolClient` gives aiohttp an async face over a
sync client (each call on a worker thread, as a blocking client must be run).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from harness.subjects.upstream import UpstreamResult


class AsyncUpstream(Protocol):
    async def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult: ...

    async def close(self) -> None: ...

    def counters(self) -> Mapping[str, float]: ...


class SyncUpstream(Protocol):
    def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult: ...

    def close(self) -> None: ...

    def counters(self) -> Mapping[str, float]: ...


class LoopThreadClient:
    """Run an async client's calls on one long-lived event loop in a daemon thread."""

    def __init__(self, inner: AsyncUpstream) -> None:
        self.inner = inner
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult:
        coro = self.inner.call(endpoint, model, payload)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def counters(self) -> Mapping[str, float]:
        return self.inner.counters()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.inner.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class ThreadPoolClient:
    """Run a sync client's calls on a pool of worker threads (as many as Flask would use)."""

    def __init__(self, inner: SyncUpstream, max_workers: int = 64) -> None:
        self.inner = inner
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="upstream")

    async def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.inner.call, endpoint, model, payload)

    def counters(self) -> Mapping[str, float]:
        return self.inner.counters()

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.inner.close()
