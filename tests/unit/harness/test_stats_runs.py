"""Run-level statistics: one value per run, runs compared by their spread, Holm over many."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_ind

from harness.stats import check_statistic, compare_runs, fast_mode, holm_adjust, run_statistic


def test_holm_adjusts_p_values_as_the_textbook_step_down() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1, kept monotone: 0.02, 0.03, 0.06, 0.06.
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_never_lowers_a_p_value_and_caps_at_one() -> None:
    p_values = np.random.default_rng(1).uniform(size=50).tolist()
    adjusted = holm_adjust(p_values)
    assert all(a >= p for a, p in zip(adjusted, p_values, strict=True))
    assert max(adjusted) == 1.0
    assert holm_adjust([]) == []


@pytest.mark.parametrize(
    ("statistic", "expected"), [("min", 1.0), ("median", 3.0), ("mean", 4.0), ("p25", 2.0)]
)
def test_a_run_is_summed_up_by_the_named_statistic(statistic: str, expected: float) -> None:
    assert run_statistic([5.0, 1.0, 3.0, 2.0, 9.0], statistic) == expected


@pytest.mark.parametrize("name", ["max", "p101", "pxx", ""])
def test_unknown_run_statistics_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown statistic"):
        check_statistic(name)


def test_without_a_mode_runs_are_compared_by_the_classic_t_test_on_logs() -> None:
    rng = np.random.default_rng(2)
    base, cand = rng.lognormal(0, 0.05, 6), rng.lognormal(0.1, 0.05, 5)
    result = compare_runs(base.tolist(), cand.tolist())
    expected = ttest_ind(np.log(cand), np.log(base), equal_var=True)
    assert result.p_value == pytest.approx(float(expected.pvalue))
    assert result.ratio == pytest.approx(np.exp(np.log(cand).mean() - np.log(base).mean()))
    assert result.ratio_ci.contains(result.ratio)
    assert result.method == "t-test on all runs (6 baseline, 5 candidate)"


def test_identical_counted_runs_are_unchanged_and_any_change_is_certain() -> None:
    assert compare_runs([4.0, 4.0, 4.0], [4.0, 4.0]).p_value == 1.0
    changed = compare_runs([4.0, 4.0, 4.0], [5.0, 5.0])
    assert changed.p_value == 0.0
    assert changed.ratio == pytest.approx(1.25)


def test_runs_of_zero_are_compared_on_the_raw_scale() -> None:
    result = compare_runs([0.0, 1.0, 0.0], [0.0, 0.0])
    assert result.baseline_median == pytest.approx(1 / 3)
    assert 0.0 < result.p_value < 1.0


def test_one_run_a_side_is_too_little_for_a_run_level_test() -> None:
    with pytest.raises(ValueError, match="at least 3 runs"):
        compare_runs([1.0], [1.1])


def test_the_fast_mode_keeps_runs_within_its_width_of_the_best() -> None:
    costs = np.log(np.array([1.0, 1.05, 1.29, 1.31, 1.7]))
    assert fast_mode(costs, 0.3).tolist() == [True, True, True, False, False]


def two_state_runs(rng: np.random.Generator, n: int, shift: float = 1.0) -> list[float]:
    """Run minima from a machine that is ~1.7x slower in 40% of runs, with 2% run noise."""
    slow = rng.random(n) < 0.4
    values: list[float] = (np.where(slow, 1.7, 1.0) * shift * rng.lognormal(0, 0.02, n)).tolist()
    return values


def test_slow_runs_of_a_two_state_machine_are_left_out_of_the_fast_mode_comparison() -> None:
    base = [1.0, 1.02, 1.7, 0.99, 1.75]
    cand = [1.16, 1.8, 1.14]
    result = compare_runs(base, cand, mode_width=0.3)
    assert result.method.startswith("t-test on fast-mode runs (3 of 5 baseline, 2 of 3")
    assert result.ratio == pytest.approx(1.15, abs=0.01)
    assert result.p_value < 0.01


def test_without_two_fast_runs_a_side_the_runs_are_ranked_instead() -> None:
    result = compare_runs([1.0, 1.02, 1.7], [1.7, 1.75, 1.21], mode_width=0.3)
    assert result.method.startswith("Mann-Whitney on all runs")
    assert result.mode_missing
    assert result.p_value > 0.05  # three runs a side cannot be significant by rank


def test_a_baseline_that_never_left_its_fast_state_makes_a_far_candidate_its_own() -> None:
    # A quiet machine: a 60% slower candidate is beyond the fast mode, and that is the code's.
    result = compare_runs([1.0, 1.02, 0.99, 1.01], [1.6], mode_width=0.3)
    assert result.method == "t-test on all runs (4 baseline, 1 candidate)"
    assert result.p_value < 0.001


def test_two_state_a_a_runs_are_not_told_apart_but_a_fifteen_percent_shift_is() -> None:
    rng = np.random.default_rng(3)
    same = [compare_runs(two_state_runs(rng, 8), two_state_runs(rng, 5), mode_width=0.3)
            for _ in range(20)]  # fmt: skip
    shifted = [compare_runs(two_state_runs(rng, 8), two_state_runs(rng, 5, 1.15), mode_width=0.3)
               for _ in range(20)]  # fmt: skip
    assert sum(r.p_value < 0.01 for r in same) == 0
    assert sum(r.p_value < 0.01 and r.relative_change > 0.1 for r in shifted) >= 19


def test_a_higher_is_better_metric_keeps_its_highest_runs() -> None:
    result = compare_runs([100.0, 98.0, 60.0], [85.0, 86.0, 50.0], lower_is_better=False,
                          mode_width=0.3)  # fmt: skip
    assert result.method.startswith("t-test on fast-mode runs (2 of 3 baseline, 2 of 3")
    assert result.ratio == pytest.approx(0.86, abs=0.01)
