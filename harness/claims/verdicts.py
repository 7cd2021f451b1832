"""Claims against evidence: `holds`, `refuted` or `inconclusive`, never silently dropped.

A verdict compares a value's confidence interval with the claim's expected region: inside it
holds, disjoint from it refuted, straddling its edge inconclusive. Missing records make a claim
inconclusive and name the workload that would measure it. A ratio measured in interleaved
rounds lists each round's value; rounds on both sides of the edge are said to disagree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from harness.claims.consistency import evaluate_expression, smallest_fraction
from harness.claims.ledger import Claim, Expectation, Ledger, default_ledger_path, load_ledger
from harness.claims.metrics import Measurement, MissingRecords, NothingToCheck, measure
from harness.errors import UsageError
from harness.files import read_json
from harness.machine import load_span
from harness.records import RunRecord
from harness.stats import Interval, wilson_interval
from harness.store import atomic_write_text

CLAIMS_FILE = "claims.json"
HOLDS, REFUTED, INCONCLUSIVE = "holds", "refuted", "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim, with what was measured and why the verdict follows."""

    claim_id: str
    text: str
    kind: str
    verdict: str
    expected: str
    reason: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    unit: str = ""
    n: int = 0
    evidence: tuple[str, ...] = ()
    workload: str = ""
    source_file: str = ""
    quote: str = ""
    note: str = ""
    partial: bool = False
    machine_load: str = ""  # a concurrency claim: the machine's load over its evidence, in words

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN or infinite numbers become None."""
        data = asdict(self) | {"evidence": list(self.evidence)}
        return {k: _finite_or_none(v) for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields | {"evidence": tuple(data.get("evidence", ()))})


def decide(interval: Interval, expect: Expectation) -> str:
    """holds when the interval lies inside the region, refuted when disjoint, else inconclusive."""
    if math.isnan(interval.low) or math.isnan(interval.high):
        return INCONCLUSIVE
    if expect.low <= interval.low and interval.high <= expect.high:
        return HOLDS
    if interval.high < expect.low or interval.low > expect.high:
        return REFUTED
    return INCONCLUSIVE


def evaluate_run(
    run_dir: Path, records: Sequence[RunRecord], ledger_path: Path | None = None
) -> list[Verdict]:
    """Evaluate a ledger (default: the seed report's) on a run's records; writes claims.json."""
    ledger = load_ledger(ledger_path or default_ledger_path())
    verdicts = evaluate_ledger(ledger, records)
    write_verdicts(run_dir, verdicts, ledger)
    return verdicts


def evaluate_ledger(ledger: Ledger, records: Sequence[RunRecord]) -> list[Verdict]:
    """One verdict per claim, in ledger order."""
    return [evaluate_claim(claim, records) for claim in ledger.claims]


def evaluate_claim(claim: Claim, records: Sequence[RunRecord]) -> Verdict:
    """The verdict on one claim given the records of a run."""
    if claim.kind == "consistency":
        value = evaluate_expression(claim.expression, claim.inputs)
        return _verdict(claim, value, Interval(value, value), f"{claim.expression} = {value:.6g}")
    if claim.kind == "sample-size":
        return _sample_size_verdict(claim)
    assert claim.metric is not None
    try:
        measured = measure(records, claim.metric)
    except MissingRecords as exc:
        needs = "" if exc.ran else f"; needs: {claim.workload}"
        return _base(claim, INCONCLUSIVE, f"not measured: {exc}{needs}")
    except NothingToCheck as exc:
        return _base(claim, INCONCLUSIVE, f"nothing to check: {exc}")
    return _measured_verdict(claim, measured, records)


def _measured_verdict(
    claim: Claim, measured: Measurement, records: Sequence[RunRecord] = ()
) -> Verdict:
    detail = measured.detail
    if measured.rounds:
        detail += " (" + ", ".join(format_value(v, claim.unit) for v in measured.rounds) + ")"
    verdict = _verdict(claim, measured.value, measured.interval, detail, measured.rounds)
    partial_note = " (from a partial run)" if measured.partial else ""
    load = _machine_load(claim, measured, records)
    return replace(
        verdict,
        n=measured.n,
        evidence=measured.evidence,
        partial=measured.partial,
        reason=verdict.reason + partial_note + (f"; {load}" if load else ""),
        machine_load=load,
    )


def _machine_load(claim: Claim, measured: Measurement, records: Sequence[RunRecord]) -> str:
    """The machine's load over a concurrency claim's evidence (a sweep's), in words: a gain
    measured while the cores were busy reads smaller than on a quiet machine."""
    if claim.metric is None or claim.metric.runner != "sweep":
        return ""
    evidence = set(measured.evidence)
    span = load_span(r for r in records if r.run_id in evidence)
    return "" if span is None else span.describe()


def _sample_size_verdict(claim: Claim) -> Verdict:
    successes, trials = smallest_fraction(claim.reported, claim.digits)
    interval = wilson_interval(successes, trials)
    detail = (
        f"{claim.reported:.{max(claim.digits - 2, 0)}%} is exactly {successes}/{trials}; "
        f"if measured on {trials} observations its 95% Wilson interval is "
        f"{interval.low:.1%} to {interval.high:.1%}"
    )
    verdict = _verdict(claim, successes / trials, interval, detail)
    return replace(verdict, n=trials)


def _verdict(
    claim: Claim, value: float, interval: Interval, detail: str, rounds: Sequence[float] = ()
) -> Verdict:
    outcome = decide(interval, claim.expect)
    expected = claim.expect.describe(claim.unit)
    explained = _explain(outcome, interval, claim, expected, rounds)
    reason = f"{detail}; {explained}{_vacuous(outcome, value, interval, claim)}"
    verdict = _base(claim, outcome, reason)
    return replace(verdict, value=value, low=interval.low, high=interval.high)


def _explain(
    outcome: str, interval: Interval, claim: Claim, expected: str, rounds: Sequence[float] = ()
) -> str:
    if math.isnan(interval.low) or math.isnan(interval.high):
        return "no value to judge (nothing to divide by: its denominator is zero)"
    shown = f"[{format_value(interval.low, claim.unit)}, {format_value(interval.high, claim.unit)}]"
    if interval.low == interval.high:
        shown = format_value(interval.low, claim.unit)
    if outcome == HOLDS:
        return f"{shown} is {expected}"
    if outcome == REFUTED:
        return f"{shown} is not {expected}"
    if rounds:
        return f"{shown} straddles the edge of {expected}: {_rounds_say(rounds, claim, expected)}"
    return f"{shown} straddles the edge of {expected}: more data needed"


def _vacuous(outcome: str, value: float, interval: Interval, claim: Claim) -> str:
    """A gain claim bounded above only ("gains little") holds on any loss too: a loss larger
    than the gain it allows is said for what it is (R78: a candidate 30x slower "gains little")."""
    metric = claim.metric
    gain = metric is not None and metric.transform == "gain"
    bounded_above = math.isinf(claim.expect.low) and math.isfinite(claim.expect.high)
    if outcome != HOLDS or not gain or not bounded_above:
        return ""
    if not interval.high < -abs(claim.expect.high):
        return ""
    lost = (
        f"the baseline's figure is {1.0 / (1.0 + value):.3g}x the candidate's"
        if value > -1.0
        else "the candidate's figure is 0"
    )
    return f" only vacuously: a loss, not a gain ({lost})"


def _rounds_say(rounds: Sequence[float], claim: Claim, expected: str) -> str:
    """Why rounds left a claim undecided: they fell on both sides of the edge (the machine's
    state moved between them), or too few lie too close to it."""
    inside = sum(claim.expect.low <= v <= claim.expect.high for v in rounds)
    if 0 < inside < len(rounds):
        return (
            f"the rounds disagree ({inside} of {len(rounds)} {expected}: the machine's state "
            "moved between them); more rounds or a quieter machine can decide"
        )
    return f"more rounds than {len(rounds)} needed"


def _base(claim: Claim, outcome: str, reason: str) -> Verdict:
    return Verdict(
        claim_id=claim.id,
        text=claim.text,
        kind=claim.kind,
        verdict=outcome,
        expected=claim.expect.describe(claim.unit),
        reason=reason,
        unit=claim.unit,
        workload=claim.workload,
        source_file=claim.source_file,
        quote=claim.quote,
        note=claim.note,
    )


def format_value(value: float | None, unit: str) -> str:
    """A value for people: fractions as percentages, others with their unit."""
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "fraction":
        return f"{value * 100:.4g}%"
    return f"{format_number(value)} {unit}".strip()


def format_number(value: float) -> str:
    """A number for people, in claims and report tables alike (review7 Q3): from 1,000 on in
    full and grouped (12,440 requests, never 1.244e+04: R85), a whole number as one, else 4
    significant digits."""
    if 1e3 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"


def write_verdicts(run_dir: Path, verdicts: Sequence[Verdict], ledger: Ledger) -> Path:
    """Write `claims.json` atomically into the run directory."""
    document = {
        "ledger": {"title": ledger.title, "source": ledger.source},
        "counts": count_verdicts(verdicts),
        "verdicts": [v.as_dict() for v in verdicts],
    }
    path = run_dir / CLAIMS_FILE
    atomic_write_text(path, json.dumps(document, indent=2, allow_nan=False))
    return path


def load_verdicts(run_dir: Path) -> list[Verdict] | None:
    """The verdicts saved in `run_dir`, or None when the run has no claims.json."""
    path = run_dir / CLAIMS_FILE
    if not path.exists():
        return None
    document = read_json(path, "claim verdicts")
    try:
        return [Verdict.from_dict(v) for v in document["verdicts"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def count_verdicts(verdicts: Sequence[Verdict]) -> dict[str, int]:
    return {
        kind: sum(v.verdict == kind for v in verdicts) for kind in (HOLDS, REFUTED, INCONCLUSIVE)
    }


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
