"""Statistics agree with textbook answers and separate A/A samples from shifted ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from harness.stats import (
    binomial_tail,
    cliffs_delta,
    compare_rates,
    compare_samples,
    effect_label,
    paired_ratio,
    proportion_mde,
    summarize,
    wilson_interval,
)


def test_the_wilson_interval_matches_the_textbook_value_for_81_of_263() -> None:
    # Agresti & Coull style example: 81/263 -> (0.2553, 0.3662) at 95%.
    interval = wilson_interval(81, 263)
    assert interval.low == pytest.approx(0.2553, abs=5e-4)
    assert interval.high == pytest.approx(0.3662, abs=5e-4)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (9, 11), (10, 10), (500, 1000)])
def test_the_wilson_interval_agrees_with_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(method="wilson")
    interval = wilson_interval(k, n)
    assert interval.low == pytest.approx(expected.low, abs=1e-9)
    assert interval.high == pytest.approx(expected.high, abs=1e-9)


def test_a_wilson_interval_refuses_more_successes_than_trials() -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 4)


def test_a_summary_reports_the_exact_median_and_percentiles() -> None:
    summary = summarize(list(range(1, 102)))
    assert summary.n == 101
    assert summary.median == 51
    assert summary.percentiles[90] == pytest.approx(91)
    assert summary.mean == pytest.approx(51)
    assert summary.median_ci.low <= 51 <= summary.median_ci.high


def test_a_summary_is_the_same_on_every_run_because_the_bootstrap_is_seeded() -> None:
    values = np.random.default_rng(1).lognormal(size=300).tolist()
    assert summarize(values) == summarize(values)


def test_the_median_interval_covers_the_true_median_of_a_normal_sample() -> None:
    values = np.random.default_rng(2).normal(10.0, 1.0, size=400)
    ci = summarize(values.tolist()).median_ci
    assert ci.low < 10.0 < ci.high
    assert ci.high - ci.low < 0.5


def test_an_empty_sample_cannot_be_summarized() -> None:
    with pytest.raises(ValueError, match="no values"):
        summarize([])


def test_an_a_a_comparison_finds_no_difference() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(0, 0.2, 200), rng.lognormal(0, 0.2, 200)
    result = compare_samples(a.tolist(), b.tolist())
    assert result.ratio_ci.contains(1.0)
    assert result.p_value > 0.01
    assert effect_label(result.cliffs_delta) in {"negligible", "small"}


def test_a_fifteen_percent_shift_is_measured_and_significant() -> None:
    rng = np.random.default_rng(4)
    a = rng.lognormal(0, 0.1, 200)
    b = rng.lognormal(0, 0.1, 200) * 1.15
    result = compare_samples(a.tolist(), b.tolist())
    assert result.ratio == pytest.approx(1.15, abs=0.04)
    assert result.ratio_ci.low > 1.05
    assert result.p_value < 1e-6
    assert result.relative_change > 0.1
    assert 0 < result.mde_relative < 0.15


def test_cliffs_delta_is_one_when_every_candidate_value_is_larger() -> None:
    assert cliffs_delta(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert cliffs_delta(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == -1.0


def test_the_detectable_difference_shrinks_as_samples_grow() -> None:
    assert proportion_mde(0.5, 10_000, 10_000) < proportion_mde(0.5, 100, 100)
    assert proportion_mde(0.5, 100, 100) == pytest.approx(0.198, abs=0.002)


def test_the_binomial_tail_is_the_chance_of_at_least_that_many_successes() -> None:
    assert binomial_tail(5, 5, 0.25) == pytest.approx(0.25**5)
    assert binomial_tail(0, 7, 0.3) == pytest.approx(1.0)
    assert binomial_tail(2, 3, 0.5) == pytest.approx(0.5)  # 3 + 1 of 8 outcomes
    with pytest.raises(ValueError):
        binomial_tail(4, 3, 0.5)


def test_two_rates_are_compared_by_their_difference_and_fishers_exact_test() -> None:
    same = compare_rates([1.0] * 300, [1.0] * 297 + [0.0] * 3)
    assert (same.baseline_median, same.candidate_median) == (1.0, 0.99)
    assert same.p_value > 0.2 and same.ratio_ci.low < 1.0 < same.ratio_ci.high
    fallen = compare_rates([1.0] * 300, [1.0] * 150 + [0.0] * 150)
    assert fallen.p_value < 1e-40 and fallen.ratio_ci.high < 0.6 and fallen.cliffs_delta == -0.5
    nothing = compare_rates([0.0] * 30, [0.0] * 30)
    assert nothing.p_value == 1.0 and math.isnan(nothing.ratio)


def test_a_paired_ratio_is_as_wide_as_its_pairs_disagree() -> None:
    baseline = [200.0, 210.0, 190.0]
    steady, steady_ci = paired_ratio(baseline, [b * 1.10 for b in baseline])
    assert steady == pytest.approx(1.10) and steady_ci.low == pytest.approx(1.10)
    ratio, interval = paired_ratio(baseline, [220.0, 260.0, 195.0])
    assert interval.low < 1.0 < 1.10 < ratio < 1.3 < interval.high
    # A two-pair interval is the t distribution's with one degree of freedom: very wide.
    _, two = paired_ratio([100.0, 100.0], [104.0, 106.0])
    assert two.low < 0.95 and two.high > 1.15


def test_a_paired_ratio_needs_two_pairs_and_a_baseline_to_divide_by() -> None:
    with pytest.raises(ValueError, match="two or more pairs"):
        paired_ratio([1.0], [2.0])
    with pytest.raises(ValueError, match="two or more pairs"):
        paired_ratio([1.0, 2.0], [2.0])
    ratio, interval = paired_ratio([0.0, 1.0], [1.0, 1.0])
    assert math.isnan(ratio) and math.isnan(interval.low)
