"""A report-card claim that held and is now refuted fails the gate; other moves are shown."""

from __future__ import annotations

import json
from pathlib import Path

from harness.card.ledger import CARD_CLAIMS_FILE
from harness.claims import HOLDS, INCONCLUSIVE, REFUTED, Verdict
from harness.gate_claims import ClaimChange, claim_changes


def write_card(directory: Path, target: str, **verdicts: str) -> Path:
    """A run dir whose card-claims.json holds `target`'s verdicts by claim id."""
    directory.mkdir(parents=True, exist_ok=True)
    card = [Verdict(claim_id, f"claim {claim_id}", "count", verdict, "at most 0", "").as_dict()
            for claim_id, verdict in verdicts.items()]  # fmt: skip
    document = {"ledgers": [], "targets": {target: card}}
    (directory / CARD_CLAIMS_FILE).write_text(json.dumps(document))
    return directory


def test_a_claim_that_held_and_is_refuted_is_a_regression_other_moves_are_not(
    tmp_path: Path,
) -> None:
    base = write_card(tmp_path / "a", "launch:app", x=HOLDS, y=INCONCLUSIVE, z=HOLDS)
    cand = write_card(tmp_path / "b", "launch:env", x=REFUTED, y=HOLDS, z=HOLDS)
    changes = claim_changes([base], [cand])
    assert changes == [
        ClaimChange("launch:app → launch:env", "x", "claim x", HOLDS, REFUTED),
        ClaimChange("launch:app → launch:env", "y", "claim y", INCONCLUSIVE, HOLDS),
    ]
    assert [c.regressed for c in changes] == [True, False]


def test_runs_without_a_report_card_give_no_claim_to_compare(tmp_path: Path) -> None:
    cand = write_card(tmp_path / "b", "t", x=REFUTED)
    (tmp_path / "a").mkdir()
    assert claim_changes([tmp_path / "a"], [cand]) == []
