"""The phases a load scenario walked the mock through, and which requests met a calm upstream.

The resilience scenario writes one line per phase as it begins (`phases.json` beside the rows:
name, epoch start, calm or not); the load runner reads it back to tell the requests that met a
calm upstream (the journal says none of their calls was hit; or, for one that made no call, it
was sent and answered inside a calm phase) from those that met the faults. A gateway that stays
broken after the faults shows on the first; error text inside a 200 counts against faults only
on the second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.join import calls_by_marker
from harness.runners.support.loadrows import Row
from harness.store import atomic_write_text

PHASES_FILE = "phases.json"


@dataclass(frozen=True)
class PhaseSpan:
    """From `start_s` (epoch seconds) to the next phase's start, the mock did what `name` says;
    `calm`: it injected nothing into calls at random (faults aimed at the first few calls are
    told apart by the journal)."""

    name: str
    start_s: float
    calm: bool


def write_phases(directory: Path, spans: Sequence[PhaseSpan]) -> None:
    """The phases so far, written whole each time (a run cut short keeps those it began)."""
    atomic_write_text(directory / PHASES_FILE, json.dumps([asdict(s) for s in spans]))


def read_phases(directory: Path) -> tuple[PhaseSpan, ...]:
    """The phases a run's scenario wrote into `directory`; () when it walked none."""
    try:
        raw = json.loads((directory / PHASES_FILE).read_text(encoding="utf-8"))
        return tuple(PhaseSpan(str(p["name"]), float(p["start_s"]), bool(p["calm"])) for p in raw)
    except (OSError, ValueError, TypeError, KeyError):
        return ()


def calm_requests(
    rows: Sequence[Row], spans: Sequence[PhaseSpan], journal: Iterable[Mapping[str, Any]] | None
) -> list[Row]:
    """The rows that met a calm upstream: those whose upstream calls (by marker) all got the
    upstream's own reply, and those that made none, sent and answered inside one calm phase.
    The others met the faults (a call of theirs was hit, or none went up while they were on)."""
    calls = calls_by_marker(journal or ())
    ends = [s.start_s for s in spans[1:]] + [float("inf")]
    calm = [(s.start_s, end) for s, end in zip(spans, ends, strict=True) if s.calm]

    def met_calm(row: Row) -> bool:
        if row.marker in calls:
            return not any(call.get("fault") for call in calls[row.marker])
        return any(start <= row.start_s and row.end_s <= end for start, end in calm)

    return [row for row in rows if met_calm(row)]


def not_exercised(
    spans: Sequence[PhaseSpan], entries: Iterable[Mapping[str, Any]], epoch_s: float
) -> list[str]:
    """The phases (numbered when a name repeats: "calm 2") in which the target made no upstream
    call: a stall kept them from ever reaching it, so what they test was not tested (R64).
    `entries` are the mock's journal, `epoch_s` when its `t_s` 0 was (epoch seconds)."""
    times = [epoch_s + float(e["t_s"]) for e in entries
             if e.get("endpoint") != "token" and isinstance(e.get("t_s"), int | float)]  # fmt: skip
    ends = [s.start_s for s in spans[1:]] + [float("inf")]
    seen: dict[str, int] = {}
    missed = []
    for span, end in zip(spans, ends, strict=True):
        seen[span.name] = seen.get(span.name, 0) + 1
        if not any(span.start_s <= t < end for t in times):
            missed.append(span.name + (f" {seen[span.name]}" if seen[span.name] > 1 else ""))
    return missed
