"""The store appends each record once, whoever saves it and however often."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.records import RunRecord, capture_environment, make_series
from harness.store import (
    LOCK_FILE,
    append_records,
    atomic_write_bytes,
    atomic_write_text,
    load_records,
)


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


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_written_report_file_gets_the_mode_the_umask_gives_a_new_file_not_0600(
    tmp_path: Path, umask_022: None
) -> None:
    atomic_write_text(tmp_path / "report.md", "# report")
    atomic_write_bytes(tmp_path / "plot.png", b"png")
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "plot.png").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png", "report.md"]


def test_a_written_file_stays_private_when_the_umask_says_so(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        atomic_write_text(tmp_path / "results.json", "{}")
    finally:
        os.umask(previous)
    assert (tmp_path / "results.json").stat().st_mode & 0o777 == 0o600
