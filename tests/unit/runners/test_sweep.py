"""Sweep aggregation and the closed-loop drivers, in virtual time (no sockets, no sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

import harness.runners.support.sweepsubjects as sweepsubjects
from harness.errors import UsageError
from harness.fidelity import FidelityTally
from harness.records import RunRecord, capture_environment, make_series
from harness.runners.support.closedloop import Sample, Window, drive_async, drive_threads
from harness.runners.support.interrupted import Interrupted
from harness.runners.sweep import (
    CEILING,
    DEFAULT_SUBJECTS,
    YARDSTICKS,
    Measured,
    SubjectRun,
    SweepPlan,
    SweepTarget,
    judged_level,
    level_record,
    littles_bound_rps,
    measure_level,
    open_subjects,
    sweep_levels,
    sweep_subjects,
    sweep_targets,
    with_exit,
)
from harness.subjects.token_providers import TokenGrant
from harness.subjects.upstream import ClientSettings
from harness.targets import RunningTarget, TargetSpec
from harness.targets.cputime import CpuUse
from harness.targets.discovery import ModelChoice
from harness.targets.process import ProcessExit
from tests.conftest import FakeClock

ENV = capture_environment()


def unused(level: int, duration_s: float) -> Measured:
    raise AssertionError("not measured in this test")


def client_run(name: str = "async") -> SubjectRun:
    return SubjectRun(name, "client", unused)


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
    record = level_record(
        client_run(), 4, 200.0, Measured(window), environment=ENV, params={"x": 1}
    )
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
    assert "status" not in record.series_names  # a client call has no HTTP status
    assert not record.partial


def test_a_level_record_keeps_the_cpu_the_client_and_the_subject_used() -> None:
    window = Window((Sample(0.2, 200.0, True, status=200),), 1.0, 0)
    measured = Measured(window, None, True, 1.25, 30, 0.1, CpuUse(0.9, 0.6, busiest_wait_s=0.2))
    run = SubjectRun("gateway:async", "gateway", unused)
    record = level_record(run, 1, 200.0, measured, environment=ENV, params={})
    assert record.get("cpu_span_s").values == (1.25,)
    assert record.get("span_requests").values == (30.0,)
    assert record.get("client_cpu_s").values == (0.1,)
    assert record.get("subject_cpu_s").values == (0.9,)
    assert record.get("subject_busiest_cpu_s").values == (0.6,)
    assert record.get("subject_busiest_wait_s").values == (0.2,)


def test_a_sweep_point_records_the_machines_load_at_its_start_and_end() -> None:
    window = Window((Sample(0.2, 200.0, True),), 1.0, 0)
    run = SubjectRun("async", "client", lambda level, duration_s: Measured(window))
    plan = SweepPlan(levels=(1,), upstream_latencies_ms=(200.0,), subjects=("async",),
                     duration_s=1.0)  # fmt: skip
    machine = measure_level(plan, run, 1, 200.0, ENV).params["machine_load"]
    assert set(machine) == {"cpu_count", "load_1m_start", "load_1m_end"}
    assert machine["cpu_count"] >= 1


def test_a_subject_whose_process_exited_keeps_the_level_it_died_at_and_is_measured_no_more() -> (
    None
):
    # Two answered, then refused (status 0): the process exited during this level (R85).
    samples = (Sample(0.1, 20.0, True, status=200), Sample(0.2, 20.0, True, status=200),
               Sample(0.3, 1.0, False, status=0))  # fmt: skip
    measured = Measured(Window(samples, 1.0, 1), None, True)
    alive, ended = SubjectRun("gw", "target", unused), ProcessExit(137, 1_000.0)
    dead = SubjectRun("gw", "target", unused, ended=lambda: ended)
    record = level_record(dead, 8, 200.0, measured, environment=ENV, params={})
    assert with_exit(alive, record, 999.0) is record and not alive.gone
    marked = with_exit(dead, record, 999.0)
    assert dead.gone and marked.partial
    assert marked.params["target_exit"]["requests_before"] == 2
    assert marked.params["target_exit"]["where"] == "the sweep's concurrency 8"
    # B9: the level's start is when its window began, not the end less its duration (the
    # judging after the window would place it past an early death).
    assert marked.params["target_exit"]["after_s"] == 1.0


def test_a_target_record_carries_its_role_statuses_and_fidelity() -> None:
    samples = (Sample(0.2, 200.0, True, status=200), Sample(0.3, 90.0, False, status=503))
    tally = FidelityTally()
    tally.add(())
    tally.add(("wrong_status",), "503")
    measured = Measured(Window(samples, 1.0, 0), tally, http=True)
    run = SubjectRun("launch:app", "target", unused, role="baseline")
    record = level_record(run, 2, 200.0, measured, environment=ENV, params={})
    assert record.labels["role"] == "baseline" and record.labels["kind"] == "target"
    assert record.labels["target"] == "launch:app"  # as load and card records name it
    assert record.get("status").values == (200.0, 503.0)
    assert record.get("fidelity_checked").values == (2.0,)
    assert record.get("fidelity_wrong_status").values == (1.0,)
    assert record.params["fidelity"]["examples"]["wrong_status"] == ["503"]


def test_a_target_behind_another_upstream_is_bounded_by_its_own_latency_alone() -> None:
    run = SubjectRun("127.0.0.1:8000", "target", unused, role="target", controlled=False)
    alone = Measured(Window((Sample(0.25, 250.0, True),), 1.0, 0))
    first = level_record(run, 1, 200.0, alone, environment=ENV, params={})
    busy = Measured(Window((Sample(0.5, 500.0, True),), 1.0, 0))
    second = level_record(run, 4, 200.0, busy, environment=ENV, params={})
    assert first.labels["upstream_latency_ms"] == "unknown"
    assert first.get("littles_bound_rps").values == pytest.approx((4.0,))  # 1 / 250 ms
    assert second.get("littles_bound_rps").values == pytest.approx((16.0,))  # still 250 ms
    assert second.params["bound_latency_ms"] == 250.0


def test_a_target_behind_another_upstream_is_not_bounded_by_how_fast_it_fails() -> None:
    run = SubjectRun("127.0.0.1:8000", "target", unused, role="target", controlled=False)
    failing = Measured(Window((Sample(0.002, 2.0, False, status=500),), 1.0, 0))
    first = level_record(run, 1, 200.0, failing, environment=ENV, params={})
    answered = Measured(Window((Sample(0.25, 250.0, True), Sample(0.3, 3.0, False)), 1.0, 0))
    second = level_record(run, 4, 200.0, answered, environment=ENV, params={})
    assert first.params["bound_latency_ms"] == 200.0  # no answer yet: the sweep's nominal L
    assert second.params["bound_latency_ms"] == 250.0  # the first answer's, not the error's


def test_gateway_subjects_are_told_apart_from_clients_of_the_same_name() -> None:
    window = Window((Sample(0.1, 100.0, True),), 1.0, 0)
    run = SubjectRun("gateway:async", "gateway", unused)
    record = level_record(run, 1, 100.0, Measured(window), environment=ENV, params={})
    assert record.labels["kind"] == "gateway" and "role" not in record.labels
    assert record.matches(subject="gateway:async") and not record.matches(subject="async")


def test_a_point_with_no_completed_request_is_partial() -> None:
    record = level_record(
        client_run(), 1, 100.0, Measured(Window((), 1.0, 0)), environment=ENV, params={}
    )
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
    with pytest.raises(UsageError, match="no subject"):
        SweepPlan(subjects=())
    with pytest.raises(UsageError, match="rounds"):
        SweepPlan(rounds=0)
    assert SweepPlan(levels=(1, 2), subjects=DEFAULT_SUBJECTS[:2], rounds=1).steps == 4
    # two more turns of both subjects at the judged level, or of those named to take them
    assert SweepPlan(levels=(1, 2), subjects=DEFAULT_SUBJECTS[:2], rounds=3).steps == 8
    named = SweepPlan(levels=(1, 2), subjects=DEFAULT_SUBJECTS[:2], rounds=3,
                      rounds_for=(DEFAULT_SUBJECTS[0],))  # fmt: skip
    assert named.steps == 6 and named.in_rounds(DEFAULT_SUBJECTS[:2]) == [DEFAULT_SUBJECTS[0]]


def test_plans_refuse_targets_that_cannot_be_told_apart_or_bounded() -> None:
    with pytest.raises(UsageError, match="names must differ"):
        SweepPlan(targets=(SweepTarget("app"), SweepTarget("app", "candidate")))
    with pytest.raises(UsageError, match="names must differ"):
        SweepPlan(targets=(SweepTarget("gateway:async"),))
    with pytest.raises(UsageError, match="role"):
        SweepPlan(targets=(SweepTarget("app", "champion"),))
    with pytest.raises(UsageError, match="several --upstream-latency"):
        SweepPlan(targets=(SweepTarget("app", behind_mock=False),),
                  upstream_latencies_ms=(50.0, 200.0))  # fmt: skip


def test_the_client_ceiling_is_measured_first_when_anything_is_swept_over_http() -> None:
    plan = SweepPlan(subjects=YARDSTICKS, targets=(SweepTarget("app"),))
    assert plan.all_subjects == (CEILING, "app", *YARDSTICKS)
    assert SweepPlan(subjects=("async", "sync-wrapper")).all_subjects == ("async", "sync-wrapper")


def test_targets_sharing_a_name_are_named_by_role_and_a_url_is_behind_the_mock_only_if_said() -> (
    None
):
    app = TargetSpec(command="python app.py")
    url = TargetSpec(url="http://127.0.0.1:8000")
    named = sweep_targets([(app, "baseline"), (app, "candidate")], mock_given=False)
    assert list(named) == ["launch:app (baseline)", "launch:app (candidate)"]
    assert all(target.behind_mock for _, target in named.values())
    assert not sweep_targets([(url, "target")], mock_given=False)["127.0.0.1:8000"][1].behind_mock
    assert sweep_targets([(url, "target")], mock_given=True)["127.0.0.1:8000"][1].behind_mock


async def test_throughput_is_summed_per_worker_up_to_its_last_completion() -> None:
    # Two workers at 200 ms a request in a 1 s window; the deadline cut each one's 5th request.
    samples = tuple(Sample(0.2 * k, 200.0, True, worker=w) for w in (0, 1) for k in (1, 2, 3, 4))
    window = Window(samples, duration_s=1.0, errors=0)
    assert window.throughput_rps == pytest.approx(10.0)  # not 8 (completions / window)
    assert Window((), 1.0, 0).throughput_rps == 0.0


def test_throughput_behind_a_queue_is_read_after_each_workers_warm_up() -> None:
    # 8 workers, 2 served at a time, 105 ms each: the steady state is 19 req/s. The first
    # requests, queued from a common start, ended at 105, 210, 315 and 420 ms, two at each;
    # after them every request waits behind the other 7 (420 ms) and 6 end in the 0.8 s window.
    warmups = {w: 0.105 * (1 + w // 2) for w in range(8)}
    samples = tuple(Sample(warmups[w] + 0.42, 420.0, True, worker=w) for w in range(6))
    window = Window(samples, 0.8, 0, concurrency=8, warmup_end_s=warmups)
    assert window.throughput_rps == pytest.approx(8 / 0.42)


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
    assert len(window.samples) == pytest.approx(40 - 4, abs=4)  # less each worker's warm-up
    assert sorted(window.warmup_end_s) == [0, 1, 2, 3] and window.concurrency == 4


async def test_a_worker_starved_past_the_deadline_still_gets_one_measured_request() -> None:
    # The first task's requests take 50 ms, the second's 200 ms (virtual, one after another):
    # by the 0.3 s deadline the slow one has only finished its warm-up.
    clock = VirtualTime()
    tasks: list[object] = []

    async def call() -> bool:
        task = asyncio.current_task()
        if task not in tasks:
            tasks.append(task)
        clock.now_s += 0.05 if task is tasks[0] else 0.2
        await asyncio.sleep(0)
        return True

    window = await drive_async(call, concurrency=2, duration_s=0.3, clock=clock)
    slow = [s for s in window.samples if s.worker == 1]
    assert len(slow) == 1 and slow[0].end_s > 0.3  # measured in overtime, not left out


async def test_a_worker_stuck_in_its_warm_up_is_counted_by_it() -> None:
    clock = VirtualTime()

    async def call() -> bool:
        clock.now_s += 2.0  # longer than the window and all its overtime
        return False

    window = await drive_async(call, concurrency=1, duration_s=0.3, clock=clock)
    assert [(s.latency_ms, s.ok) for s in window.samples] == [(2000.0, False)]
    assert window.errors == 0 and window.throughput_rps == pytest.approx(0.5)


async def test_the_async_driver_keeps_http_statuses_and_counts_only_2xx_as_ok() -> None:
    clock = VirtualTime()
    statuses = iter([100, 200, 503, 204, 200])  # the 1st warms up, the 5th ends too late

    async def call() -> int:
        clock.now_s += 0.1
        return next(statuses)

    window = await drive_async(call, concurrency=1, duration_s=0.41, clock=clock)
    assert [(s.status, s.ok) for s in window.samples] == [(200, True), (503, False), (204, True)]
    assert window.errors == 0


async def test_a_worker_told_to_retry_after_waits_that_long_before_its_next_request() -> None:
    # R74: a gateway's own rate limit answers 429 + Retry-After: 1 in 1 ms; re-sending at once
    # turned a 20 req/s limit into thousands of re-sends a second.
    clock = VirtualTime()
    waits: list[float] = []

    async def call() -> tuple[int, int, float]:
        clock.now_s += 0.001
        return 429, -1, 1.0

    async def sleep(wait_s: float) -> None:
        waits.append(wait_s)
        clock.now_s += wait_s

    window = await drive_async(call, concurrency=1, duration_s=2.5, clock=clock, sleep=sleep)
    assert len(window.samples) == 2 and all(s.retry_after_s == 1.0 for s in window.samples)
    # Never past the window's end: the last wait is cut to what is left of it.
    assert waits[:2] == [1.0, 1.0] and waits[2] == pytest.approx(0.497)


async def test_a_429_that_asks_no_wait_holds_its_worker_back_as_an_openai_client_would() -> None:
    # R137: nginx answered 429 with no Retry-After; sfperf re-sent ~2,000 a second.
    clock = VirtualTime()
    waits: list[float] = []

    async def call() -> tuple[int, int]:
        clock.now_s += 0.001
        return 429, -1

    async def sleep(wait_s: float) -> None:
        waits.append(wait_s)
        clock.now_s += wait_s

    window = await drive_async(call, concurrency=1, duration_s=1.2, clock=clock, sleep=sleep)
    assert waits[:2] == [0.5, 0.5] and all(s.retry_after_s == 0.0 for s in window.samples)


async def test_the_async_driver_counts_exceptions_as_failed_requests() -> None:
    clock = VirtualTime()

    async def call() -> bool:
        clock.now_s += 0.1
        raise ConnectionError("gateway gone")

    window = await drive_async(call, concurrency=1, duration_s=0.5, clock=clock)
    assert window.errors == len(window.samples) == 4  # the first one was the warm-up
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
    late = [s for s in window.samples if s.end_s > 0.3]  # only a worker's first past warm-up
    assert window.samples and len({s.worker for s in late}) == len(late)


def test_gateways_and_targets_are_served_until_the_sweep_ends() -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def serve(subject: str) -> Iterator[RunningTarget]:
        events.append(f"open {subject}")
        yield RunningTarget(subject, "http://127.0.0.1:1")
        events.append(f"close {subject}")

    plan = SweepPlan(subjects=("gateway:sync-legacy", "async"), targets=(SweepTarget("app"),),
                     ceiling=False)  # fmt: skip
    with contextlib.ExitStack() as stack:
        runs = open_subjects(plan, "http://mock", serve, stack, None,
                             choose_model=lambda *_: ModelChoice.given("own-model"))  # fmt: skip
        assert [(r.name, r.kind) for r in runs] == [
            ("app", "target"), ("gateway:sync-legacy", "gateway"), ("async", "client"),
        ]  # fmt: skip
        assert events == ["open app", "open gateway:sync-legacy"]
        assert runs[0].params["model"] == "own-model"
    assert events[2:] == ["close gateway:sync-legacy", "close app"]


def test_interrupted_carries_the_records_and_is_a_keyboard_interrupt() -> None:
    record = level_record(
        client_run(), 1, 100.0, Measured(Window((), 1.0, 0)), environment=ENV, params={}
    )
    stop = Interrupted([record])
    assert isinstance(stop, KeyboardInterrupt) and stop.records == [record]


def test_a_model_already_chosen_for_a_target_is_sent_without_a_new_probe() -> None:
    @contextlib.contextmanager
    def serve(subject: str) -> Iterator[RunningTarget]:
        yield RunningTarget(subject, "http://127.0.0.1:1")

    def probe(*_: object) -> ModelChoice:
        raise AssertionError("probed again: a caching gateway answers that from its cache")

    plan = SweepPlan(subjects=(), targets=(SweepTarget("app"),), ceiling=False)
    with contextlib.ExitStack() as stack:
        (run,) = open_subjects(plan, "http://mock", serve, stack, None, choose_model=probe,
                               chosen={"app": ModelChoice("own-model", "probe")})  # fmt: skip
    assert (run.params["model"], run.params["model_source"]) == ("own-model", "probe")


def point(subject: str, kind: str, level: int, rps: float) -> RunRecord:
    """A sweep point whose subject reached `rps` (the ceiling: the sweep's client alone)."""
    window = Window(tuple(Sample(0.1 * i, 200.0, True) for i in range(20)), 1.0, 0, level)
    record = level_record(SubjectRun(subject, kind, unused), level, 200.0, Measured(window),
                          environment=ENV, params={})  # fmt: skip
    series = tuple(s for s in record.series if s.name != "throughput_rps")
    return replace(record, series=(*series, make_series("throughput_rps", "rps", [rps])))


def test_further_rounds_go_to_the_highest_level_where_the_client_was_no_subjects_limit() -> None:
    # At 64 the gateway only matched what the sweep's client reached alone: claims pass 64
    # over, so the rounds are taken at 32, where they will be judged.
    records = [
        point(CEILING, "ceiling", 32, 158.0), point("gateway:async", "gateway", 32, 155.0),
        point(CEILING, "ceiling", 64, 250.0), point("gateway:async", "gateway", 64, 249.0),
    ]  # fmt: skip
    assert judged_level(records) == 32
    assert judged_level(records[:2]) == 32
    assert judged_level(records[2:]) is None


def test_the_ceilings_token_is_fetched_again_when_it_would_not_outlive_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # R130: behind a mock giving 20 s tokens the ceiling kept one: 9,532 x 401 expired.
    clock = FakeClock(1000.0)
    fetched: list[float] = []

    def fetch(settings: ClientSettings, now: Callable[[], float]) -> TokenGrant:
        fetched.append(now())
        return TokenGrant(f"token-{len(fetched)}", now(), now() + 20.0)

    monkeypatch.setattr(sweepsubjects, "fetch_grant", fetch)
    bearer = sweepsubjects.Bearer(ClientSettings(upstream_url="http://mock"), clock)
    assert bearer.headers(10.0)["Authorization"] == "Bearer token-1"
    clock.sleep(12.0)  # 8 s left: not enough for a 10 s window
    assert bearer.headers(10.0)["Authorization"] == "Bearer token-2"
    assert fetched == [1000.0, 1012.0]
