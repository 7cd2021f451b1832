"""RunRecords round-trip through results.json; old files upgrade, unknown versions are refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.records import SCHEMA_VERSION, RunRecord, capture_environment, make_series
from harness.store import append_records, load_records, save_records

GOLDEN = Path(__file__).parents[2] / "golden"


def make_record(**overrides: object) -> RunRecord:
    fields: dict[str, object] = {
        "runner": "micro",
        "scenario": "extract",
        "params": {"rounds": 3},
        "environment": capture_environment(),
        "series": (make_series("time_s", "s", [1e-6, 2e-6, 3e-6]),),
        "labels": {"extractor": "priority", "shape": "official-chat-generations"},
    }
    fields.update(overrides)
    return RunRecord(**fields)  # type: ignore[arg-type]


def test_a_record_survives_a_round_trip_through_the_store(tmp_path: Path) -> None:
    record = make_record()
    save_records(tmp_path, [record])
    assert load_records(tmp_path) == [record]


def test_appending_keeps_the_records_already_saved(tmp_path: Path) -> None:
    first, second = make_record(), make_record(scenario="extract-paths", partial=True)
    save_records(tmp_path, [first])
    append_records(tmp_path, [second])
    assert load_records(tmp_path) == [first, second]


def test_a_record_selects_by_runner_scenario_and_labels() -> None:
    record = make_record()
    assert record.matches(runner="micro", extractor="priority")
    assert not record.matches(extractor="legacy")
    assert record.get("time_s").values == (1e-6, 2e-6, 3e-6)
    with pytest.raises(KeyError, match="time_s"):
        record.get("missing")


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION + 1, "1", None])
def test_loading_refuses_an_unknown_schema_version(tmp_path: Path, version: object) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": version, "records": []}))
    with pytest.raises(UsageError, match="schema_version"):
        load_records(tmp_path)


def test_loading_a_missing_or_broken_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no results"):
        load_records(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read"):
        load_records(tmp_path)


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("results-v*.json")), ids=lambda p: p.name)
def test_every_golden_file_still_loads(golden: Path) -> None:
    records = load_records(golden)
    assert records and all(r.series for r in records)


def test_there_is_a_golden_file_for_the_current_schema_version() -> None:
    assert (GOLDEN / f"results-v{SCHEMA_VERSION}.json").exists()


def test_a_run_stamps_one_commit_even_when_the_checkout_moves_during_it(tmp_path: Path) -> None:
    # R7: an editable install's checkout moved during a run; its records named two commits.
    def commit(message: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                        "commit", "-q", "--allow-empty", "-m", message], check=True)  # fmt: skip

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    commit("first")
    first = capture_environment(tmp_path).git_commit
    commit("second")
    assert capture_environment(tmp_path).git_commit == first != "unknown"
