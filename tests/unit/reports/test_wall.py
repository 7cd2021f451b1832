"""Data flows one way: reports read records and never run a benchmark; what they read knows no
renderer."""

from __future__ import annotations

from tests.unit.walls import imports_under, offenders

# What starts servers, children or benchmarks: a report must reach none of it.
RUNNING = (
    "harness.runners", "harness.targets", "harness.validate", "harness.commands",
    "harness.subjects", "harness.shim", "harness.cli", "mock_salesforce", "scenarios",
    "subprocess",
)  # fmt: skip

# The records and the statistics read from them, the claims and the gate.
MEASUREMENTS = (
    "harness/records.py", "harness/store.py", "harness/stats.py", "harness/files.py",
    "harness/gate.py", "harness/gate_summary.py", "harness/gate_claims.py", "harness/claims",
    "harness/findings", "harness/pairing.py", "harness/changes.py",
)  # fmt: skip


def test_reports_never_run_a_runner_a_target_or_the_mock() -> None:
    assert offenders(imports_under("reports"), *RUNNING) == set()


def test_records_statistics_claims_and_the_gate_know_no_renderer() -> None:
    assert offenders(imports_under(*MEASUREMENTS), "reports") == set()


def test_the_reports_wall_check_sees_what_reports_import() -> None:
    assert "harness.records" in imports_under("reports")["reports/compare.py"]
