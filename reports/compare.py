"""Two run directories side by side: the sweep, every shared metric and every claim.

Records are lined up by `harness.pairing` (runner, scenario and labels; one target against
one when each run measured one); each metric is compared as `harness.changes` says (latency
and throughput of ok replies only, rates as rates, counts per request, context left out) with
a verdict that needs significance and the gate's minimum effect; the sweep gets its
throughput and p99 per level and its knees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.card.ledger import load_cards, paired_cards
from harness.claims import Verdict, format_value, load_verdicts
from harness.completeness import run_unfinished
from harness.gate import Rule, shipped_rules
from harness.gate_findings import finding_changes
from harness.pairing import Pair, compare_series, pair_records, shared_series, unpaired
from harness.records import RunRecord, machine_warnings
from harness.store import atomic_write_text, load_records
from harness.upstreams import unlike_words, upstream_of
from reports.render import render_html, render_markdown, to_csv
from reports.sections import Section, Table, sweep_pair_tables

COMPARE_MD, COMPARE_HTML = "compare.md", "compare.html"
RUNNER_ORDER = ("load", "card", "verdict", "profile", "micro", "simulate")
METRIC_COLUMNS = [
    "metric", "differs", "unit", "basis", "baseline", "candidate", "ratio", "ratio_ci_low",
    "ratio_ci_high", "verdict", "note", "p_value", "effect", "n_baseline", "n_candidate",
    "params_differ",
]  # fmt: skip


def metric_rows(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], rules: Sequence[Rule] = ()
) -> list[list[Any]]:
    """One row per metric both runs measured, lined up by `harness.pairing` (the sweep has its
    own section): the labels set aside to pair them, the figures compared, the ratio with its
    interval, the verdict and why."""
    rows = []
    pairs = pair_records(_not_sweep(baseline), _not_sweep(candidate))
    for pair in sorted(pairs, key=lambda p: (_runner_rank(p.runner), p.key)):
        if why := _unlike(pair):  # the difference would be the mocks' (R102)
            rows.append(_not_compared_row(pair, why))
            continue
        for series in shared_series(pair):
            change = compare_series(pair, series, rules)
            if change is None:
                continue
            rows.append([
                f"{pair.key}/{series}", "; ".join(pair.differs), pair.baseline[0].get(series).unit,
                change.basis, change.baseline, change.candidate, change.ratio,
                change.interval.low, change.interval.high, change.verdict, change.note,
                change.p_value, change.effect, change.n_baseline, change.n_candidate,
                "; ".join(pair.params_differ),
            ])  # fmt: skip
    return rows


def _not_compared_row(pair: Pair, why: str) -> list[Any]:
    """One row for a whole pair left uncompared, its `note` saying why."""
    row: list[Any] = [""] * len(METRIC_COLUMNS)
    row[:4] = [f"{pair.key}/*", "; ".join(pair.differs), "", "not compared"]
    row[9:11] = ["not compared", why]
    row[-1] = "; ".join(pair.params_differ)
    return row


def _unlike(pair: Pair) -> str:
    """Why a pair's windows are not compared: measured against unlike upstreams ("" if alike)."""
    return unlike_words(
        (upstream_of(r.params) for r in pair.baseline),
        (upstream_of(r.params) for r in pair.candidate),
    )


def _not_sweep(records: Sequence[RunRecord]) -> list[RunRecord]:
    return [r for r in records if r.runner != "sweep"]


def _runner_rank(runner: str) -> int:
    """What a reader looks for first: the load, then what the target did, then the rest."""
    return RUNNER_ORDER.index(runner) if runner in RUNNER_ORDER else len(RUNNER_ORDER)


def claim_rows(before: Sequence[Verdict], after: Sequence[Verdict]) -> list[list[Any]]:
    """Claims side by side: verdict and value in each run, and whether the verdict changed
    (a claim only one run judged is kept, blank on the other side)."""
    earlier, later = {v.claim_id: v for v in before}, {v.claim_id: v for v in after}
    rows = []
    for claim_id in [*later, *(c for c in earlier if c not in later)]:
        old, new = earlier.get(claim_id), later.get(claim_id)
        text = later[claim_id].text if new else earlier[claim_id].text
        rows.append([
            claim_id, text, old.verdict if old else "", new.verdict if new else "",
            format_value(old.value, old.unit) if old else "",
            format_value(new.value, new.unit) if new else "",
            "changed" if old and new and old.verdict != new.verdict else "",
        ])  # fmt: skip
    return rows


