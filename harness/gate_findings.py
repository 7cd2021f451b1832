"""The gate's other question for a user's gateway: does the candidate make a mistake upstream
that the baseline did not?

The mock's journal is graded per window (`verdict` records: `findings` for resilience,
`retries` and `rewrites` for each load window). A FAIL finding absent from every baseline run
and present in the candidate (a retry storm on Salesforce, Retry-After ignored) is a regression
that no latency rule sees (R125); counts of one graded window are exact, not samples to test.
Only windows both sides graded are compared: a window one side never ran found nothing there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.records import RunRecord

FAIL, WARN = "FAIL", "WARN"
# Key of a finding's count: (target, graded window, finding name).
Key = tuple[str, str, str]


@dataclass(frozen=True)
class FindingChange:
    """A FAIL or WARN finding seen on one side only, over the windows both sides graded
    (target: `a`, or `a → b` when each run measured one target under its own name)."""

    target: str
    name: str
    severity: str
    before: int
    after: int
    windows: tuple[str, ...]  # where the side that has it saw it

    @property
    def regressed(self) -> bool:
        """A FAIL the candidate makes and no baseline run made."""
        return self.severity == FAIL and self.before == 0 and self.after > 0

    @property
    def change(self) -> str:
        return "new" if self.before == 0 else "cleared"

    def describe(self) -> str:
        """`new FAIL retry_storm x7 (resilience)` / `cleared WARN no_backoff x8 (resilience)`."""
        count = self.after or self.before
        return f"{self.change} {self.severity} {self.name} x{count:,} ({', '.join(self.windows)})"


def finding_changes(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]
) -> list[FindingChange]:
    """The FAIL and WARN findings new in the candidate or cleared from it, per target, over the
    windows both sides graded; regressions first."""
    before, after = _counts(baseline), _counts(candidate)
    renamed = _one_target_each(before, after)
    after = {(renamed.get(t, t), w, n): v for (t, w, n), v in after.items()}
    shared = {(t, w) for t, w, _ in before} & {(t, w) for t, w, _ in after}
    changes = []
    for target, name in sorted({(t, n) for t, w, n in (*before, *after) if (t, w) in shared}):
        windows = sorted(w for t, w in shared if t == target)
        old = sum(before.get((target, w, name), (0, ""))[0] for w in windows)
        new = sum(after.get((target, w, name), (0, ""))[0] for w in windows)
        severity = _severity((before, after), target, name)
        if severity in (FAIL, WARN) and (old == 0) != (new == 0):
            side = after if new else before
            seen = tuple(w for w in windows if side.get((target, w, name), (0, ""))[0])
            shown = target if target not in renamed.values() else _pair_name(renamed)
            changes.append(FindingChange(shown, name, severity, old, new, seen))
    return sorted(changes, key=lambda c: (not c.regressed, c.target, c.severity, c.name))


def _counts(records: Iterable[RunRecord]) -> dict[Key, tuple[int, str]]:
    """Each graded window's finding counts and severities, summed over the runs given (a window
    graded with nothing found counts 0 for every finding, so it is there to compare)."""
    counts: dict[Key, tuple[int, str]] = defaultdict(lambda: (0, ""))
    for record in records:
        if record.runner != "verdict":
            continue
        target = record.labels.get("target", "?")
        window = record.labels.get("window") or record.scenario
        counts[target, window, ""] = counts[target, window, ""]  # graded, whatever it found
        for found in record.params.get("findings") or ():
            key = (target, window, str(found["name"]))
            counts[key] = (counts[key][0] + int(found["count"]), str(found["severity"]))
    return dict(counts)


def _severity(sides: tuple[dict[Key, tuple[int, str]], ...], target: str, name: str) -> str:
    found = (s for side in sides for (t, _, n), (_, s) in side.items() if (t, n) == (target, name))
    return next((s for s in found if s), "")


def _one_target_each(
    before: dict[Key, tuple[int, str]], after: dict[Key, tuple[int, str]]
) -> dict[str, str]:
    """{candidate target: baseline target} when each side graded one target under its own
    name (as `report A B` lines them up), else {}."""
    base, cand = {t for t, _, _ in before}, {t for t, _, _ in after}
    if len(base) == len(cand) == 1 and base != cand:
        return {next(iter(cand)): next(iter(base))}
    return {}


def _pair_name(renamed: dict[str, str]) -> str:
    ((cand, base),) = renamed.items()
    return f"{base} → {cand}"
