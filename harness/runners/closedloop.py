"""Closed-loop drivers: N workers, each sending its next request as soon as the last one is done.

This is how a service with N concurrent callers behaves, and what Little's law bounds: with
a round trip of at least L seconds, N workers can never exceed N / L requests per second.
Async callables are driven by N tasks on one event loop, sync callables by N threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class Sample:
    """One request of a closed-loop run: when it ended (s since start), how long, whether ok."""

    end_s: float
    latency_ms: float
    ok: bool


@dataclass(frozen=True)
class Window:
    """What a closed-loop run measured: the requests that ended inside the window."""

    samples: tuple[Sample, ...]
    duration_s: float
    errors: int  # requests that raised (also counted as not ok in `samples`)


async def drive_async(
    call: Callable[[], Awaitable[bool]],
    concurrency: int,
    duration_s: float,
    clock: Clock = time.perf_counter,
) -> Window:
    """Run `concurrency` tasks calling `call` until `duration_s` has passed."""
    start_s = clock()
    deadline_s = start_s + duration_s
    samples: list[Sample] = []
    errors = [0]

    async def worker() -> None:
        while clock() < deadline_s:
            began_s = clock()
            try:
                ok = await call()
            except Exception:  # a failing subject is measured, not fatal
                ok, errors[0] = False, errors[0] + 1
            ended_s = clock()
            if ended_s <= deadline_s:
                samples.append(Sample(ended_s - start_s, (ended_s - began_s) * 1000.0, ok))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Window(tuple(sorted(samples, key=lambda s: s.end_s)), duration_s, errors[0])


def drive_threads(
    call: Callable[[], bool],
    concurrency: int,
    duration_s: float,
    clock: Clock = time.perf_counter,
) -> Window:
    """Run `concurrency` threads calling `call` until `duration_s` has passed."""
    start_s = clock()
    deadline_s = start_s + duration_s
    samples: list[Sample] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        while clock() < deadline_s:
            began_s = clock()
            try:
                ok = call()
            except Exception:  # a failing subject is measured, not fatal
                ok = False
                with lock:
                    errors[0] += 1
            ended_s = clock()
            if ended_s <= deadline_s:
                with lock:
                    samples.append(Sample(ended_s - start_s, (ended_s - began_s) * 1000.0, ok))

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return Window(tuple(sorted(samples, key=lambda s: s.end_s)), duration_s, errors[0])
