"""The gateway ledger on a user's target: a broken ledger of the user's leaves the built-in card."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.card.ledger import evaluate_cards
from harness.errors import UsageError
from harness.records import RunRecord, capture_environment
from scenarios import scenario_path

GATEWAY = scenario_path("claims", "gateway.toml")


def test_a_broken_ledger_is_handed_over_and_the_built_in_ledger_still_makes_the_card(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[[claim]]\nid = "x"\ntext = ""\n')
    broken: list[tuple[Path, Exception]] = []
    cards = evaluate_cards(tmp_path, [], ["gw"], [GATEWAY, mine],
                           broken=lambda path, exc: broken.append((path, exc)))  # fmt: skip
    assert cards["gw"] and all(v.claim_id.startswith("gw-") for v in cards["gw"])
    ((path, exc),) = broken
    assert path == mine and "'text' must be a non-empty string" in str(exc)
    assert (tmp_path / "card-claims.json").is_file()


def test_without_a_taker_a_broken_ledger_raises() -> None:
    with pytest.raises(UsageError, match="no claim ledger found"):
        evaluate_cards(Path("."), [], ["gw"], [Path("no-such.toml")])


def test_claims_comparing_two_versions_stay_off_a_target_measured_alone(tmp_path: Path) -> None:
    # R109: "Async batching adds 15-25%" and "Flask's threading ..." on a Node gateway's card.
    pair = ("gw-async-gain-15-25pct", "gw-threading-handles-concurrency")
    alone = RunRecord("sweep", "sync-vs-async", {}, capture_environment(), (),
                      labels={"target": "gw", "role": "target"})  # fmt: skip
    ids = {v.claim_id for v in evaluate_cards(tmp_path, [alone], ["gw"], [GATEWAY])["gw"]}
    assert "gw-added-latency" in ids and not ids & set(pair)
    swept = replace(alone, labels={"target": "gw", "role": "baseline"})
    ids = {v.claim_id for v in evaluate_cards(tmp_path, [swept], ["gw"], [GATEWAY])["gw"]}
    assert set(pair) <= ids
