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


class _Tally:
    """The samples and errors of one run, shared by its workers (thread-safe)."""

    def __init__(self, duration_s: float, clock: Clock) -> None:
        self.clock, self.duration_s = clock, duration_s
        self.start_s = clock()
        self.deadline_s = self.start_s + duration_s
        self.samples: list[Sample] = []
        self.errors = 0
        self._lock = threading.Lock()

    def running(self) -> bool:
        return self.clock() < self.deadline_s

    def record(self, worker: int, began_s: float, ok: bool, failed: bool) -> None:
        """Count a request that began at `began_s`; only those ending in the window are kept."""
        ended_s = self.clock()
        with self._lock:
            self.errors += failed
            if ended_s <= self.deadline_s:
                latency_ms = (ended_s - began_s) * 1000.0
                self.samples.append(Sample(ended_s - self.start_s, latency_ms, ok, worker))

    def window(self) -> Window:
        return Window(tuple(sorted(self.samples, key=lambda s: s.end_s)), self.duration_s,
                      self.errors)  # fmt: skip


async def drive_async(
    call: Callable[[], Awaitable[bool]],
    concurrency: int,
    duration_s: float,
    clock: Clock = time.perf_counter,
) -> Window:
    """Run `concurrency` tasks calling `call` until `duration_s` has passed."""
    tally = _Tally(duration_s, clock)

    async def worker(index: int) -> None:
        while tally.running():
            began_s, failed = clock(), False
            try:
                ok = await call()
            except Exception:  # a failing subject is measured, not fatal
                ok, failed = False, True
            tally.record(index, began_s, ok, failed)

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    return tally.window()


def drive_threads(
    call: Callable[[], bool],
    concurrency: int,
    duration_s: float,
    clock: Clock = time.perf_counter,
) -> Window:
    """Run `concurrency` threads calling `call` until `duration_s` has passed."""
    tally = _Tally(duration_s, clock)

    def worker(index: int) -> None:
        while tally.running():
            began_s, failed = clock(), False
            try:
                ok = call()
            except Exception:  # a failing subject is measured, not fatal
                ok, failed = False, True
            tally.record(index, began_s, ok, failed)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
        for future in [pool.submit(worker, index) for index in range(concurrency)]:
            future.result()
    return tally.window()
