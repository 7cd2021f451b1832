"""Closed-loop drivers: N workers, each sending its next request as soon as the last one is done.

This is how a service with N concurrent callers behaves, and what Little's law bounds: with
a round trip of at least L seconds, N workers can never exceed N / L requests per second.
Async callables are driven by N tasks on one event loop, sync callables by N threads. A call
returns whether it succeeded, or the HTTP status it got (2xx is a success), kept per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

Clock = Callable[[], float]
# What a call returns: ok or not, or an HTTP status.
Outcome = bool | int
NO_REPLY = 0  # the status of a request that raised (connection error, timeout), as in load rows


@dataclass(frozen=True)
class Sample:
    """One request of a closed-loop run: when it ended (s since start), how long, whether ok,
    and its HTTP status when it had one."""

    end_s: float
    latency_ms: float
    ok: bool
    worker: int = 0
    status: int = NO_REPLY  # HTTP status; also 0 for calls that return only ok


@dataclass(frozen=True)
class Window:
    """What a closed-loop run measured: the requests that ended inside the window, except each
    worker's first (its warm-up, ended at `warmup_end_s[worker]`): N workers that start together
    queue up behind a slow subject in a way no steady state does, and first requests also pay
    for opening connections."""

    samples: tuple[Sample, ...]
    duration_s: float
    errors: int  # measured requests that raised (also counted as not ok in `samples`)
    concurrency: int = 0  # workers; 0: as many as have samples
    warmup_end_s: Mapping[int, float] = field(default_factory=dict)

    @property
    def throughput_rps(self) -> float:
        """Completed requests per second of N workers, pooled over each worker's time from its
        warm-up to its last completion (Little's law: N over the mean time a request takes).

        Counting completions over the whole window would undercount by up to one request per
        worker (the one cut off by the deadline), a large bias in short windows.
        """
        last_end_s: dict[int, float] = {}
        for sample in self.samples:
            last_end_s[sample.worker] = max(last_end_s.get(sample.worker, 0.0), sample.end_s)
        busy_s = sum(end - self.warmup_end_s.get(w, 0.0) for w, end in last_end_s.items())
        if busy_s <= 0:
            return 0.0
        return (self.concurrency or len(last_end_s)) * len(self.samples) / busy_s


class _Tally:
    """The samples and errors of one run, shared by its workers (thread-safe)."""

    def __init__(self, duration_s: float, concurrency: int, clock: Clock) -> None:
        self.clock, self.duration_s, self.concurrency = clock, duration_s, concurrency
        self.start_s = clock()
        self.deadline_s = self.start_s + duration_s
        self.samples: list[Sample] = []
        self.warmup_end_s: dict[int, float] = {}
        self.errors = 0
        self._lock = threading.Lock()

    def running(self) -> bool:
        return self.clock() < self.deadline_s

    def record(self, worker: int, began_s: float, outcome: Outcome | None) -> None:
        """Count a request that began at `began_s` (outcome None: it raised); a worker's first
        is its warm-up, and only those ending in the window are kept."""
        ended_s = self.clock()
        if outcome is None or isinstance(outcome, bool):
            ok, status = bool(outcome), NO_REPLY
        else:
            ok, status = 200 <= outcome < 300, outcome
        with self._lock:
            if worker not in self.warmup_end_s:
                self.warmup_end_s[worker] = ended_s - self.start_s
            elif ended_s <= self.deadline_s:
                self.errors += outcome is None
                latency_ms = (ended_s - began_s) * 1000.0
                self.samples.append(Sample(ended_s - self.start_s, latency_ms, ok, worker, status))

    def window(self) -> Window:
        samples = tuple(sorted(self.samples, key=lambda s: s.end_s))
        return Window(samples, self.duration_s, self.errors, self.concurrency,
                      dict(self.warmup_end_s))  # fmt: skip


async def drive_async(
    call: Callable[[], Awaitable[Outcome]],
    concurrency: int,
    duration_s: float,
    clock: Clock = time.perf_counter,
) -> Window:
    """Run `concurrency` tasks calling `call` until `duration_s` has passed."""
    tally = _Tally(duration_s, concurrency, clock)

    async def worker(index: int) -> None:
        while tally.running():
            began_s, outcome = clock(), None
            with contextlib.suppress(Exception):  # a failing subject is measured, not fatal
                outcome = await call()
            tally.record(index, began_s, outcome)

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    return tally.window()


def drive_threads(
    call: Callable[[], Outcome],
    concurrency: int,
    duration_s: float,
    clock: Clock = time.perf_counter,
) -> Window:
    """Run `concurrency` threads calling `call` until `duration_s` has passed."""
    tally = _Tally(duration_s, concurrency, clock)

    def worker(index: int) -> None:
        while tally.running():
            began_s, outcome = clock(), None
            with contextlib.suppress(Exception):  # a failing subject is measured, not fatal
                outcome = call()
            tally.record(index, began_s, outcome)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
        for future in [pool.submit(worker, index) for index in range(concurrency)]:
            future.result()
    return tally.window()
