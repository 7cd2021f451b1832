"""The gate over several runs: a drifting two-state machine raises no alarm, a 15% slowdown
does; Holm over many metrics; confirmation on all the evidence; the baseline history."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from harness.errors import UsageError
from harness.gate import (
    REGRESSION,
    UNCHANGED,
    UNCONFIRMED,
    GateReport,
    Rule,
    baseline_runs,
    confirm_runs,
    confirm_with,
    evaluate_gate,
    evaluate_runs,
    parse_rules,
    save_baseline,
)
from harness.gate_summary import render_summary, report_document
from harness.records import Environment, RunRecord, make_series
from harness.store import load_records

ENV = Environment("3.11", "Linux", "cpu", 2, "host", "abc", False, "0.1.0")
RULES = [Rule("micro", "*", "time_s", statistic="min", mode_width=0.3)]
SLOW = "extractor=slow"


def machine_run(
    rng: np.random.Generator, slowdown: float = 1.0, metrics: int = 6
) -> list[RunRecord]:
    """One run on a shared VM: 40% of runs (and a few single metrics) ~1.7x slower by what the
    other core does, 2% run-to-run noise, rounds correlated within the run."""
    slow_run = rng.random() < 0.4
    records = []
    for i in range(metrics):
        slow = slow_run != (rng.random() < 0.1)
        level = (1.7 if slow else 1.0) * rng.lognormal(0.0, 0.02)
        extractor = "slow" if i % 2 else "priority"
        factor = slowdown if extractor == "slow" else 1.0
        rounds = 2e-6 * (1 + i / 10) * level * factor * rng.lognormal(0.0, 0.05, 40)
        records.append(RunRecord(
            "micro", "extract", {}, ENV, (make_series("time_s", "s", rounds),),
            labels={"extractor": extractor, "shape": f"shape-{i // 2}"},
        ))  # fmt: skip
    return records


def runs(rng: np.random.Generator, n: int, slowdown: float = 1.0) -> list[list[RunRecord]]:
    return [machine_run(rng, slowdown) for _ in range(n)]


def gate_with_confirmation(rng: np.random.Generator, slowdown: float) -> GateReport:
    """As CI with a stored history: 6 baseline runs, one candidate run, then interleaved
    confirmation runs of both sides."""
    history, first = runs(rng, 6), [machine_run(rng, slowdown)]
    report = evaluate_runs(history, first, RULES)
    return confirm_with(
        report, (history, first), RULES, lambda: (runs(rng, 4), runs(rng, 4, slowdown))
    )


def test_one_run_a_side_on_a_two_state_machine_is_unconfirmed_not_a_regression() -> None:
    # Why runs are the unit: rounds of one run share its state, so the rounds test is sure of
    # differences that are the machine's. A rule that knows its runs flip (mode_width) leaves
    # them unconfirmed, to be re-measured.
    rng = np.random.default_rng(1)
    reports = [evaluate_gate(machine_run(rng), machine_run(rng), RULES) for _ in range(8)]
    assert not any(report.failed for report in reports)
    unconfirmed = [r for report in reports for r in report.results if r.status == UNCONFIRMED]
    assert len(unconfirmed) >= 2  # the alarms the rounds alone would have raised


def test_twenty_a_a_gates_with_confirmation_raise_no_alarm_despite_the_drift() -> None:
    rng = np.random.default_rng(2)
    assert sum(gate_with_confirmation(rng, 1.0).failed for _ in range(20)) == 0


def test_a_fifteen_percent_slowdown_is_caught_every_time_after_confirmation() -> None:
    rng = np.random.default_rng(3)
    reports = [gate_with_confirmation(rng, 1.15) for _ in range(20)]
    assert sum(report.failed for report in reports) == 20
    # The untouched extractor never regresses.
    assert all(SLOW in r.key for report in reports for r in report.regressions)


def test_several_runs_a_side_without_confirmation_stay_quiet_on_a_a() -> None:
    rng = np.random.default_rng(4)
    assert sum(evaluate_runs(runs(rng, 6), runs(rng, 4), RULES).failed for _ in range(20)) == 0


def test_p_values_are_holm_adjusted_over_every_metric() -> None:
    rng = np.random.default_rng(4)
    report = evaluate_runs(runs(rng, 6), runs(rng, 4, 1.15), RULES)
    tested = [r for r in report.results if r.comparison is not None]
    assert len(tested) == 6
    raw = sorted(r.comparison.p_value for r in tested if r.comparison)
    adjusted = sorted(r.p_adjusted for r in tested)
    assert adjusted[0] == pytest.approx(min(1.0, 6 * raw[0]))
    assert all(a >= p for a, p in zip(adjusted, raw, strict=True))


def test_a_worse_but_not_significant_metric_is_a_suspect_worth_re_measuring() -> None:
    rng = np.random.default_rng(5)
    strict = [Rule("micro", "*", "time_s", statistic="min", mode_width=0.3, alpha=1e-12)]
    report = evaluate_runs(runs(rng, 6), runs(rng, 4, 1.15), strict)
    assert not report.failed
    assert report.suspects
    assert any(SLOW in r.key for r in report.suspects)


def steady_run(level: float, metrics: int = 2) -> list[RunRecord]:
    """A run whose rounds all take `level` us (times a per-metric spread of a few percent)."""
    return [
        RunRecord(
            "micro", "extract", {}, ENV,
            (make_series("time_s", "s", [level * 1e-6 * (1 + 0.01 * i)] * 20),),
            labels={"extractor": "slow", "shape": f"shape-{i}"},
        )
        for i in range(metrics)
    ]  # fmt: skip


HISTORY = [steady_run(level) for level in (1.00, 1.02, 0.99, 1.01, 1.70)]


def test_a_regression_that_does_not_hold_across_all_runs_is_unconfirmed() -> None:
    first = [steady_run(1.25)]  # one unlucky candidate run flags the gate ...
    report = evaluate_runs(HISTORY, first, RULES)
    assert len(report.regressions) == 2
    # ... then interleaved reruns of both sides of unchanged code clear it.
    again = [steady_run(v) for v in (1.01, 0.98, 1.02)]
    final = confirm_runs(report, HISTORY + again, first + again, RULES)
    assert [r.status for r in final.results] == [UNCONFIRMED, UNCONFIRMED]
    assert "not across 8 baseline and 4 candidate runs" in final.results[0].note
    assert not final.failed


def test_a_regression_that_holds_across_all_runs_stands() -> None:
    first = [steady_run(1.2)]
    report = evaluate_runs(HISTORY, first, RULES)
    again = [steady_run(v) for v in (1.01, 0.98, 1.02)]
    slower = [steady_run(v) for v in (1.18, 1.21, 1.72)]
    final = confirm_runs(report, HISTORY + again, first + slower, RULES)
    assert [r.status for r in final.results] == [REGRESSION, REGRESSION]


def test_confirmation_takes_a_second_round_only_while_the_fast_mode_is_missed() -> None:
    rounds: list[int] = []

    def remeasure() -> tuple[list[list[RunRecord]], list[list[RunRecord]]]:
        rounds.append(1)
        if len(rounds) == 1:  # the candidate's runs all land in the slow state
            return [steady_run(1.0)], [steady_run(2.0), steady_run(1.9)]
        return [steady_run(1.0)], [steady_run(1.2), steady_run(1.21)]

    first = [steady_run(1.95)]
    report = evaluate_runs(HISTORY, first, RULES)
    final = confirm_with(report, (HISTORY, first), RULES, remeasure)
    assert len(rounds) == 2
    assert final.failed


def test_nothing_is_re_measured_when_no_metric_looks_worse() -> None:
    first = [steady_run(1.0)]
    report = evaluate_runs(HISTORY, first, RULES)
    assert confirm_with(report, (HISTORY, first), RULES, lambda: ([], [])) is report


def test_the_summary_says_how_the_evidence_was_weighed() -> None:
    rng = np.random.default_rng(9)
    report = evaluate_runs(runs(rng, 5), runs(rng, 4, 1.3), RULES)
    summary = render_summary(report, "base", "cand")
    assert "Holm-adjusted over the 6 tested metrics" in summary
    assert "fast-mode runs" in summary or "Mann-Whitney on all runs" in summary
    assert "min of each run" in summary
    document = report_document(report)
    assert all(0.0 <= r["p_adjusted"] <= 1.0 for r in document["results"])


def test_the_stored_baseline_keeps_a_history_of_the_newest_runs(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    saved = [machine_run(rng) for _ in range(4)]
    for records in saved:
        directory = save_baseline(records, tmp_path, keep=3)
    history = baseline_runs(directory)
    assert [p.name for p in history] == ["0002", "0003", "0004"]
    assert [load_records(p) for p in history] == saved[1:]
    assert load_records(directory) == saved[-1]  # the latest run, where it always was


def test_a_baseline_without_history_is_its_single_run(tmp_path: Path) -> None:
    assert baseline_runs(tmp_path) == [tmp_path]


def test_rules_take_a_run_statistic_and_a_mode_width() -> None:
    text = "[[rule]]\nseries = 'time_s'\nstatistic = 'p10'\nmode_width = 0.25\n"
    (rule,) = parse_rules(tomllib.loads(text))
    assert (rule.statistic, rule.mode_width) == ("p10", 0.25)
    (plain,) = parse_rules(tomllib.loads("[[rule]]\nseries = 'x'\nmode_width = -1\n"))
    assert (plain.statistic, plain.mode_width) == ("median", None)


def test_an_unknown_run_statistic_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown statistic"):
        parse_rules(tomllib.loads("[[rule]]\nseries = 'x'\nstatistic = 'max'\n"))


def test_counted_metrics_compare_exactly_over_runs() -> None:
    def counted(value: float) -> list[RunRecord]:
        series = (make_series("lookups", "probes", [value] * 10),)
        return [RunRecord("micro", "extract-paths", {}, ENV, series, labels={"e": "x"})]

    rule = [Rule("micro", "*", "lookups", statistic="mean", max_relative=0.05)]
    same = evaluate_runs([counted(4.0)] * 3, [counted(4.0)] * 2, rule)
    assert [r.status for r in same.results] == [UNCHANGED]
    worse = evaluate_runs([counted(4.0)] * 3, [counted(5.0)] * 2, rule)
    assert [r.status for r in worse.results] == [REGRESSION]
