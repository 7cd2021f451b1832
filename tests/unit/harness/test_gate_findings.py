"""A FAIL the candidate makes upstream and no baseline run made fails the gate; only windows
both runs graded are compared (R125)."""

from __future__ import annotations

from dataclasses import replace

from harness.findings import Finding, Severity, findings_record
from harness.gate import evaluate_gate
from harness.gate_findings import finding_changes
from harness.gate_summary import render_summary, report_document
from harness.records import RunRecord
from tests.unit.harness.test_gate import RULES, micro_run


def graded(target: str, window: str, **found: tuple[Severity, int]) -> RunRecord:
    findings = [Finding(name, severity, count, (), "") for name, (severity, count) in found.items()]
    return findings_record(findings, target, labels={"window": window})


def test_a_retry_storm_new_in_the_candidate_is_a_regression_and_a_cleared_warning_is_not() -> None:
    base = [graded("gw", "resilience", no_backoff=(Severity.WARN, 8)), graded("gw", "steady")]
    cand = [graded("gw", "resilience", retry_storm=(Severity.FAIL, 7)), graded("gw", "steady")]
    changes = finding_changes(base, cand)
    assert [c.describe() for c in changes] == [
        "new FAIL retry_storm x7 (resilience)", "cleared WARN no_backoff x8 (resilience)",
    ]  # fmt: skip
    assert [c.regressed for c in changes] == [True, False]


def test_a_window_only_the_candidate_graded_adds_no_new_finding() -> None:
    base = [graded("gw", "steady")]  # the baseline ran no resilience step
    cand = [graded("gw", "steady"), graded("gw", "resilience", retry_storm=(Severity.FAIL, 7))]
    assert finding_changes(base, cand) == []


def test_each_side_measuring_one_target_under_its_own_name_is_lined_up() -> None:
    base = [graded("launch:app", "resilience")]
    cand = [graded("launch:env", "resilience", retry_after_ignored=(Severity.FAIL, 37))]
    (change,) = finding_changes(base, cand)
    assert change.target == "launch:app → launch:env" and change.regressed


def test_the_gate_fails_on_a_new_fail_and_says_which() -> None:
    report = evaluate_gate(micro_run(1), micro_run(2), RULES)
    base = [graded("gw", "resilience")]
    cand = [graded("gw", "resilience", retry_storm=(Severity.FAIL, 7))]
    failing = replace(report, findings=tuple(finding_changes(base, cand)))
    assert not report.failed and failing.failed
    summary = render_summary(failing, "a", "b")
    assert summary.startswith("## sfperf gate: ❌ 1 regression(s)")
    assert "| ❌ regression | gw | FAIL `retry_storm` | 0 | 7 | resilience |" in summary
    assert report_document(failing)["findings"][0]["regressed"] is True
