"""Two runs side by side: shared metrics compared, claims paired, changed verdicts marked."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.card.ledger import CARD_CLAIMS_FILE
from harness.claims import Verdict, write_verdicts
from harness.claims.ledger import Ledger
from harness.records import RunRecord, capture_environment, make_series
from harness.store import load_records, save_records
from reports.compare import claim_rows, metric_rows, write_comparison
from reports.sections import sweep_pair_tables

GOLDEN = Path(__file__).parents[2] / "golden"


def test_metrics_in_both_runs_are_compared_by_the_ratio_of_medians() -> None:
    records = load_records(GOLDEN / "results-v1-full.json")
    extract = [r for r in records if r.scenario == "extract"]
    slower = [
        replace(
            r, series=tuple(replace(s, values=tuple(np.array(s.values) * 1.5)) for s in r.series)
        )
        for r in extract
    ]
    rows = {row[0]: row for row in metric_rows(extract, slower)}
    assert len(rows) == len(extract)
    row = rows["micro/extract[extractor=legacy,shape=official-generations]/time_s"]
    assert row[1] == ""  # nothing set aside: the labels are the same
    assert row[3] == "median" and row[6] == pytest.approx(1.5)
    assert row[7] > 1.0 and row[9] == "worse"  # time: lower is better
    assert row[12] == "large"


def test_metrics_with_too_few_values_get_a_ratio_without_an_interval() -> None:
    records = load_records(GOLDEN / "results-v1.json")
    hits = [row for row in metric_rows(records, records) if row[0].endswith("/hits")]
    assert hits and all(row[9] == "too few values" and math.isnan(row[7]) for row in hits)


def test_two_runs_of_different_targets_are_compared_and_the_difference_named(
    tmp_path: Path,
) -> None:
    records = load_records(GOLDEN / "results-v1-full.json")
    steady = [r for r in records if r.matches(runner="load", target="sync-optimized")]
    renamed = [replace(r, labels={**r.labels, "target": "launch:quart_app"}) for r in steady]
    save_records(tmp_path / "a", steady)
    save_records(tmp_path / "b", renamed)
    write_comparison(tmp_path / "out", tmp_path / "a", tmp_path / "b")
    compared = (tmp_path / "out" / "compare.md").read_text()
    assert "share no metric" not in compared
    assert "target: sync-optimized → launch:quart_app" in compared
    assert "no clear change" in compared  # the same values on both sides


def test_two_sweep_runs_are_shown_level_by_level_with_their_knees(tmp_path: Path) -> None:
    records = load_records(GOLDEN / "results-v1-full.json")
    swept = [r for r in records if r.matches(runner="sweep", subject="async-batching")]
    save_records(tmp_path / "a", swept)
    save_records(tmp_path / "b", swept)
    write_comparison(tmp_path / "out", tmp_path / "a", tmp_path / "b")
    levels = (tmp_path / "out" / "sweep_pair_levels.csv").read_text().splitlines()
    assert levels[0].startswith("subject,concurrency,upstream_latency_ms,baseline_ok_rps")
    assert len(levels) == 1 + len(swept)
    knees = (tmp_path / "out" / "sweep_pair_knees.csv").read_text().splitlines()
    assert knees[1].startswith("async-batching,async-batching,")


def test_a_gateway_failing_fast_is_not_called_faster_than_one_that_answers(
    tmp_path: Path,
) -> None:
    # R11: the baseline answered 500 in ~9 ms to every request, the candidate 200 after ~1 s.
    records = load_records(GOLDEN / "results-v1-full.json")
    (steady,) = [r for r in records if r.matches(runner="load", target="sync-optimized")]
    n = len(steady.get("ok").values)
    failing = replace(
        steady,
        labels={**steady.labels, "target": "launch:flask_app"},
        series=tuple(
            replace(s, values=(0.0,) * n) if s.name == "ok"
            else replace(s, values=(9.0,) * n) if s.name == "latency_ms" else s
            for s in steady.series
        ),
    )  # fmt: skip
    save_records(tmp_path / "a", [failing])
    save_records(tmp_path / "b", [replace(steady, labels={**steady.labels, "target": "quart"})])
    write_comparison(tmp_path / "out", tmp_path / "a", tmp_path / "b")
    table = (tmp_path / "out" / "compare_metrics.csv").read_text().splitlines()
    rows = {row["metric"].rsplit("/", 1)[1]: row for row in csv.DictReader(table)}
    assert rows["latency_ms"]["verdict"] == "not compared"
    assert rows["latency_ms"]["note"] == "the baseline's ok rate is 0%"
    assert rows["ok"]["verdict"] == "better" and rows["ok"]["note"].startswith("0.0% → 99.7%")
    assert "status" not in rows and "t_s" not in rows


def test_runs_with_nothing_in_common_say_what_each_measured(tmp_path: Path) -> None:
    records = load_records(GOLDEN / "results-v1-full.json")
    save_records(tmp_path / "a", [r for r in records if r.runner == "micro"])
    save_records(tmp_path / "b", [r for r in records if r.runner == "simulate"])
    write_comparison(tmp_path / "out", tmp_path / "a", tmp_path / "b")
    compared = (tmp_path / "out" / "compare.md").read_text()
    assert "the baseline measured micro/extract" in compared
    assert "the candidate simulate/token-cache" in compared


def test_claims_are_paired_by_id_and_changes_marked() -> None:
    before = Verdict("a", "t", "measured", "holds", "at least 1", "r", value=2.0)
    after = replace(before, verdict="refuted", value=0.5)
    new = replace(before, claim_id="b")
    gone = replace(before, claim_id="c")
    rows = claim_rows([before, gone], [after, new])
    assert rows[0] == ["a", "t", "holds", "refuted", "2", "0.5", "changed"]
    assert rows[1][:4] == ["b", "t", "", "holds"]
    assert rows[2][:4] == ["c", "t", "holds", ""]  # judged in the baseline only: still shown


def test_two_gateways_report_cards_are_compared_before_the_reference_claims(
    tmp_path: Path,
) -> None:
    # R25: two validate runs of two gateways; the user asks which of *their* claims changed.
    ok_rate = Verdict("gw-ok-rate", "95% ok", "measured", "refuted", "at least 95%", "", value=0.0)
    seed = Verdict("extract-89pct", "89% single path", "measured", "refuted", "", "", value=1.0)
    records = load_records(GOLDEN / "results-v1.json")[:1]
    for name, target, rate in (("a", "launch:flask_app", 0.0), ("b", "launch:quart_app", 1.0)):
        save_records(tmp_path / name, records)
        verdict = replace(ok_rate, value=rate, verdict="holds" if rate else "refuted")
        card = {"ledgers": [], "targets": {target: [verdict.as_dict()]}}
        (tmp_path / name / CARD_CLAIMS_FILE).write_text(json.dumps(card))
        write_verdicts(tmp_path / name, [seed], Ledger("seed", "seed.md", ()))
    write_comparison(tmp_path / "out", tmp_path / "a", tmp_path / "b")
    compared = (tmp_path / "out" / "compare.md").read_text()
    cards = compared.index("Report-card claims per target")
    assert cards < compared.index("Claims of the seed report, on the reference code")
    card_rows = (tmp_path / "out" / "compare_card_claims.csv").read_text().splitlines()
    assert card_rows[1].startswith("launch:flask_app → launch:quart_app,gw-ok-rate,95% ok,")
    assert card_rows[1].endswith(",refuted,holds,0,1,changed")


def sweep_level(ok_share: float, latency_ms: float) -> RunRecord:
    """One sweep level at 8 callers: 400 requests, the first `ok_share` of them ok."""
    ok = (np.arange(400) < ok_share * 400).astype(float)
    series = (make_series("latency_ms", "ms", np.full(400, latency_ms)),
              make_series("ok", "count", ok),
              make_series("throughput_rps", "rps", [8000 / latency_ms * ok_share]),
              make_series("littles_bound_rps", "rps", [40.0]))  # fmt: skip
    labels = {"subject": "launch:gw", "kind": "target", "concurrency": "8",
              "upstream_latency_ms": "200"}  # fmt: skip
    return RunRecord("sweep", "sync-vs-async", {}, capture_environment(), series, labels=labels)


def test_a_sweep_level_whose_errors_rose_says_so_before_any_throughput_threshold() -> None:
    # R70: 0% -> 60% errors at a level whose ok throughput moved 1.4% was a "small change".
    tables = sweep_pair_tables([sweep_level(1.0, 200.0)], [sweep_level(0.4, 81.0)])
    (levels,) = [t for t in tables if t.name == "sweep_pair_levels"]
    (row,) = [dict(zip(levels.columns, values, strict=True)) for values in levels.rows]
    assert row["errors_verdict"] == "worse"
    assert str(row["note"]).startswith("errors 0.0% → 60.0%: worse")


def test_what_a_run_stopped_half_way_did_not_measure_is_listed_with_why(tmp_path: Path) -> None:
    records = load_records(GOLDEN / "results-v1-full.json")
    loads = [r for r in records if r.runner == "load"]
    save_records(tmp_path / "a", loads)
    save_records(tmp_path / "b", loads[:1])
    steps = [{"step": "load", "error": "stopped by SIGTERM", "stopped": "cut short"}]
    (tmp_path / "b" / "steps.json").write_text(json.dumps({"steps": steps}))
    write_comparison(tmp_path / "out", tmp_path / "a", tmp_path / "b")
    with (tmp_path / "out" / "compare_one_side.csv").open() as rows:
        lacking = list(csv.DictReader(rows))
    assert len(lacking) == len({(r.scenario, tuple(sorted(r.labels.items()))) for r in loads[1:]})
    assert {row["missing_from"] for row in lacking} == {"candidate"}
    assert {row["why"] for row in lacking} == {"stopped by SIGTERM during load"}


def test_windows_behind_unlike_upstreams_are_one_row_not_compared() -> None:
    records = load_records(GOLDEN / "results-v1-full.json")
    loads = [r for r in records if r.matches(runner="load", target="sync-optimized")]

    def behind(latency: str) -> list[RunRecord]:
        settings = {"latency": latency, "faults": []}
        upstream = {"mock": "sfperf", "profile": "p", "endpoints": {"generations": settings}}
        return [replace(r, params={**r.params, "upstream": upstream}) for r in loads]

    rows = metric_rows(behind("fixed:80ms"), behind("fixed:450ms"))
    assert len(rows) == len({r.scenario for r in loads})
    assert all(row[0].endswith("/*") and row[9] == "not compared" for row in rows)
    assert "latency fixed:80ms) (baseline) vs sfperf's mock" in rows[0][10]
    assert all(row[9] != "not compared" for row in metric_rows(loads, behind("fixed:450ms")))


def test_findings_new_in_the_candidate_lead_the_comparison(tmp_path: Path) -> None:
    # R125: a retry storm 0 -> 7 was "too few values", 170 lines down.
    from harness.findings import Severity
    from tests.unit.harness.test_gate_findings import graded

    save_records(tmp_path / "a", [graded("gw", "resilience")])
    save_records(tmp_path / "b", [graded("gw", "resilience", retry_storm=(Severity.FAIL, 7))])
    write_comparison(tmp_path / "out", tmp_path / "a", tmp_path / "b")
    compared = (tmp_path / "out" / "compare.md").read_text()
    assert compared.index("## Findings new or cleared") < compared.index("## Sweep")
    assert "| new | gw | FAIL | retry_storm | 0 | 7 | resilience |" in compared
    assert "too few values" not in compared