def card_claim_rows(
    before: Mapping[str, Sequence[Verdict]], after: Mapping[str, Sequence[Verdict]]
) -> list[list[Any]]:
    """Each target's report-card claims beside the same target's in the other run; when each
    run measured one target, those two (`a → b`), as the metrics are lined up."""
    return [
        [target, *row]
        for target, old, new in paired_cards(before, after)
        for row in claim_rows(old, new)
    ]


def write_comparison(
    out_dir: Path,
    baseline_dir: Path,
    candidate_dir: Path,
    rules: Sequence[Rule] | None = None,
) -> list[Path]:
    """compare.md, compare.html and CSV tables for two run directories, into `out_dir`; a
    verdict's minimum effect per metric comes from gate `rules` (default: the shipped ones)."""
    baseline, candidate = load_records(baseline_dir), load_records(candidate_dir)
    rules = shipped_rules() if rules is None else rules
    sections = [
        *_findings_section(baseline, candidate),
        _sweep_section(baseline, candidate, rules),
        _metrics_section(baseline, candidate, rules),
        *_one_side_section((baseline_dir, candidate_dir), (baseline, candidate)),
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


def _metrics_section(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], rules: Sequence[Rule]
) -> Section:
    rows = metric_rows(baseline, candidate, rules)
    if not rows:
        return Section("metrics", "Metrics", missing=_nothing_shared(baseline, candidate))
    intro = (
        "Records are lined up by runner, scenario and labels; where each run measured one "
        "target, the labels naming it are set aside (`differs`). `basis` says what is "
        "compared: latency and throughput of ok replies only (an error answered fast is not a "
        "fast reply; with no ok reply on a side they are not compared), rates as rates (their "
        "difference in points, Newcombe's interval, in `note`), counts over a window per "
        "request; status codes, timestamps and the harness's own figures are not metrics. "
        "Ratio of medians (candidate / baseline) with its 95% bootstrap interval. `better` / "
        "`worse` needs the interval to exclude 1 and a change beyond the gate's minimum effect "
        "(scenarios/gate/default.toml: 10% unless a rule says otherwise, a rate 1 point); a "
        "significant change under it is a `small change`. p-value: Mann-Whitney; effect: "
        "Cliff's delta. Windows measured against unlike upstreams (sfperf's mock at one "
        "latency, a user's mock at another) are `not compared`: the note names both."
    )
    return Section(
        "metrics", "Metrics", intro, [Table("compare_metrics", "Metrics", METRIC_COLUMNS, rows)]
    )


FINDING_COLUMNS = ["change", "target", "severity", "finding", "baseline", "candidate", "windows"]


def _findings_section(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]
) -> list[Section]:
    """The FAIL and WARN findings of the mock's journal new in the candidate or cleared from
    it, first: a retry storm the candidate began is what a reader of two runs needs (R125)."""
    changes = finding_changes(baseline, candidate)
    if not changes:
        return []
    rows = [[c.change, c.target, c.severity, c.name, c.before, c.after, ", ".join(c.windows)]
            for c in changes]  # fmt: skip
    intro = (
        "How the gateway treated its upstream, graded from the mock's journal: the FAIL and WARN "
        "findings one run has and the other does not, counted over the windows both runs "
        "graded (a window only one run measured is left out: the other found nothing there "
        "because it never looked). A new FAIL fails `sfperf gate`."
    )
    table = Table("compare_findings", "Findings new or cleared", FINDING_COLUMNS, rows)
    return [Section("findings-changed", "Findings new or cleared", intro, [table])]


ONE_SIDE_COLUMNS = ["source", "measured_in", "missing_from", "why"]


