"""The gate's question for a user's gateway: did a report-card claim that held in the baseline
run come out refuted in the candidate run?

A run of `sfperf validate` (or `load`) on a user's target keeps each target's card verdicts in
`card-claims.json`. The claims were judged with their own intervals, so a claim that went from
`holds` to `refuted` is a regression of behaviour (error text inside a 200, a token file read
per request...) that no latency rule sees. Other moves are shown, not failed: `inconclusive`
in one run says that run could not decide, not that the gateway changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.card.ledger import load_cards, paired_cards
from harness.claims import HOLDS, REFUTED, Verdict


@dataclass(frozen=True)
class ClaimChange:
    """A card claim whose verdict differs between the runs (target: `a`, or `a → b` when each
    run measured one target under its own name)."""

    target: str
    claim_id: str
    text: str
    before: str
    after: str

    @property
    def regressed(self) -> bool:
        return (self.before, self.after) == (HOLDS, REFUTED)


def claim_changes(
    baseline_dirs: Sequence[Path], candidate_dirs: Sequence[Path]
) -> list[ClaimChange]:
    """The card claims whose verdict moved, between the first run of each side that has a
    report card (none when either side has none); regressions first."""
    before, after = _first_cards(baseline_dirs), _first_cards(candidate_dirs)
    changes = [
        ClaimChange(target, old.claim_id, new.text, old.verdict, new.verdict)
        for target, olds, news in paired_cards(before, after)
        for old, new in _same_claims(olds, news)
        if old.verdict != new.verdict
    ]
    return sorted(changes, key=lambda c: (not c.regressed, c.target, c.claim_id))


def _first_cards(dirs: Sequence[Path]) -> dict[str, list[Verdict]]:
    return next((cards for cards in map(load_cards, dirs) if cards), {})


def _same_claims(
    before: Sequence[Verdict], after: Sequence[Verdict]
) -> list[tuple[Verdict, Verdict]]:
    later = {v.claim_id: v for v in after}
    return [(v, later[v.claim_id]) for v in before if v.claim_id in later]
