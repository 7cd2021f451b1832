"""The gate's outcome for people and tools: Markdown for a CI step summary, JSON for `--json`."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness.changes import RATES
from harness.gate import (
    IMPROVEMENT,
    MISSING,
    OTHER_UPSTREAM,
    REGRESSION,
    UNCHANGED,
    UNCONFIRMED,
    UNTESTABLE,
    GateReport,
    MetricResult,
)
from harness.gate_claims import ClaimChange
from harness.gate_findings import FindingChange
from harness.stats import Comparison


def render_summary(report: GateReport, baseline_name: str, candidate_name: str) -> str:
    """Markdown for a CI step summary: verdict line, warnings, one table row per metric."""
    counts = Counter(r.status for r in report.results)
    regressed = (
        counts[REGRESSION]
        + sum(c.regressed for c in report.claims)
        + sum(f.regressed for f in report.findings)
    )
    lines = [
        f"## sfperf gate: {_headline(report, regressed)}",
        "",
        f"Baseline `{baseline_name}` → candidate `{candidate_name}`.",
    ]
    lines += ["", f"**{report.nothing_compared}**"] if report.nothing_compared else []
    lines += ["", f"**{_incomplete(report)}**"] if report.incomplete else []
    lines += ["", *(f"> ⚠️ {w}" for w in report.warnings)] if report.warnings else []
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines += [
        "",
        f"{len(report.results)} metrics: {tally}. p is Holm-adjusted over the {report.tested} "
        "tested metrics (the chance of any false alarm stays below alpha).",
        "",
    ]
    lines += [
        "| status | metric | baseline | candidate | change | 95% CI of ratio | p (Holm) "
        "| detectable | rule | evidence |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in sorted(report.results, key=_order)]
    lines += _claim_lines(report.claims)
    lines += _finding_lines(report.findings)
    return "\n".join(lines) + "\n"


def _headline(report: GateReport, regressed: int) -> str:
    if report.failed:
        return f"❌ {regressed} regression(s)"
    if report.nothing_compared:
        return "⚠️ no verdict: nothing compared"
    if report.withheld:
        return "⚠️ no verdict: the candidate is incomplete"
    if report.incomplete:
        return f"✅ no regression in the metrics compared ({len(report.missing)} missing)"
    return "✅ no regression"


def _incomplete(report: GateReport) -> str:
    """The sentence on what the candidate lacks, and what lets it pass."""
    if report.missing_allowed:
        return f"{report.incomplete}: judged on the rest (--allow-missing)"
    return (f"{report.incomplete}: no verdict on what it did not measure; rerun it whole, or "
            "pass --allow-missing to judge it on the rest")  # fmt: skip


def _claim_lines(claims: Sequence[ClaimChange]) -> list[str]:
    """The report-card claims whose verdict moved: holds -> refuted is a regression."""
    if not claims:
        return []
    lines = [
        "",
        "Report-card claims whose verdict moved (a claim that held and is now refuted fails "
        "the gate):",
        "",
        "| status | target | claim | baseline | candidate |",
        "|---|---|---|---|---|",
    ]
    return lines + [
        f"| {'❌ regression' if c.regressed else '· moved'} | {c.target} | `{c.claim_id}`: "
        f"{c.text} | {c.before} | {c.after} |"
        for c in claims
    ]


def _finding_lines(findings: Sequence[FindingChange]) -> list[str]:
    """The FAIL and WARN findings new in the candidate or cleared: a new FAIL is a regression."""
    if not findings:
        return []
    lines = [
        "",
        "Findings of the mock's journal new in the candidate or cleared from it, over the "
        "windows both runs graded (a new FAIL fails the gate):",
        "",
        "| status | target | finding | baseline | candidate | windows |",
        "|---|---|---|---|---|---|",
    ]
    return lines + [
        f"| {'❌ regression' if f.regressed else '· ' + f.change} | {f.target} | {f.severity} "
        f"`{f.name}` | {f.before:,} | {f.after:,} | {', '.join(f.windows)} |"
        for f in findings
    ]


_ICONS = {
    REGRESSION: "❌ regression",
    UNCONFIRMED: "⚠️ unconfirmed",
    IMPROVEMENT: "🟢 improvement",
    UNCHANGED: "· unchanged",
    MISSING: "❔ missing",
    UNTESTABLE: "· untestable",
    OTHER_UPSTREAM: "↔️ other upstream",
}
_RANK = {REGRESSION: 0, UNCONFIRMED: 1, MISSING: 2, OTHER_UPSTREAM: 3, IMPROVEMENT: 4,
         UNTESTABLE: 5, UNCHANGED: 6}  # fmt: skip


def _order(result: MetricResult) -> tuple[int, str]:
    return _RANK.get(result.status, 9), result.key


def _row(result: MetricResult) -> str:
    rule = result.rule
    rule_text = f"{rule.direction} is better, {_thresholds(result)}, p < {rule.alpha:g}"
    c = result.comparison
    if c is not None and c.method.startswith("t-test"):
        rule_text += f", {rule.statistic} of each run"
    if c is None:
        return (
            f"| {_ICONS[result.status]} | `{result.key}` | | | | {result.note} | | | {rule_text} "
            "| |"
        )
    # "detectable": the change these samples resolve (80% power); evidence: what was tested.
    evidence = f"{c.method}; {result.note}" if result.note else c.method
    before, after = _figure(c.baseline_median, result), _figure(c.candidate_median, result)
    return (
        f"| {_ICONS[result.status]} | `{result.key}` | {before} | {after} | {_change(c, result)} | "
        f"{c.ratio_ci.low:.3f} – {c.ratio_ci.high:.3f} | {result.p_adjusted:.2g} | "
        f"±{c.mde_relative:.1%} | {rule_text} | {evidence} |"
    )


def _thresholds(result: MetricResult) -> str:
    """`> 10% and > 1 ms`; a rate's absolute threshold in points."""
    rule = result.rule
    found = [f"> {rule.max_relative:.0%}"] if rule.max_relative is not None else []
    if rule.max_absolute is not None and rule.series in RATES:
        found.append(f"> {100 * rule.max_absolute:g} point(s)")
    elif rule.max_absolute is not None:
        found.append(f"> {rule.max_absolute:g} {result.unit}")
    return " and ".join(found)


