"""The store appends each record once, whoever saves it and however often."""

from __future__ import annotations

from pathlib import Path

from harness.records import RunRecord, capture_environment, make_series
from harness.store import LOCK_FILE, append_records, load_records


def record(scenario: str) -> RunRecord:
    return RunRecord(
        runner="load", scenario=scenario, params={}, environment=capture_environment(),
        series=(make_series("latency_ms", "ms", [1.0]),), labels={"target": "async"},
    )  # fmt: skip


def test_a_record_saved_when_its_sub_run_ended_is_not_saved_again_with_the_rest(
    tmp_path: Path,
) -> None:
    first, second = record("steady"), record("streaming")
    append_records(tmp_path, [first])
    append_records(tmp_path, [first, second])
    assert [r.run_id for r in load_records(tmp_path)] == [first.run_id, second.run_id]


def test_appending_nothing_to_a_new_run_directory_still_leaves_a_results_file(
    tmp_path: Path,
) -> None:
    append_records(tmp_path / "run", [])
    assert load_records(tmp_path / "run") == []
    assert (tmp_path / "run" / LOCK_FILE).exists()
