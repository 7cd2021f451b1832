"""Whether a run measured all it set out to: validate's step log and the records' partial marks.

A run stopped half way (Ctrl-C, a timeout's SIGTERM, a step that failed) lacks what its later
steps would have measured. The gate and `sfperf report A B` say so where a metric is missing
("the candidate run is partial: stopped by SIGINT during load; not run: sweep, profile,
resilience"), so a run cut short never reads as one that measured less on purpose (R111).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.records import RunRecord

STEPS_FILE = "steps.json"
# What became of a step that did not complete, in the order a sentence names them.
STATES = ("failed", "skipped", "not measured", "cut short", "not run")


def load_steps(run_dir: Path) -> list[dict[str, Any]]:
    """The step log `sfperf validate` leaves in `steps.json` (empty when absent or unreadable)."""
    try:
        document = json.loads((run_dir / STEPS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    steps = document.get("steps", []) if isinstance(document, dict) else []
    return [s for s in steps if isinstance(s, dict) and "step" in s]


def step_states(steps: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The steps that did not complete, by what became of them: `failed` (their own error),
    `skipped` (a reason), `not measured` (ran, but measured nothing of what it is for: a
    profile without samples of the processes that served, R112), and those a signal stopped,
    `cut short` or `not run`."""
    states: dict[str, list[str]] = {state: [] for state in STATES}
    for step in steps:
        stopped = str(step.get("stopped") or "")
        state = stopped if stopped in states else "failed" if step.get("error") else ""
        state = state or ("not measured" if step.get("not_measured") else "")
        state = "skipped" if step.get("skipped") else state
        if state:
            states[state].append(str(step["step"]))
    return states


def unfinished_words(
    steps: Sequence[Mapping[str, Any]], records: Sequence[RunRecord] = (), *, skipped: bool = False
) -> str:
    """`stopped by SIGINT during load; not run: sweep, profile, resilience` for a run that did
    not measure all it set out to ("" for a complete one; `skipped`: steps skipped for a
    reason count too); without a step log, its partial records (`3 of its 40 records partial:
    cut short`)."""
    states = step_states(steps)
    cut = next((str(s.get("error") or "stopped") for s in steps if s.get("stopped") == "cut short"),
               "stopped")  # fmt: skip
    said = {"failed": "failed", "not run": "not run"} | ({"skipped": "skipped"} if skipped else {})
    parts = [f"{cut} during {', '.join(states['cut short'])}"] if states["cut short"] else []
    parts += [f"{said[state]}: {', '.join(states[state])}" for state in said if states[state]]
    if parts or not records:
        return "; ".join(parts)
    partial = sum(r.partial for r in records)
    return f"{partial} of its {len(records)} records partial: cut short" if partial else ""


def run_unfinished(run_dir: Path, records: Sequence[RunRecord], *, skipped: bool = False) -> str:
    """`unfinished_words` of the run in `run_dir` ("" when it completed)."""
    return unfinished_words(load_steps(run_dir), records, skipped=skipped)
