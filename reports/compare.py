"""Two run directories side by side: the sweep, every shared metric and every claim.

Records are lined up by `harness.pairing` (runner, scenario and labels; one target against
one when each run measured one); each metric gets the ratio of medians with a bootstrap
interval and a verdict, the sweep its throughput and p99 per level and its knees.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.claims import Verdict, format_value, load_verdicts
from harness.pairing import compare_series, pair_records, shared_series
from harness.records import RunRecord, machine_warnings
from harness.store import atomic_write_text, load_records
from reports.render import render_html, render_markdown, to_csv
from reports.sections import Section, Table, sweep_pair_tables

COMPARE_MD, COMPARE_HTML = "compare.md", "compare.html"
METRIC_COLUMNS = [
    "metric", "differs", "unit", "baseline_median", "candidate_median", "ratio",
    "ratio_ci_low", "ratio_ci_high", "verdict", "p_value", "effect", "n_baseline",
    "n_candidate", "params_differ",
]  # fmt: skip


def metric_rows(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[list[Any]]:
    """One row per metric both runs measured, lined up by `harness.pairing`: the labels set
    aside to pair them, the ratio of medians with its interval, the verdict."""
    rows = []
    for pair in pair_records(baseline, candidate):
        for series in shared_series(pair):
            change = compare_series(pair, series)
            if change is None:
                continue
            rows.append([
                f"{pair.key}/{series}", "; ".join(pair.differs), pair.baseline[0].get(series).unit,
                change.baseline, change.candidate, change.ratio, change.interval.low,
                change.interval.high, change.verdict, change.p_value, change.effect,
                change.n_baseline, change.n_candidate, "; ".join(pair.params_differ),
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
    sections = [
        _sweep_section(baseline, candidate),
        _metrics_section(baseline, candidate),
        _claims_section(baseline_dir, candidate_dir),
    ]
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
        return Section("metrics", "Metrics", missing=_nothing_shared(baseline, candidate))
    intro = (
        "Records are lined up by runner, scenario and labels; where each run measured one "
        "target, the labels naming it are set aside (`differs`). Ratio of medians (candidate / "
        "baseline) with its 95% bootstrap interval; the verdict says whether the interval "
        "excludes 1 and which way is better. p-value: Mann-Whitney; effect: Cliff's delta."
    )
    return Section(
        "metrics", "Metrics", intro, [Table("compare_metrics", "Metrics", METRIC_COLUMNS, rows)]
    )


def _sweep_section(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> Section:
    tables = sweep_pair_tables(baseline, candidate)
    if not tables:
        return Section("sweep", "Sweep side by side", missing="No sweep in both runs.")
    intro = (
        "Per concurrency level: successful requests per second (Little's law for a closed "
        "loop: N x ok requests / summed latency) and p99 latency, candidate / baseline with "
        "95% bootstrap intervals; and each subject's knee and shape."
    )
    return Section("sweep", "Sweep side by side", intro, tables)


def _nothing_shared(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> str:
    """Why no metric lines up: what each run measured."""

    def sources(records: Sequence[RunRecord]) -> str:
        return ", ".join(sorted({f"{r.runner}/{r.scenario}" for r in records})) or "nothing"

    return (
        "The two runs share no metric to compare: the baseline measured "
        f"{sources(baseline)}, the candidate {sources(candidate)}, and no label told one "
        "target apart from the other."
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
