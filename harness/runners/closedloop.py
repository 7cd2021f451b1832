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
    worker: int = 0


@dataclass(frozen=True)
class Window:
    """What a closed-loop run measured: the requests that ended inside the window."""

    samples: tuple[Sample, ...]
    duration_s: float
    errors: int  # requests that raised (also counted as not ok in `samples`)

    @property
    def throughput_rps(self) -> float:
        """Completed requests per second, summed over workers, each up to its last completion.

        Counting completions over the whole window would undercount by up to one request per
        worker (the one cut off by the deadline), a large bias in short windows.
        """
        last_end_s: dict[int, float] = {}
        counts: dict[int, int] = {}
        for sample in self.samples:
            last_end_s[sample.worker] = max(last_end_s.get(sample.worker, 0.0), sample.end_s)
            counts[sample.worker] = counts.get(sample.worker, 0) + 1
        return sum(counts[w] / last_end_s[w] for w in counts if last_end_s[w] > 0)


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

    async def worker(index: int) -> None:
        while clock() < deadline_s:
            began_s = clock()
            try:
                ok = await call()
            except Exception:  # a failing subject is measured, not fatal
                ok, errors[0] = False, errors[0] + 1
            ended_s = clock()
            if ended_s <= deadline_s:
                samples.append(Sample(ended_s - start_s, (ended_s - began_s) * 1000.0, ok, index))

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
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

    def worker(index: int) -> None:
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
                sample = Sample(ended_s - start_s, (ended_s - began_s) * 1000.0, ok, index)
                with lock:
                    samples.append(sample)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
        for future in [pool.submit(worker, index) for index in range(concurrency)]:
            future.result()
    return Window(tuple(sorted(samples, key=lambda s: s.end_s)), duration_s, errors[0])
