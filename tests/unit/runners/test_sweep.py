"""Sweep aggregation and the closed-loop drivers, in virtual time (no sockets, no sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from harness.errors import UsageError
from harness.records import capture_environment
from harness.runners.support.closedloop import Sample, Window, drive_async, drive_threads
from harness.runners.support.interrupted import Interrupted
from harness.runners.sweep import (
    DEFAULT_SUBJECTS,
    SweepPlan,
    level_record,
    littles_bound_rps,
    subject_measurer,
    sweep_levels,
    sweep_subjects,
)

ENV = capture_environment()


class VirtualTime:
    """A clock that only moves when a fake request 'takes' time."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_littles_bound_is_concurrency_over_latency() -> None:
    assert littles_bound_rps(8, 200.0) == pytest.approx(40.0)
    assert littles_bound_rps(1, 50.0) == pytest.approx(20.0)


def test_a_level_record_carries_the_sweep_series_and_labels() -> None:
    samples = (Sample(0.2, 200.0, True), Sample(0.4, 210.0, False), Sample(0.6, 190.0, True))
    window = Window(samples, duration_s=1.0, errors=0)
    record = level_record("async", 4, 200.0, window, environment=ENV, params={"x": 1})
    assert (record.runner, record.scenario) == ("sweep", "sync-vs-async")
    assert record.labels == {
        "subject": "async",
        "kind": "client",
        "concurrency": "4",
        "upstream_latency_ms": "200",
    }
    assert record.get("latency_ms").values == (200.0, 210.0, 190.0)
    assert record.get("throughput_rps").values == pytest.approx((5.0,))  # 3 done by 0.6 s
    assert record.get("errors").values == (1.0,)
    assert record.get("error_rate").values == pytest.approx((1 / 3,))
    assert record.get("littles_bound_rps").values == (20.0,)
    assert not record.partial


def test_gateway_subjects_are_told_apart_from_clients_of_the_same_name() -> None:
    window = Window((Sample(0.1, 100.0, True),), 1.0, 0)
    record = level_record("gateway:async", 1, 100.0, window, environment=ENV, params={})
    assert record.labels["kind"] == "gateway"
    assert record.matches(subject="gateway:async") and not record.matches(subject="async")


def test_a_point_with_no_completed_request_is_partial() -> None:
    record = level_record("async", 1, 100.0, Window((), 1.0, 0), environment=ENV, params={})
    assert record.partial and record.get("error_rate").values == (0.0,)


def test_levels_and_subjects_parse_from_the_command_line() -> None:
    assert sweep_levels("1, 2,4") == (1, 2, 4)
    with pytest.raises(UsageError, match="--levels"):
        sweep_levels("1,two")
    assert sweep_subjects("sync-wrapper,sync-legacy,async") == (
        "sync-wrapper",
        "gateway:sync-legacy",
        "async",
    )


def test_plans_refuse_nonsense() -> None:
    with pytest.raises(UsageError, match="levels"):
        SweepPlan(levels=(0, 4))
    with pytest.raises(UsageError, match="upstream-latency"):
        SweepPlan(upstream_latencies_ms=(0.0,))
    with pytest.raises(UsageError, match="unknown subjects"):
        SweepPlan(subjects=("async", "gateway:turbo"))
    assert SweepPlan(levels=(1, 2), subjects=DEFAULT_SUBJECTS[:2]).steps == 4


async def test_throughput_is_summed_per_worker_up_to_its_last_completion() -> None:
    # Two workers at 200 ms a request in a 1 s window; the deadline cut each one's 5th request.
    samples = tuple(Sample(0.2 * k, 200.0, True, worker=w) for w in (0, 1) for k in (1, 2, 3, 4))
    window = Window(samples, duration_s=1.0, errors=0)
    assert window.throughput_rps == pytest.approx(10.0)  # not 8 (completions / window)
    assert Window((), 1.0, 0).throughput_rps == 0.0


async def test_the_async_driver_keeps_n_requests_in_flight_until_the_window_ends() -> None:
    clock = VirtualTime()
    in_flight = [0]
    peak = [0]

    async def call() -> bool:
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        await asyncio.sleep(0)  # let every worker start its request
        clock.now_s += 0.025  # each of 4 workers adds a quarter of 100 ms
        in_flight[0] -= 1
        return True

    window = await drive_async(call, concurrency=4, duration_s=1.0, clock=clock)
    assert peak[0] == 4
    assert all(s.ok for s in window.samples)
    assert all(s.end_s <= 1.0 for s in window.samples)  # nothing ending after the window counts
    assert len(window.samples) == pytest.approx(40, abs=4)


async def test_the_async_driver_counts_exceptions_as_failed_requests() -> None:
    clock = VirtualTime()

    async def call() -> bool:
        clock.now_s += 0.1
        raise ConnectionError("gateway gone")

    window = await drive_async(call, concurrency=1, duration_s=0.5, clock=clock)
    assert window.errors == len(window.samples) == 5
    assert not any(s.ok for s in window.samples)


def test_the_thread_driver_runs_the_sync_call_from_n_threads() -> None:
    names: set[str] = set()
    barrier = threading.Barrier(3)
    clock = VirtualTime()
    lock = threading.Lock()

    def call() -> bool:
        name = threading.current_thread().name
        if name not in names:  # first request of each thread: all three are in one at once
            names.add(name)
            barrier.wait(timeout=5)
        with lock:
            clock.now_s += 0.05
        return True

    window = drive_threads(call, concurrency=3, duration_s=0.3, clock=clock)
    assert len(names) == 3
    assert window.samples and all(s.end_s <= 0.3 for s in window.samples)


def test_a_gateway_subject_is_served_only_while_it_is_measured() -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def open_gateway(variant: str) -> Iterator[str]:
        events.append(f"open {variant}")
        yield "http://127.0.0.1:1"
        events.append(f"close {variant}")

    with subject_measurer("gateway:sync-legacy", "http://mock", open_gateway, 8):
        assert events == ["open sync-legacy"]
    assert events == ["open sync-legacy", "close sync-legacy"]


def test_interrupted_carries_the_records_and_is_a_keyboard_interrupt() -> None:
    record = level_record("async", 1, 100.0, Window((), 1.0, 0), environment=ENV, params={})
    stop = Interrupted([record])
    assert isinstance(stop, KeyboardInterrupt) and stop.records == [record]
