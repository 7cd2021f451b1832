"""The gateway ledger on a user's target: claims evaluated on that target's records alone.

`evaluate_cards` runs `scenarios/claims/gateway.toml` (and any `--ledger` the user bound to the
target) over the records labelled with the target and writes `card-claims.json`; the report's
card reads it back with `load_cards`. Claims that compare two versions of a gateway stay off a
target measured alone (`measurable`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from harness.claims.ledger import Ledger, load_ledger
from harness.claims.verdicts import Verdict, evaluate_ledger
from harness.errors import UsageError
from harness.records import RunRecord
from harness.store import atomic_write_text

CARD_CLAIMS_FILE = "card-claims.json"


def records_of(records: Sequence[RunRecord], target: str) -> list[RunRecord]:
    """The records measured on `target` (load, card, findings, discovery, profile)."""
    return [r for r in records if target in (r.labels.get("target"), r.labels.get("variant"))]


def evaluate_cards(
    run_dir: Path,
    records: Sequence[RunRecord],
    targets: Sequence[str],
    ledgers: Sequence[Path],
    *,
    broken: Callable[[Path, Exception], None] | None = None,
) -> dict[str, list[Verdict]]:
    """{target: verdicts of every claim of `ledgers`}; writes `card-claims.json` when any.
    With `broken`, a ledger that cannot be read or evaluated is handed to it and the others
    still make the card (a user's broken ledger must not take the built-in one down)."""
    cards: dict[str, list[Verdict]] = {target: [] for target in targets}
    for path in ledgers:
        try:
            ledger = load_ledger(path)
            judged = {t: evaluate_ledger(measurable(ledger, own), own) for t in targets
                      for own in [records_of(records, t)]}  # fmt: skip
        except Exception as exc:
            if broken is None:
                raise
            broken(path, exc)
            continue
        for target, verdicts in judged.items():
            cards[target] += verdicts
    if cards:
        document = {t: [v.as_dict() for v in verdicts] for t, verdicts in cards.items()}
        text = json.dumps({"ledgers": [str(p) for p in ledgers], "targets": document}, indent=2)
        atomic_write_text(run_dir / CARD_CLAIMS_FILE, text)
    return cards


def measurable(ledger: Ledger, records: Sequence[RunRecord]) -> Ledger:
    """`ledger` less the claims that compare two versions of a gateway (a metric with baseline
    and candidate labels) when no record of the target carries either side's labels: on one
    target those say nothing of it (R109: async batching and Flask's threading on a Node
    gateway's card)."""
    kept = tuple(claim for claim in ledger.claims
                 if claim.metric is None or not claim.metric.is_ratio
                 or any(_labelled(r, side) for r in records
                        for side in (claim.metric.baseline, claim.metric.candidate)))  # fmt: skip
    return replace(ledger, claims=kept)


def _labelled(record: RunRecord, labels: Mapping[str, str] | None) -> bool:
    return labels is not None and all(record.labels.get(k) == v for k, v in labels.items())


def load_cards(run_dir: Path) -> dict[str, list[Verdict]]:
    """The card verdicts saved in `run_dir` ({} when the run measured no user target)."""
    path = run_dir / CARD_CLAIMS_FILE
    if not path.exists():
        return {}
    try:
        targets: Mapping[str, list[dict[str, object]]] = json.loads(path.read_text("utf-8"))[
            "targets"
        ]
        return {t: [Verdict.from_dict(v) for v in vs] for t, vs in targets.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def paired_cards(
    before: Mapping[str, Sequence[Verdict]], after: Mapping[str, Sequence[Verdict]]
) -> list[tuple[str, Sequence[Verdict], Sequence[Verdict]]]:
    """Each target's card beside the same target's in the other run, as (name, before, after);
    when each run measured one target under its own name, those two (`a → b`), as records are
    lined up (`harness.pairing`)."""
    if len(before) == len(after) == 1 and before.keys() != after.keys():
        ((a, old),), ((b, new),) = before.items(), after.items()
        return [(f"{a} → {b}", old, new)]
    return [(t, before[t], after[t]) for t in sorted(before.keys() & after.keys())]