def one_side_rows(
    dirs: tuple[Path, Path], runs: tuple[Sequence[RunRecord], Sequence[RunRecord]]
) -> list[list[str]]:
    """A row per source only one run measured: where, and why the other has none when that
    run did not finish (`stopped by SIGINT during load; not run: sweep, ...`, R111)."""
    why = [run_unfinished(d, run, skipped=True) for d, run in zip(dirs, runs, strict=True)]
    base_only, cand_only = unpaired(*runs)
    return [[source, "baseline", "candidate", why[1]] for source in base_only] + [
        [source, "candidate", "baseline", why[0]] for source in cand_only
    ]


def _one_side_section(
    dirs: tuple[Path, Path], runs: tuple[Sequence[RunRecord], Sequence[RunRecord]]
) -> list[Section]:
    """What one run measured and the other did not: not compared, and said so."""
    rows = one_side_rows(dirs, runs)
    if not rows:
        return []
    lacking = sum(row[2] == "candidate" for row in rows)
    intro = (
        f"Not compared: {lacking} source(s) of the baseline are missing from the candidate and "
        f"{len(rows) - lacking} of the candidate from the baseline (each with its labels). "
        "`why` says what stopped the run that lacks them, when it did not finish."
    )
    table = Table("compare_one_side", "Measured on one side only", ONE_SIDE_COLUMNS, rows)
    return [Section("one-side", "Measured on one side only", intro, [table])]


def _sweep_section(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], rules: Sequence[Rule]
) -> Section:
    tables = sweep_pair_tables(baseline, candidate, rules)
    if not tables:
        return Section("sweep", "Sweep side by side", missing="No sweep in both runs.")
    intro = (
        "Per concurrency level: successful requests per second (Little's law for a closed "
        "loop: N x ok requests / summed latency) and the p99 latency of ok replies, candidate "
        "/ baseline with 95% bootstrap intervals, and each subject's knee and shape. A verdict "
        "needs the interval to exclude 1 and the gate's minimum effect; at a level where the "
        "sweep's own client was the limit of a side, only a verdict in that side's favour "
        "stands (`client-bound` otherwise)."
    )
    return Section("sweep", "Sweep side by side", intro, tables)


def _nothing_shared(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> str:
    """Why no metric lines up: what each run measured."""

    def sources(records: Sequence[RunRecord]) -> str:
        return ", ".join(sorted({f"{r.runner}/{r.scenario}" for r in records})) or "nothing"

    if not _not_sweep(baseline) and not _not_sweep(candidate):
        return "Both runs are sweeps: compared level by level above."
    return (
        "The two runs share no metric to compare: the baseline measured "
        f"{sources(baseline)}, the candidate {sources(candidate)}, and no label told one "
        "target apart from the other."
    )


CLAIM_COLUMNS = [
    "claim", "text", "baseline_verdict", "candidate_verdict", "baseline", "candidate", "changed",
]  # fmt: skip


def _claims_section(baseline_dir: Path, candidate_dir: Path) -> Section:
    """The targets' report-card claims first (what a user comparing two gateways asks), then
    the seed report's claims on the reference code."""
    tables = []
    cards = card_claim_rows(load_cards(baseline_dir), load_cards(candidate_dir))
    if cards:
        title = "Report-card claims per target"
        tables.append(Table("compare_card_claims", title, ["target", *CLAIM_COLUMNS], cards))
    before, after = load_verdicts(baseline_dir), load_verdicts(candidate_dir)
    if before and after:
        title = "Claims of the seed report, on the reference code"
        tables.append(Table("compare_claims", title, CLAIM_COLUMNS, claim_rows(before, after)))
    if not tables:
        missing = (
            "Claim verdicts need claims.json (or a report card, card-claims.json) in both runs."
        )
        return Section("claims", "Claim verdicts", missing=missing)
    intro = (
        "Each claim's verdict and measured value in the baseline and the candidate run; "
        "`changed` marks a verdict that moved. A target's report-card claims are lined up by "
        "target (one against one when each run measured one)."
    )
    return Section("claims", "Claim verdicts", intro, tables)


def _commits(records: Sequence[RunRecord]) -> str:
    return ",".join(sorted({r.environment.git_commit[:10] for r in records})) or "unknown"