def _figure(value: float, result: MetricResult) -> str:
    """A median in its unit; a rate (the share of requests ok) as a percentage."""
    if result.rule.series in RATES:
        return f"{value:.2%}"
    return f"{value:.4g} {result.unit}"


def _change(comparison: Comparison, result: MetricResult) -> str:
    """Relative change; a rate's in points (99% -> 95% is -4.0 points, not -4.0%)."""
    if result.rule.series in RATES:
        shift = comparison.candidate_median - comparison.baseline_median
        return f"{100 * shift:+.1f} points"
    return f"{comparison.relative_change:+.1%}"


def report_document(report: GateReport) -> dict[str, Any]:
    """The gate's outcome as JSON-ready data (for tools reading `--json`)."""
    return {
        "failed": report.failed,
        "tested": report.tested,
        "nothing_compared": report.nothing_compared or None,
        "incomplete": report.incomplete or None,
        "missing": [r.key for r in report.missing],
        "withheld": report.withheld,
        "claims": [vars(c) | {"regressed": c.regressed} for c in report.claims],
        "findings": [
            vars(f) | {"windows": list(f.windows), "regressed": f.regressed}
            for f in report.findings
        ],
        "warnings": list(report.warnings),
        "results": [
            {
                "metric": r.key,
                "status": r.status,
                "unit": r.unit,
                "note": r.note,
                "p_adjusted": r.p_adjusted if math.isfinite(r.p_adjusted) else None,
                "comparison": _finite(r.comparison.as_dict()) if r.comparison else None,
            }
            for r in report.results
        ],
    }


def _finite(data: dict[str, Any]) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {k: clean(v) for k, v in data.items()}
