"""A window's observation: what lay between its start and its end, never more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.card.window import WindowObserver


def observe(*reports: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The io of a window whose start and end snapshots were `reports`."""
    answers = iter(reports)
    observer = WindowObserver("steady-closed", io_snapshot=lambda label: next(answers))
    observer.start()
    return observer.finish().io


START_UP = {"files": {"/s/config.json": {"opens": 1, "reads": 1}}}
LATER = {"files": {"/s/config.json": {"opens": 1, "reads": 1}, "/s/token.json": {"opens": 3}}}


def test_the_files_a_window_opened_are_the_end_snapshot_less_the_start_one() -> None:
    io = observe(START_UP, LATER)
    assert io is not None and io["files"] == {"/s/token.json": {"opens": 3}}


def test_without_a_start_snapshot_the_window_has_no_file_counts_rather_than_start_ups() -> None:
    assert observe(None, LATER) is None
    assert observe(START_UP, None) is None
