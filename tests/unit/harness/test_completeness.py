"""What a run that did not finish lacks is said in its own words: the step log, else its records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.completeness import load_steps, run_unfinished, unfinished_words
from harness.records import RunRecord, capture_environment

STOPPED: list[dict[str, Any]] = [
    {"step": "discover", "records": 2},
    {"step": "profile", "skipped": "not a Python program"},
    {"step": "load", "error": "stopped by SIGINT", "stopped": "cut short"},
    {"step": "sweep", "error": "not run (stopped by SIGINT)", "stopped": "not run"},
    {"step": "resilience", "error": "not run (stopped by SIGINT)", "stopped": "not run"},
]


def test_a_run_stopped_half_way_says_where_it_stopped_and_what_never_ran() -> None:
    assert unfinished_words(STOPPED) == (
        "stopped by SIGINT during load; not run: sweep, resilience"
    )


def test_a_step_skipped_for_a_reason_counts_only_when_asked() -> None:
    assert unfinished_words(STOPPED[:2]) == ""
    assert unfinished_words(STOPPED[:2], skipped=True) == "skipped: profile"


def test_without_a_step_log_the_partial_records_are_counted() -> None:
    env = capture_environment()
    records = [RunRecord("load", "steady", {}, env, (), partial=p) for p in (True, False)]
    assert unfinished_words([], records) == "1 of its 2 records partial: cut short"
    assert unfinished_words([], records[1:]) == ""


def test_the_step_log_is_read_from_the_run_directory(tmp_path: Path) -> None:
    assert load_steps(tmp_path) == [] and run_unfinished(tmp_path, []) == ""
    (tmp_path / "steps.json").write_text(json.dumps({"steps": STOPPED}))
    assert run_unfinished(tmp_path, []).startswith("stopped by SIGINT during load")
