"""Closed-loop drivers: N workers, each sending its next request as soon as the last one is done.

This is how a service with N concurrent callers behaves, and what Little's law bounds: with
a round trip of at least L seconds, N workers can never exceed N / L requests per second.
Async callables are driven by N tasks on one event loop, sync callables by N threads. A call
returns whether it succeeded, or the HTTP status it got (2xx is a success), kept per request.
A call may also say how long its caller waits before the next request (a `Retry-After` it was
given, honoured as an OpenAI client does; a 429 without one waits `TOO_MANY_WAIT_S`): a
rate-limited subject is then not hammered by re-sends of the sweep's own making, and the wait
is no request's latency.
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
# What a call returns: ok or not, an HTTP status, or a status and a tag (an int the caller picks,
# e.g. where it kept the reply, to find it again after the window: `Sample.tag`), and maybe the
# seconds its caller waits before the next request (`Sample.retry_after_s`).
Outcome = bool | int | tuple[int, int] | tuple[int, int, float]
NO_REPLY = 0  # the status of a request that raised (connection error, timeout), as in load rows
TOO_MANY = 429
MAX_WAIT_S = 10.0  # the longest a worker honours a Retry-After (a window lasts seconds)
# A 429 that asks no wait: its worker backs off this long, as the OpenAI client's first retry
# does (0.5 s), instead of re-sending at once (R137: ~2,000 refused re-sends a second).
TOO_MANY_WAIT_S = 0.5


@dataclass(frozen=True)
class Sample:
    """One request of a closed-loop run: when it ended (s since start), how long, whether ok,
    and its HTTP status when it had one."""

    end_s: float
    latency_ms: float
    ok: bool
    worker: int = 0
    status: int = NO_REPLY  # HTTP status; also 0 for calls that return only ok
    tag: int = -1  # what the call returned beside its status (-1: nothing)
    retry_after_s: float = 0.0  # the wait its reply asked for (Retry-After), before the next
    met_fault: bool = False  # an upstream call of it met a fault the user's mock injected


# A worker with nothing measured past its warm-up at the deadline may go on for this many
# windows more, for one measured request (a queue behind a capped subject can be that long).
OVERTIME_WINDOWS = 3.0


@dataclass(frozen=True)
class Window:
    """What a closed-loop run measured: the requests that ended inside the window, except each
    worker's first (its warm-up, ended at `warmup_end_s[worker]`): N workers that start together
    queue up behind a slow subject in a way no steady state does, and first requests also pay
    for opening connections. A worker with nothing past its warm-up at the deadline goes on
    for one more request (within OVERTIME_WINDOWS), and one that could not is represented by
    its warm-up, so the slowest workers are never left out of the figures."""

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
        self.overtime_s = self.deadline_s + OVERTIME_WINDOWS * duration_s
        self.samples: list[Sample] = []
        self.warmups: dict[int, Sample] = {}
        self.raised: set[int] = set()  # workers whose warm-up raised
        self.errors = 0  # kept samples that raised
        self.measured: set[int] = set()  # workers with a sample past their warm-up
        self._lock = threading.Lock()

    def running(self, worker: int) -> bool:
        """Whether `worker` sends another request."""
        now_s = self.clock()
        return now_s < self.deadline_s or (worker not in self.measured and now_s < self.overtime_s)

    def record(self, worker: int, began_s: float, outcome: Outcome | None) -> float:
        """Count a request that began at `began_s` (outcome None: it raised): a worker's first
        is its warm-up; later ones are kept when they end in the window, or when they are the
        first of their worker past its warm-up. Returns the seconds the worker waits before its
        next request (the call's, or TOO_MANY_WAIT_S after a 429 that asked none; within
        MAX_WAIT_S and the window)."""
        ended_s = self.clock()
        status, tag, wait_s = unpacked(outcome)
        if status is None or isinstance(status, bool):
            ok, status = bool(status), NO_REPLY
        else:
            ok = 200 <= status < 300
        latency_ms = (ended_s - began_s) * 1000.0
        sample = Sample(ended_s - self.start_s, latency_ms, ok, worker, status, tag, wait_s)
        with self._lock:
            if worker not in self.warmups:
                self.warmups[worker] = sample
                if outcome is None:
                    self.raised.add(worker)
            elif ended_s <= self.deadline_s or worker not in self.measured:
                self.samples.append(sample)
                self.measured.add(worker)
                self.errors += outcome is None
        if status == TOO_MANY and not wait_s:
            wait_s = TOO_MANY_WAIT_S
        return min(wait_s, MAX_WAIT_S, max(0.0, self.deadline_s - ended_s))

    def window(self) -> Window:
        """The window; a worker that never got past its warm-up counts by its warm-up."""
        unmeasured = [s for w, s in self.warmups.items() if w not in self.measured]
        samples = tuple(sorted([*self.samples, *unmeasured], key=lambda s: s.end_s))
        warmup_end_s = {w: s.end_s for w, s in self.warmups.items() if w in self.measured}
        errors = self.errors + len(self.raised - self.measured)
        return Window(samples, self.duration_s, errors, self.concurrency, warmup_end_s)


def unpacked(outcome: Outcome | None) -> tuple[bool | int | None, int, float]:
    """(ok or status, tag, seconds to wait) of what a call returned."""
    if not isinstance(outcome, tuple):
        return outcome, -1, 0.0
    if len(outcome) == 2:
        return outcome[0], outcome[1], 0.0
    return outcome[0], outcome[1], float(outcome[2])


async def drive_async(
    call: Callable[[], Awaitable[Outcome]],
    concurrency: int,
    duration_s: float,
    clock: Clock = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Window:
    """Run `concurrency` tasks calling `call` until `duration_s` has passed (a worker told to
    wait sleeps with `sleep` before its next call)."""
    tally = _Tally(duration_s, concurrency, clock)

    async def worker(index: int) -> None:
        while tally.running(index):
            began_s, outcome = clock(), None
            with contextlib.suppress(Exception):  # a failing subject is measured, not fatal
                outcome = await call()
            if wait_s := tally.record(index, began_s, outcome):
                await sleep(wait_s)

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
        while tally.running(index):
            began_s, outcome = clock(), None
            with contextlib.suppress(Exception):  # a failing subject is measured, not fatal
                outcome = call()
            if wait_s := tally.record(index, began_s, outcome):
                time.sleep(wait_s)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
        for future in [pool.submit(worker, index) for index in range(concurrency)]:
            future.result()
    return tally.window()
