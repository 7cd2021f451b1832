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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.join import calls_by_marker
from harness.runners.support.loadrows import Row, error_message
from harness.store import atomic_write_text

PHASES_FILE = "phases.json"


@dataclass(frozen=True)
class PhaseSpan:
    """From `start_s` (epoch seconds) to the next phase's start, the mock did what `name` says;
    `calm`: it injected nothing into calls at random (faults aimed at the first few calls are
    told apart by the journal); `injects`: it had faults to inject, at random or aimed."""

    name: str
    start_s: float
    calm: bool
    injects: bool = False  # phases written before it was kept: judged as calm ones


def write_phases(directory: Path, spans: Sequence[PhaseSpan]) -> None:
    """The phases so far, written whole each time (a run cut short keeps those it began)."""
    atomic_write_text(directory / PHASES_FILE, json.dumps([asdict(s) for s in spans]))


def read_phases(directory: Path) -> tuple[PhaseSpan, ...]:
    """The phases a run's scenario wrote into `directory`; () when it walked none."""
    try:
        raw = json.loads((directory / PHASES_FILE).read_text(encoding="utf-8"))
        return tuple(PhaseSpan(str(p["name"]), float(p["start_s"]), bool(p["calm"]),
                               bool(p.get("injects", False))) for p in raw)  # fmt: skip
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
    return [name for name, calls in _calls_by_phase(spans, entries, epoch_s) if not calls]


def faults_unmet(
    spans: Sequence[PhaseSpan], entries: Iterable[Mapping[str, Any]], epoch_s: float
) -> list[str]:
    """The phases with faults to inject whose upstream calls met none, with what those calls
    got instead: `503 outage (401 x4,113)`: every call refused before the fault (an expired
    token), so what the phase tests was not tested (R116). A phase with no call at all is
    `not_exercised`'s."""
    missed = []
    for (name, calls), span in zip(_calls_by_phase(spans, entries, epoch_s), spans, strict=True):
        if span.injects and calls and not any(call.get("fault") for call in calls):
            got = Counter(str(call.get("status", "?")) for call in calls).most_common(3)
            missed.append(f"{name} ({', '.join(f'{status} x{n:,}' for status, n in got)})")
    return missed


def fault_phases_untested(
    spans: Sequence[PhaseSpan], entries: Iterable[Mapping[str, Any]], epoch_s: float
) -> int:
    """How many phases with faults to inject had no call meet one (no call at all, or every
    call refused before it): the claims on requests under faults were not put to the test."""
    by_phase = _calls_by_phase(spans, entries, epoch_s)
    return sum(span.injects and not any(call.get("fault") for call in calls)
               for (_, calls), span in zip(by_phase, spans, strict=True))  # fmt: skip


def self_answered(
    spans: Sequence[PhaseSpan], rows: Iterable[Row], missed: Sequence[str]
) -> list[str]:
    """Of the phases no upstream call reached (`missed`, as `not_exercised` names them), those
    whose every request sent in them the target answered itself, with what it answered: `calm 3
    (502 x5,521: circuit breaker is open)`. No stall held its clients there: it refused on its
    own (an open circuit breaker, a cache of errors), R141."""
    sent = list(rows)
    said = []
    for name, start_s, end_s in _named(spans):
        inside = [r for r in sent if start_s <= r.start_s < end_s]
        if name in missed and inside and all(r.status for r in inside):
            common = Counter((r.status, r.body) for r in inside).most_common(1)[0]
            (status, body), count = common
            quoted = f": {(error_message(body) or body)[:120]}" if body else ""
            said.append(f"{name} ({status} x{count:,} of {len(inside):,}{quoted})")
    return said


def _named(spans: Sequence[PhaseSpan]) -> list[tuple[str, float, float]]:
    """Each phase's name (numbered when it repeats: "calm 2"), start and end (epoch s)."""
    ends = [s.start_s for s in spans[1:]] + [float("inf")]
    seen: Counter[str] = Counter()
    named = []
    for span, end in zip(spans, ends, strict=True):
        seen[span.name] += 1
        named.append((span.name + (f" {seen[span.name]}" if seen[span.name] > 1 else ""),
                      span.start_s, end))  # fmt: skip
    return named


def _calls_by_phase(
    spans: Sequence[PhaseSpan], entries: Iterable[Mapping[str, Any]], epoch_s: float
) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Each phase's name (numbered when it repeats) and the Models calls the journal shows in it
    (on the mock's clock: `epoch_s` is when its `t_s` 0 was)."""
    timed = [(epoch_s + float(e["t_s"]), e) for e in entries
             if e.get("endpoint") != "token" and isinstance(e.get("t_s"), int | float)]  # fmt: skip
    return [(name, [e for t, e in timed if start_s <= t < end_s])
            for name, start_s, end_s in _named(spans)]  # fmt: skip
