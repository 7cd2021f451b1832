"""Findings grade journal entries and start nothing; scenarios do not import the grading."""

from __future__ import annotations

from tests.unit.walls import imports_under, offenders

STARTERS = (
    "harness.runners", "harness.targets", "harness.validate", "harness.commands", "subprocess",
)  # fmt: skip


def test_findings_start_no_runner_target_or_child() -> None:
    assert offenders(imports_under("harness/findings"), *STARTERS) == set()


def test_scenarios_take_grading_thresholds_as_data_instead_of_importing_findings() -> None:
    assert offenders(imports_under("scenarios"), "harness.findings") == set()


def test_the_findings_wall_check_sees_what_findings_import() -> None:
    assert "harness.findings.model" in imports_under("harness/findings")["harness/findings/auth.py"]
