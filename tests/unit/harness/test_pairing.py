"""Lining up two runs' records: identical labels, or one target against one, each compared."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.pairing import (
    compare_series,
    knees_side_by_side,
    pair_records,
    split_roles,
    sweep_rows,
    throughput_change,
    verdict_of,
)
from harness.records import RunRecord, capture_environment, make_series
from harness.stats import Interval

ENV = capture_environment()
RNG = np.random.default_rng(7)


def load(target: str, latency_ms: float, users: int = 16, n: int = 200) -> RunRecord:
    latencies = RNG.normal(latency_ms, latency_ms / 20, n)
    series = (make_series("latency_ms", "ms", latencies), make_series("ok", "count", [1.0] * n),
              make_series("throughput_rps", "rps", [users * 1000 / latency_ms]))  # fmt: skip
    labels = {"target": target, "mode": "closed"}
    params = {"users": users, "target_url": f"http://{target}"}
    return RunRecord("load", "steady", params, ENV, series, labels=labels)


def sweep(
    subject: str, level: int, latency_ms: float, ok_share: float = 1.0, **labels: str
) -> RunRecord:
    n = 400
    latencies = RNG.normal(latency_ms, latency_ms / 50, n)
    ok = (np.arange(n) < ok_share * n).astype(float)
    series = (make_series("latency_ms", "ms", latencies), make_series("ok", "count", ok),
              make_series("throughput_rps", "rps", [level * 1000 / latency_ms * ok_share]),
              make_series("littles_bound_rps", "rps", [level * 5.0]))  # fmt: skip
    all_labels = {"subject": subject, "kind": "target", "concurrency": str(level),
                  "upstream_latency_ms": "200", **labels}  # fmt: skip
    return RunRecord("sweep", "sync-vs-async", {}, ENV, series, labels=all_labels)


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


def test_verdicts_need_an_interval_that_excludes_one_and_know_which_way_is_better() -> None:
    assert verdict_of(Interval(1.1, 1.3), "higher") == "better"
    assert verdict_of(Interval(1.1, 1.3), "lower") == "worse"
    assert verdict_of(Interval(0.7, 0.9), "") == "lower"
    assert verdict_of(Interval(0.9, 1.1), "higher") == "no clear change"


def test_sweep_throughput_counts_only_successful_requests_by_littles_law() -> None:
    (pair,) = pair_records([sweep("a", 8, 200.0)], [sweep("b", 8, 200.0, ok_share=0.5)])
    change = throughput_change(pair)
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
