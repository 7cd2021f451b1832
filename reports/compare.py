"""Two run directories side by side: every shared metric and every claim, baseline -> candidate.

Metrics are matched by runner, scenario, labels and series; each pair is compared by the ratio
of medians with a bootstrap interval and a Mann-Whitney p-value (`harness.stats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.claims import Verdict, format_value, load_verdicts
from harness.records import RunRecord, machine_warnings, record_key
from harness.stats import compare_samples, effect_label
from harness.store import atomic_write_text, load_records
from reports.render import render_html, render_markdown, to_csv
from reports.sections import Section, Table

COMPARE_MD, COMPARE_HTML = "compare.md", "compare.html"
MIN_VALUES = 3
METRIC_COLUMNS = [
    "metric", "unit", "baseline_median", "candidate_median", "change", "ratio_ci_low",
    "ratio_ci_high", "p_value", "effect", "n_baseline", "n_candidate",
]  # fmt: skip


def pooled_series(records: Sequence[RunRecord]) -> dict[str, tuple[str, list[float]]]:
    """Every series of every record keyed like the gate (`runner/scenario[labels]/series`)."""
    pooled: dict[str, tuple[str, list[float]]] = {}
    for record in records:
        for series in record.series:
            entry = pooled.setdefault(record_key(record, series.name), (series.unit, []))
            entry[1].extend(series.values)
    return pooled


def metric_rows(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[list[Any]]:
    """One row per metric present in both runs with enough values to compare."""
    base, cand = pooled_series(baseline), pooled_series(candidate)
    rows = []
    for key in sorted(base.keys() & cand.keys()):
        unit, before = base[key]
        after = cand[key][1]
        if min(len(before), len(after)) < MIN_VALUES:
            continue
        c = compare_samples(before, after, resamples=500)
        rows.append([
            key, unit, c.baseline_median, c.candidate_median, f"{c.relative_change:+.1%}",
            c.ratio_ci.low, c.ratio_ci.high, c.p_value, effect_label(c.cliffs_delta),
            c.n_baseline, c.n_candidate,
        ])  # fmt: skip
    return rows


def claim_rows(before: Sequence[Verdict], after: Sequence[Verdict]) -> list[list[Any]]:
    """Claims side by side: verdict and value in each run, and whether the verdict changed."""
    earlier = {v.claim_id: v for v in before}
    rows = []
    for v in after:
        old = earlier.get(v.claim_id)
        rows.append([
            v.claim_id, old.verdict if old else "", v.verdict,
            format_value(old.value, old.unit) if old else "", format_value(v.value, v.unit),
            "changed" if old and old.verdict != v.verdict else "",
        ])  # fmt: skip
    return rows


def write_comparison(out_dir: Path, baseline_dir: Path, candidate_dir: Path) -> list[Path]:
    """compare.md, compare.html and CSV tables for two run directories, into `out_dir`."""
    baseline, candidate = load_records(baseline_dir), load_records(candidate_dir)
    sections = [_metrics_section(baseline, candidate), _claims_section(baseline_dir, candidate_dir)]
    context = {
        "title": "sfperf comparison",
        "run": f"{baseline_dir} → {candidate_dir}",
        "when": "",
        "commit": " → ".join(_commits(r) for r in (baseline, candidate)),
        "machine": "; ".join(machine_warnings(baseline, candidate)) or "same machine",
        "records": f"{len(baseline)} → {len(candidate)} records",
    }
    written = []
    for section in sections:
        for tbl in section.tables:
            written.append(out_dir / f"{tbl.name}.csv")
            atomic_write_text(written[-1], to_csv(tbl))
    atomic_write_text(out_dir / COMPARE_MD, render_markdown(context, sections))
    atomic_write_text(
        out_dir / COMPARE_HTML, render_html(context, sections, [*baseline, *candidate])
    )
    return [*written, out_dir / COMPARE_MD, out_dir / COMPARE_HTML]


def _metrics_section(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> Section:
    rows = metric_rows(baseline, candidate)
    if not rows:
        return Section("metrics", "Metrics", missing="The two runs share no metric to compare.")
    intro = (
        "Ratio of medians (candidate / baseline) with its 95% bootstrap interval and the "
        "Mann-Whitney p-value; effect is Cliff's delta."
    )
    return Section(
        "metrics", "Metrics", intro, [Table("compare_metrics", "Metrics", METRIC_COLUMNS, rows)]
    )


def _claims_section(baseline_dir: Path, candidate_dir: Path) -> Section:
    before, after = load_verdicts(baseline_dir), load_verdicts(candidate_dir)
    if not before or not after:
        return Section(
            "claims", "Claim verdicts", missing="Claim verdicts need claims.json in both runs."
        )
    columns = ["claim", "baseline_verdict", "candidate_verdict", "baseline", "candidate", "changed"]
    rows = claim_rows(before, after)
    return Section(
        "claims", "Claim verdicts", "", [Table("compare_claims", "Claims", columns, rows)]
    )


def _commits(records: Sequence[RunRecord]) -> str:
    return ",".join(sorted({r.environment.git_commit[:10] for r in records})) or "unknown"
