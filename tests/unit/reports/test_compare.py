"""Two runs side by side: shared metrics compared, claims paired, changed verdicts marked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from harness.claims import Verdict
from harness.store import load_records
from reports.compare import claim_rows, metric_rows

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
    assert row[4] == "+50.0%"
    assert row[8] == "large"


def test_metrics_with_too_few_values_are_left_out() -> None:
    records = load_records(GOLDEN / "results-v1.json")
    assert all("hits" not in row[0] for row in metric_rows(records, records))


def test_claims_are_paired_by_id_and_changes_marked() -> None:
    before = Verdict("a", "t", "measured", "holds", "at least 1", "r", value=2.0)
    after = replace(before, verdict="refuted", value=0.5)
    new = replace(before, claim_id="b")
    rows = claim_rows([before], [after, new])
    assert rows[0] == ["a", "holds", "refuted", "2", "0.5", "changed"]
    assert rows[1][:3] == ["b", "", "holds"]
