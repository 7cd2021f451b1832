"""One metric, candidate against baseline: what is compared, and when a change earns a verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.changes import (
    Change,
    MinimumEffect,
    compare_metric,
    compare_rates,
    minimum_effect,
    verdict_of,
)
from harness.gate import shipped_rules
from harness.records import RunRecord, capture_environment, make_series
from harness.stats import Interval

ENV = capture_environment()
RNG = np.random.default_rng(11)
ONE_POINT = MinimumEffect(None, 0.01, "point")


def load(
    latency_ms: float, ok_share: float = 1.0, n: int = 400, error_ms: float = 9.0, **counts: int
) -> RunRecord:
    """A closed-loop load run: the first `ok_share` of requests answered 200 after about
    `latency_ms`, the rest failed with a 500 after about `error_ms`."""
    answered = round(ok_share * n)
    ok = np.arange(n) < answered
    latency = np.where(ok, RNG.normal(latency_ms, latency_ms / 20, n), RNG.normal(error_ms, 1, n))
    series = [
        make_series("latency_ms", "ms", latency),
        make_series("ok", "count", ok.astype(float)),
        make_series("status", "code", np.where(ok, 200.0, 500.0)),
        make_series("t_s", "s", np.linspace(0, 5, n)),
        make_series("send_lag_ms", "ms", np.zeros(n)),
        make_series("throughput_rps", "rps", [16 * 1000 / float(np.mean(latency))]),
    ]
    series += [make_series(name, "count", [value]) for name, value in counts.items()]
    return RunRecord("load", "steady", {}, ENV, tuple(series), labels={"mode": "closed"})


def compared(base: RunRecord, cand: RunRecord, series: str) -> Change | None:
    return compare_metric([base], [cand], series, shipped_rules())


def test_status_codes_timestamps_and_the_generators_lag_are_not_metrics() -> None:
    base, cand = load(200.0), load(100.0)
    assert all(compared(base, cand, s) is None for s in ("status", "t_s", "send_lag_ms"))


def test_a_baseline_that_failed_everything_fast_is_not_faster_but_not_compared() -> None:
    # R11: every baseline request answered 500 in 9 ms; every candidate request 200 in ~1 s.
    base, cand = load(1000.0, ok_share=0.0, n=2274), load(1000.0, n=18)
    latency = compared(base, cand, "latency_ms")
    assert latency is not None and latency.verdict == "not compared"
    assert latency.note == "the baseline's ok rate is 0%"
    assert latency.describe() == "not compared: the baseline's ok rate is 0%"
    ok = compared(base, cand, "ok")
    assert ok is not None and (ok.basis, ok.verdict) == ("rate", "better")
    assert ok.note.startswith("0.0% → 100.0%: +100.0 points")
    throughput = compared(base, cand, "throughput_rps")
    assert throughput is not None and (throughput.baseline, throughput.basis) == (
        0.0,
        "ok replies/s",
    )
    assert throughput.note == "the baseline had no ok reply (ok rate 0%)"


def test_latency_is_compared_over_ok_replies_only() -> None:
    # Half the baseline's requests failed in 9 ms: its median over all requests is ~100 ms.
    base, cand = load(200.0, ok_share=0.5), load(200.0)
    latency = compared(base, cand, "latency_ms")
    assert latency is not None and latency.basis == "median of ok replies"
    assert latency.baseline == pytest.approx(200.0, rel=0.02) and latency.n_baseline == 200
    assert latency.verdict in ("no clear change", "small change")


def test_a_significant_change_under_the_gates_minimum_effect_is_only_a_small_change() -> None:
    base = load(200.0, n=4000)
    small, large = load(204.0, n=4000), load(240.0, n=4000)
    slightly = compared(base, small, "latency_ms")
    assert slightly is not None and slightly.interval.low > 1.0  # significant...
    assert slightly.verdict == "small change"  # ...but 2% is under the load rule's 10%
    assert slightly.note.endswith("under the minimum effect (10% and 1 ms)")
    clearly = compared(base, large, "latency_ms")
    assert clearly is not None and clearly.verdict == "worse"


def test_the_minimum_effect_is_the_first_gate_rule_for_the_series_else_the_gates_default() -> None:
    rules = shipped_rules()
    record = load(200.0)
    assert minimum_effect(record, "latency_ms", rules) == MinimumEffect(0.10, 1.0, "ms")
    assert minimum_effect(record, "throughput_rps", rules) == MinimumEffect(0.10, None, "rps")
    assert minimum_effect(record, "ok", rules) == MinimumEffect(None, 0.01, "point")
    assert MinimumEffect(None, 0.01, "point").describe() == "1 point"
    assert MinimumEffect(0.05, 2.0, "ms").describe() == "5% and 2 ms"


def test_rates_are_compared_in_points_with_newcombes_interval() -> None:
    worse = compare_rates([1.0] * 990 + [0.0] * 10, [1.0] * 900 + [0.0] * 100, "higher",
                          ONE_POINT)  # fmt: skip
    assert worse is not None and worse.verdict == "worse"
    assert worse.note.startswith("99.0% → 90.0%: -9.0 points [")
    alike = compare_rates([1.0] * 995 + [0.0] * 5, [1.0] * 993 + [0.0] * 7, "higher",
                          ONE_POINT)  # fmt: skip
    assert alike is not None and alike.verdict == "no clear change"
    # Significant with this many requests, but under a point: not a verdict.
    many = 200_000
    nudge = compare_rates([1.0] * many, [1.0] * (many - 1000) + [0.0] * 1000, "higher",
                          ONE_POINT)  # fmt: skip
    assert nudge is not None and nudge.verdict == "small change"
    assert nudge.note.endswith("-0.5 points [-0.5, -0.5]; under the minimum effect (1 point)")


def test_counts_over_a_window_are_compared_per_request() -> None:
    base = load(200.0, n=100, file_opens=10)
    cand = load(200.0, n=1000, file_opens=20)
    change = compared(base, cand, "file_opens")
    assert change is not None and change.basis == "per request"
    assert (change.baseline, change.candidate) == pytest.approx((0.1, 0.02))
    assert change.verdict == "too few values" and math.isnan(change.interval.low)


def test_a_count_of_requests_is_compared_as_the_rate_it_is() -> None:
    # R45: usage wrong on 17 of 17 replies against 0 of 18 is decided, not "too few values".
    change = compared(load(200.0, n=18, fidelity_usage_mismatch=0),
                      load(200.0, n=17, fidelity_usage_mismatch=17),
                      "fidelity_usage_mismatch")  # fmt: skip
    assert change is not None and change.basis == "per request"
    assert (change.baseline, change.candidate, change.verdict) == (0.0, 1.0, "worse")
    assert change.note.startswith("0.0% → 100.0%: +100.0 points [")
    fewer = compared(load(200.0, n=100, no_reply=10), load(200.0, n=1000, no_reply=20),
                     "no_reply")  # fmt: skip
    assert fewer is not None and fewer.verdict == "better"


def test_verdicts_need_an_interval_that_excludes_one_and_know_which_way_is_better() -> None:
    assert verdict_of(Interval(1.1, 1.3), "higher") == "better"
    assert verdict_of(Interval(1.1, 1.3), "lower") == "worse"
    assert verdict_of(Interval(0.7, 0.9), "") == "lower"
    assert verdict_of(Interval(0.9, 1.1), "higher") == "no clear change"
    assert verdict_of(Interval(math.nan, math.nan), "higher") == "no interval"


def added(median_ms: float, n: int = 300) -> RunRecord:
    """A load run whose added latency per ok reply is about `median_ms` (± 1.5 ms of clock
    noise: a lean gateway's figures go below zero)."""
    values = median_ms + RNG.permutation(np.linspace(-1.5, 1.5, n))
    series = (make_series("added_latency_ms", "ms", values),)
    return RunRecord("load", "resilience", {}, ENV, series, labels={"mode": "closed"})


def test_added_latency_near_zero_is_compared_as_a_difference_in_ms_never_as_a_ratio() -> None:
    # R91: 4.04 ms against a Go gateway's -0.052 ms was "-0.01287 [-0.021, -0.002], better".
    change = compared(added(4.0), added(-0.05), "added_latency_ms")
    assert change is not None and change.basis == "difference of medians"
    assert math.isnan(change.ratio) and math.isnan(change.interval.low)
    assert change.candidate >= 0.0 and change.verdict == "better"
    assert change.note.startswith("4.00 ms → under 1 ms: -4.00 ms [")
    # Within the clocks' resolution both sides: no verdict worth the name.
    alike = compared(added(0.2), added(0.6), "added_latency_ms")
    assert alike is not None and alike.verdict in ("no clear change", "small change")
    assert alike.note.startswith("under 1 ms → under 1 ms")


def test_added_latency_well_above_the_resolution_is_still_a_ratio_of_medians() -> None:
    change = compared(added(4.0), added(12.0), "added_latency_ms")
    assert change is not None and change.basis == "median"
    assert change.ratio == pytest.approx(3.0, rel=0.1) and change.verdict == "worse"
