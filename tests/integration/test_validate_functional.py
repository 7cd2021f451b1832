"""`sfperf validate --quick` end to end: every runner, the seed ledger and one report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.claims.ledger import load_ledger
from harness.store import load_records
from harness.validate import SEED_LEDGER

pytestmark = pytest.mark.slow

Validated = tuple[subprocess.CompletedProcess[str], Path]


@pytest.fixture(scope="module")
def validated(
    tmp_path_factory: pytest.TempPathFactory,
) -> Validated:
    results = tmp_path_factory.mktemp("results")
    env = {**os.environ, "SFPERF_RESULTS_DIR": str(results)}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", "--quick"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    return done, results


def test_validate_quick_completes_and_points_latest_at_its_run(validated: Validated) -> None:
    done, results = validated
    assert done.returncode == 0, done.stderr[-3000:]
    latest = results / "latest"
    assert latest.is_symlink() and (latest / "results.json").is_file()
    assert done.stdout == ""  # progress goes to stderr; stdout stays clean


def test_every_runner_left_records_in_the_run(validated: Validated) -> None:
    _, results = validated
    records = load_records(results / "latest")
    runners = {r.runner for r in records}
    assert {"micro", "simulate", "load", "sweep", "profile", "verdict"} <= runners
    assert not [r.scenario for r in records if r.partial and r.runner != "verdict"]


def test_every_seed_claim_gets_a_verdict(validated: Validated) -> None:
    _, results = validated
    claims = json.loads((results / "latest" / "claims.json").read_text())
    ids = {v["claim_id"] for v in claims["verdicts"]}
    assert ids == {c.id for c in load_ledger(SEED_LEDGER).claims}
    assert {v["verdict"] for v in claims["verdicts"]} <= {"holds", "refuted", "inconclusive"}


def test_the_report_embeds_its_plots_and_links_its_tables(validated: Validated) -> None:
    _, results = validated
    run = results / "latest"
    html = (run / "index.html").read_text()
    assert "data:image/png;base64," in html and "<script src=" not in html
    markdown = (run / "report.md").read_text()
    assert "Claim verdicts" in markdown
    for name in ("claims.csv", "load.csv", "sweep.csv", "token_cache.csv"):
        assert (run / name).is_file(), name
    steps = json.loads((run / "steps.json").read_text())["steps"]
    assert [s["step"] for s in steps] == [
        "micro",
        "simulate",
        "load",
        "sweep",
        "profile",
        "resilience",
    ]
    assert not [s for s in steps if s.get("error")]
