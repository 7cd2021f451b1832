"""Lining up two runs' records: identical labels, or one target against one, each compared."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from harness.changes import MinimumEffect, compare_closed_loop_throughput
from harness.gate import shipped_rules
from harness.pairing import (
    compare_series,
    errors_text,
    held_back,
    knees_side_by_side,
    pair_records,
    shared_series,
    split_roles,
    sweep_rows,
)
from harness.records import RunRecord, capture_environment, make_series

ENV = capture_environment()


# Each record draws from its own seed: what a test sees does not depend on the tests before it.
def load(target: str, latency_ms: float, users: int = 16, n: int = 200) -> RunRecord:
    rng = np.random.default_rng([zlib.crc32(target.encode()), users, round(latency_ms * 1000)])
    latencies = rng.normal(latency_ms, latency_ms / 20, n)
    series = (make_series("latency_ms", "ms", latencies), make_series("ok", "count", [1.0] * n),
              make_series("throughput_rps", "rps", [users * 1000 / latency_ms]))  # fmt: skip
    labels = {"target": target, "mode": "closed"}
    params = {"users": users, "target_url": f"http://{target}"}
    return RunRecord("load", "steady", params, ENV, series, labels=labels)


def sweep(
    subject: str,
    level: int,
    latency_ms: float,
    ok_share: float = 1.0,
    client_cpu_share: float | None = None,
    **labels: str,
) -> RunRecord:
    n = 400
    rng = np.random.default_rng([zlib.crc32(subject.encode()), level, round(latency_ms * 1000)])
    latencies = rng.normal(latency_ms, latency_ms / 50, n)
    ok = (np.arange(n) < ok_share * n).astype(float)
    series = [make_series("latency_ms", "ms", latencies), make_series("ok", "count", ok),
              make_series("throughput_rps", "rps", [level * 1000 / latency_ms * ok_share]),
              make_series("littles_bound_rps", "rps", [level * 5.0])]  # fmt: skip
    if client_cpu_share is not None:  # the sweep's client, over a 1 s span
        series += [make_series("cpu_span_s", "s", [1.0]),
                   make_series("client_cpu_s", "s", [client_cpu_share])]  # fmt: skip
    all_labels = {"subject": subject, "kind": "target", "concurrency": str(level),
                  "upstream_latency_ms": "200", **labels}  # fmt: skip
    return RunRecord("sweep", "sync-vs-async", {}, ENV, tuple(series), labels=all_labels)


def test_runs_that_each_measured_one_target_line_up_and_name_the_label_that_differs() -> None:
    (pair,) = pair_records([load("flask-app", 200.0)], [load("quart-app", 100.0)])
    assert pair.key == "load/steady[mode=closed]"
    assert pair.differs == ("target: flask-app → quart-app",)
    assert pair.params_differ == ()  # where each target was is not a difference of load
    change = compare_series(pair, "latency_ms")
    assert change is not None
    assert change.ratio == pytest.approx(0.5, rel=0.03)
    assert change.interval.high < 1.0 and change.verdict == "better"


def test_identical_labels_pair_as_they_are_and_differing_load_is_named() -> None:
    (pair,) = pair_records([load("app", 200.0, users=16)], [load("app", 200.0, users=32)])
    assert pair.differs == () and pair.params_differ == ("users: 16 → 32",)


def test_runs_that_measured_several_targets_are_not_guessed_into_pairs() -> None:
    baseline = [load("a", 200.0), load("b", 200.0)]
    assert pair_records(baseline, [load("c", 100.0)]) == []


def test_a_single_value_a_side_gets_a_ratio_but_no_interval() -> None:
    (pair,) = pair_records([load("a", 200.0)], [load("b", 100.0)])
    change = compare_series(pair, "throughput_rps")
    assert change is not None and change.ratio == pytest.approx(2.0)
    assert math.isnan(change.interval.low) and change.verdict == "too few values"


def test_sweep_throughput_counts_only_successful_requests_by_littles_law() -> None:
    (pair,) = pair_records([sweep("a", 8, 200.0)], [sweep("b", 8, 200.0, ok_share=0.5)])
    change = compare_closed_loop_throughput(pair.baseline, pair.candidate, MinimumEffect())
    assert change.baseline == pytest.approx(40.0, rel=0.01)  # 8 callers / 200 ms
    assert change.ratio == pytest.approx(0.5, rel=0.02)  # half the answers are errors
    assert change.verdict == "worse"


def test_two_targets_of_one_sweep_run_line_up_level_by_level_with_their_knees() -> None:
    records = [
        sweep("threaded", level, 200.0 * max(1.0, level / 4), role="baseline")
        for level in (1, 4, 16)
    ] + [sweep("async", level, 200.0, role="candidate") for level in (1, 4, 16)]
    halves = split_roles(records)
    assert halves is not None
    rows = sweep_rows(*halves)
    assert [(r.subject, r.concurrency) for r in rows] == [
        ("threaded → async", 1), ("threaded → async", 4), ("threaded → async", 16),
    ]  # fmt: skip
    assert rows[0].throughput.verdict == "no clear change"
    assert rows[2].throughput.ratio == pytest.approx(4.0, rel=0.03)
    assert rows[2].p99.verdict == "better"
    ((base, cand),) = knees_side_by_side(*halves)
    assert (base.subject, base.knee, base.shape) == ("threaded", 4, "cap")
    assert (cand.subject, cand.knee, cand.shape) == ("async", 16, "scales")


def test_a_run_without_both_roles_has_no_halves() -> None:
    assert split_roles([sweep("a", 1, 200.0, role="target")]) is None


def test_status_and_timestamps_are_left_out_and_the_ok_rate_leads() -> None:
    def with_context(record: RunRecord) -> RunRecord:
        n = len(record.get("ok").values)
        extra = (make_series("status", "code", [200.0] * n), make_series("t_s", "s", range(n)))
        return RunRecord(record.runner, record.scenario, record.params, ENV,
                         (*record.series, *extra), labels=record.labels)  # fmt: skip

    (pair,) = pair_records([with_context(load("a", 200.0))], [with_context(load("b", 100.0))])
    assert shared_series(pair) == ["ok", "throughput_rps", "latency_ms"]


def test_a_sweep_level_where_the_baseline_failed_everything_is_not_a_latency_verdict() -> None:
    # R11: the baseline answered every request with a fast error; the candidate answered.
    (row,) = sweep_rows([sweep("flask", 1, 6.0, ok_share=0.0)], [sweep("quart", 1, 210.0)])
    assert (row.throughput.baseline, row.throughput.verdict) == (0.0, "better")
    assert row.throughput.note == "only the candidate had ok replies"
    assert row.p99.verdict == "not compared"
    assert row.p99.describe() == "not compared: the baseline's ok rate is 0%"
    assert row.error_rate == (1.0, 0.0)


def test_unchanged_subjects_between_two_runs_get_no_verdict_for_a_percent() -> None:
    # The sweep's own client against the mock in two runs: 1% apart, significant, meaningless.
    base = [sweep("ceiling", 8, 200.0, kind="ceiling")]
    cand = [sweep("ceiling", 8, 198.0, kind="ceiling")]
    (row,) = sweep_rows(base, cand, shipped_rules())
    assert row.throughput.interval.low > 1.0 and row.throughput.verdict == "small change"
    assert row.throughput.note.startswith("+1.")  # percent, about
    assert row.throughput.note.endswith("%: under the minimum effect (10%)")
    assert row.p99.verdict in ("small change", "no clear change")


def test_a_level_where_the_client_was_the_limit_gives_only_verdicts_it_cannot_distort() -> None:
    base = [sweep("threaded", 64, 400.0), sweep("threaded", 128, 800.0)]
    busy = [sweep("async", 64, 200.0), sweep("async", 128, 300.0, client_cpu_share=0.95)]
    rows = {row.concurrency: row for row in sweep_rows(base, busy)}
    assert rows[64].throughput.verdict == "better"
    assert rows[128].throughput.verdict == "better"  # held back, and still better: it stands
    assert rows[128].cpu_ms_per_request == (None, None)
    slower = [sweep("async", 64, 200.0), sweep("async", 128, 900.0, client_cpu_share=0.95)]
    held = {row.concurrency: row for row in sweep_rows(base, slower)}[128]
    assert held.throughput.verdict == "client-bound"
    assert held.throughput.note.startswith("the sweep's own client was the limit for the candidate")


def test_only_a_verdict_in_favour_of_the_held_back_side_stands() -> None:
    (pair,) = pair_records([sweep("a", 8, 200.0)], [sweep("b", 8, 100.0)])
    better = compare_closed_loop_throughput(pair.baseline, pair.candidate, MinimumEffect())
    assert better.verdict == "better"
    assert held_back(better, False, True).verdict == "better"
    assert held_back(better, True, False).verdict == "client-bound"
    assert held_back(better, True, True).verdict == "client-bound"


def test_a_level_going_from_no_errors_to_sixty_percent_is_worse_whatever_its_throughput() -> None:
    # R70: the candidate's fast wrong replies kept its ok throughput within 10%.
    (row,) = sweep_rows([sweep("a", 8, 200.0)], [sweep("b", 8, 80.0, ok_share=0.4)],
                        shipped_rules())  # fmt: skip
    assert row.ok is not None and row.ok.verdict == "worse"
    assert errors_text(row.ok) == "errors 0.0% → 60.0%: worse"


def test_error_rates_a_point_apart_are_not_a_change() -> None:
    (row,) = sweep_rows([sweep("a", 8, 200.0, ok_share=0.995)], [sweep("b", 8, 200.0)],
                        shipped_rules())  # fmt: skip
    assert row.ok is not None and row.ok.verdict in ("small change", "no clear change")
