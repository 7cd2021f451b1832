"""`sfperf claims` end to end on a golden run: verdicts written, exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.store import load_records, save_records

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    save_records(tmp_path, load_records(GOLDEN / "results-v1-full.json"))
    return tmp_path


def test_refuted_claims_are_findings_and_exit_zero(run_dir: Path) -> None:
    assert main(["claims", "--results", str(run_dir)]) == 0
    document = json.loads((run_dir / "claims.json").read_text())
    verdicts = {v["claim_id"]: v for v in document["verdicts"]}
    assert verdicts["baseline-9-lookups"]["verdict"] == "holds"
    assert verdicts["async-batching-gain-15-25pct"]["verdict"] == "refuted"
    assert verdicts["extract-fallback-10pct"]["verdict"] == "inconclusive"
    assert verdicts["extract-single-path-89"]["evidence"] == ["synthetic021"]
    assert document["counts"]["refuted"] > 0


def test_fail_on_refuted_exits_one(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims", "--results", str(run_dir), "--fail-on", "refuted"]) == 1
    assert "failed --fail-on refuted" in capsys.readouterr().err


def test_a_ledger_whose_claims_all_hold_passes_fail_on_inconclusive(
    run_dir: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "mine.toml"
    ledger.write_text(
        '[[claim]]\nid = "legacy-lookups"\ntext = "legacy probes 10 times"\n'
        'workload = "sfperf micro"\nexpect = { within = 10, tolerance = 0.5 }\n'
        '[claim.metric]\nrunner = "micro"\nscenario = "extract-paths"\n'
        'labels = { extractor = "legacy" }\nseries = "lookups"\nstatistic = "mean"\n'
    )
    assert (
        main(["claims", str(ledger), "--results", str(run_dir), "--fail-on", "inconclusive"]) == 0
    )


def test_a_broken_ledger_exits_two_with_one_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "broken.toml"
    ledger.write_text("[[claim]]\nid = 'x'\n")
    assert main(["claims", str(ledger), "--results", str(run_dir)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
