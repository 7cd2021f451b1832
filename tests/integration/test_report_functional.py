"""`sfperf report` end to end: every section from a golden run, comparisons, exit codes."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from harness.claims import evaluate_ledger, load_ledger
from harness.cli import main
from harness.store import load_records, save_records
from reports.render import write_report

GOLDEN = Path(__file__).parents[1] / "golden"
SEED = Path(__file__).parents[2] / "scenarios" / "claims" / "seed.toml"


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    run_dir = tmp_path_factory.mktemp("full")
    records = load_records(GOLDEN / "results-v1-full.json")
    verdicts = evaluate_ledger(load_ledger(SEED), records)
    return run_dir, write_report(run_dir, records, claims=verdicts)


def test_every_section_renders_when_its_records_exist(full_report: tuple[Path, list[Path]]) -> None:
    run_dir, written = full_report
    markdown = (run_dir / "report.md").read_text()
    assert "Not measured" not in markdown
    for heading in (
        "Claim verdicts",
        "How the gateway treats its upstream",
        "Response extraction",
        "Token handling",
        "Load",
        "Sync versus async",
        "Profiles",
        "Parameters",
    ):
        assert f"## {heading}" in markdown  # fmt: skip
    names = {p.name for p in written}
    assert {"claims.csv", "summary.csv", "load.csv", "sweep.csv", "findings.csv"} <= names
    assert {
        "load_latency_cdf.png",
        "sweep.png",
        "cache_hit_rate.png",
        "extraction_time.png",
    } <= names
    assert {"profile.png", "fidelity.png"} <= names


def test_the_html_is_self_contained_with_embedded_plots(
    full_report: tuple[Path, list[Path]],
) -> None:
    page = (full_report[0] / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 6
    assert not re.search(r'<(img|script|link)[^>]+(src|href)="(?!data:)', page)
    scenario = re.search(r'id="sfperf-scenario">(.*?)</script>', page, re.S)
    assert scenario is not None
    assert json.loads(scenario.group(1))["records"][0]["params"] == {"quick": True}


def test_csv_tables_hold_the_raw_values(full_report: tuple[Path, list[Path]]) -> None:
    with (full_report[0] / "claims.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    by_claim = {r["claim"]: r for r in rows}
    assert by_claim["extract-eliminates-8-of-9-in-90pct"]["verdict"] == "inconclusive"
    assert by_claim["consistency-buffer-below-ttl"]["verdict"] == "refuted"


def test_the_report_picks_up_claims_json_from_the_run_dir(tmp_path: Path) -> None:
    from harness.claims import write_verdicts

    records = load_records(GOLDEN / "results-v1-full.json")
    ledger = load_ledger(SEED)
    write_verdicts(tmp_path, evaluate_ledger(ledger, records), ledger)
    write_report(tmp_path, records[:2])
    assert "refuted" in (tmp_path / "claims.csv").read_text()


def test_sfperf_report_renders_a_run_dir_and_compares_two(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    records = load_records(GOLDEN / "results-v1-full.json")
    save_records(before, records)
    save_records(after, records[:4])
    assert main(["claims", "--results", str(before)]) == 0
    shutil.copy(before / "claims.json", after / "claims.json")
    assert main(["report", str(after)]) == 0
    assert (after / "index.html").exists()
    assert main(["report", str(before), str(after), "--out", str(tmp_path / "cmp")]) == 0
    compare = (tmp_path / "cmp" / "compare.md").read_text()
    assert "micro/extract[extractor=legacy,shape=official-generations]/time_s" in compare
    assert "## Claim verdicts" in compare
    assert main(["report", str(after), "--rules", str(tmp_path / "rules.toml")]) == 2


def test_sfperf_report_on_a_missing_dir_exits_two(tmp_path: Path) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
