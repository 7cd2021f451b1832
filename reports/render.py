"""Write a run's report: report.md, a self-contained index.html, CSV tables and PNG plots.

`write_report(run_dir, records, claims=..., findings=...)` is the one call `sfperf validate` and
`sfperf report` make. Every file is written atomically; the report embeds the parameters and
environment of the records that produced it, so it can seed the next run.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.card.ledger import load_cards
from harness.claims import Verdict, count_verdicts, format_number, load_verdicts
from harness.completeness import load_steps, step_states
from harness.findings import findings_of
from harness.records import RunRecord
from harness.store import atomic_write_bytes, atomic_write_text
from reports.card import card_sections
from reports.sections import Section, Table, build_sections

REPORT_MD, REPORT_HTML = "report.md", "index.html"
FACTS = (
    "outcome",
    "run",
    "when",
    "commit",
    "machine",
    "records",
)  # the report's header lines  # written by `sfperf validate` before it renders the report
CSS_PATH = Path(__file__).with_name("report.css")
PERCENT_COLUMNS = ("_rate", "share", "ok_rate")


def write_report(
    run_dir: Path,
    records: Sequence[RunRecord],
    *,
    claims: Sequence[Verdict] | None = None,
    findings: Sequence[RunRecord] = (),
    title: str = "sfperf report",
    cards: Mapping[str, Sequence[Verdict]] | None = None,
) -> list[Path]:
    """Render every section for `records` into `run_dir`; returns the files written.

    `claims` defaults to the run's claims.json when present; `findings` are extra `verdict`
    records (issue 6) not already in `records`; `cards` (the gateway ledger's verdicts on each
    user target, default: the run's card-claims.json) put each target's report card first.
    """
    everything = [*records, *(f for f in findings if f not in records)]
    verdicts = claims if claims is not None else load_verdicts(run_dir)
    cards = cards if cards is not None else load_cards(run_dir)
    steps = load_steps(run_dir)
    sections = build_sections(everything, verdicts, steps)
    if cards:
        sections = [*card_sections(everything, cards, steps), *retitle_claims(sections)]
    written = write_assets(run_dir, sections)
    context = header(run_dir, everything, title)
    context["outcome"] = outcome(verdicts or (), everything, steps, cards)
    atomic_write_text(run_dir / REPORT_MD, render_markdown(context, sections))
    atomic_write_text(run_dir / REPORT_HTML, render_html(context, sections, everything))
    return [*written, run_dir / REPORT_MD, run_dir / REPORT_HTML]


def kept_title(run_dir: Path, default: str = "sfperf report") -> str:
    """The title the run's report has (`sfperf validate --quick: launch:gw`), so a report
    rendered again says what run it is (R140); `default` when it has none."""
    try:
        first = (run_dir / REPORT_MD).read_text(encoding="utf-8").split("\n", 1)[0]
    except OSError:
        return default
    return first[2:].strip() if first.startswith("# ") and first[2:].strip() else default


def retitle_claims(sections: Sequence[Section]) -> list[Section]:
    """Below a report card, the seed ledger's verdicts are about the reference code."""
    title = "Claims of the seed report, on the reference code"
    return [replace(s, title=title) if s.anchor == "claims" else s for s in sections]


def write_assets(run_dir: Path, sections: Sequence[Section]) -> list[Path]:
    """Each table as CSV and each figure as PNG beside the report."""
    written = []
    for section in sections:
        for tbl in section.tables:
            path = run_dir / f"{tbl.name}.csv"
            atomic_write_text(path, to_csv(tbl))
            written.append(path)
        for fig in section.figures:
            path = run_dir / f"{fig.name}.png"
            atomic_write_bytes(path, fig.png)
            written.append(path)
    return written


def to_csv(tbl: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(tbl.columns)
    writer.writerows([["" if v is None else v for v in row] for row in tbl.rows])
    return buffer.getvalue()


def card_outcome(target: str, card: Sequence[Verdict], records: Sequence[RunRecord]) -> str:
    """How a target's card came out, with its findings; "not measured" when no model worked on
    it (its claims then hold nothing: every one is undecided)."""
    discovered = [r for r in records if r.runner == "discover" and r.labels.get("target") == target]
    if discovered and discovered[-1].params.get("model") is None:
        # Runs saved before `model_not_measured` was kept said "no model works" of every one.
        why = discovered[-1].params.get("model_not_measured") or "no model works on it"
        return f"{target}: not measured ({why}: see its card)"
    refuted = sum(v.verdict == "refuted" for v in card)
    found = findings_count([r for r in records if r.labels.get("target") == target])
    return (
        f"{target}: {refuted} of {len(card)} gateway claims refuted{f', {found}' if found else ''}"
    )


def findings_count(records: Sequence[RunRecord]) -> str:
    """`findings: 1 FAIL, 3 WARN`, counted as the findings tables show them (one per name,
    whatever the windows that named it: R128); "" when no verdict record is among `records`."""
    if not any(r.runner == "verdict" for r in records):
        return ""
    severities = [f.severity.name for f in findings_of(records)]
    return f"findings: {severities.count('FAIL')} FAIL, {severities.count('WARN')} WARN"


def outcome(
    verdicts: Sequence[Verdict],
    records: Sequence[RunRecord],
    steps: Sequence[dict[str, Any]],
    cards: Mapping[str, Sequence[Verdict]] | None = None,
) -> str:
    """One line for the top of the report: each user target's card and findings first, the
    steps, then what the seed ledger and the findings say of sfperf's reference subjects
    (labelled so when a target was measured: R109)."""
    cards = cards or {}
    parts = [card_outcome(target, card, records) for target, card in cards.items()]
    states = step_states(steps)
    stop = next((str(s["error"]) for s in steps if s.get("stopped") == "cut short"), "stopped")
    said = {"failed": "failed steps", "cut short": stop, "not run": "not run",
            "skipped": "skipped steps", "not measured": "steps that measured nothing"}  # fmt: skip
    steps_part = [f"{said[state]}: {', '.join(states[state])}" for state in said if states[state]]
    if steps and not any(states.values()):
        steps_part.append("every step completed")
    reference = reference_outcome(
        verdicts, [r for r in records if r.labels.get("target") not in cards], bool(cards)
    )
    ordered = [*parts, *steps_part, *reference] if cards else [*reference, *steps_part]
    return "; ".join(ordered) or "no claims, findings or step log"


def reference_outcome(
    verdicts: Sequence[Verdict], records: Sequence[RunRecord], beside_a_target: bool
) -> list[str]:
    """The seed ledger's verdict counts and the findings of the records of no user target;
    beside a target's card, said to be about sfperf's reference code."""
    counts = count_verdicts(verdicts) if verdicts else None
    claims = (f"{counts['holds']} hold, {counts['refuted']} refuted, "
              f"{counts['inconclusive']} inconclusive") if counts else ""  # fmt: skip
    found = findings_count(records)
    if not beside_a_target:
        return ([f"claims: {claims}"] if claims else []) + ([found] if found else [])
    said = ([f"seed report claims {claims}"] if claims else []) + ([found] if found else [])
    return [f"on sfperf's reference code: {', '.join(said)}"] if said else []


def header(run_dir: Path, records: Sequence[RunRecord], title: str) -> dict[str, str]:
    """Title line facts: run directory, when the records were taken, commit and machine."""
    starts = sorted(r.started_at for r in records if r.started_at)
    commits = sorted(
        {
            r.environment.git_commit[:10] + ("+dirty" if r.environment.git_dirty else "")
            for r in records
        }
    )
    machines = sorted(
        {
            f"{r.environment.cpu_model} ×{r.environment.cpu_count} ({r.environment.fingerprint})"
            for r in records
        }
    )
    partial = sum(r.partial for r in records)
    return {
        "title": title,
        "run": str(run_dir),
        "when": f"{starts[0]} – {starts[-1]}" if starts else "unknown",
        "commit": ", ".join(commits) or "unknown",
        "machine": "; ".join(machines) or "unknown",
        "records": f"{len(records)} records" + (f", {partial} partial" if partial else ""),
    }


def format_cell(column: str, value: Any) -> str:
    """A cell for people: percentages for rates and shares, other floats as claims say them
    (`format_number`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        if column.endswith(PERCENT_COLUMNS):
            return f"{value * 100:.4g}%"
        return format_number(value)
    return str(value)


def render_markdown(context: dict[str, str], sections: Sequence[Section]) -> str:
    lines = [f"# {context['title']}", ""]
    lines += [f"- **{k}:** {context[k]}" for k in FACTS if context.get(k)]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.missing:
            lines += [f"_{section.missing}_"]
            continue
        lines += [section.intro, ""] if section.intro else []
        for fig in section.figures:
            lines += [f"![{fig.caption}]({fig.name}.png)", ""]
        for tbl in section.tables:
            lines += [f"**{tbl.title}** (`{tbl.name}.csv`)", "", *markdown_table(tbl), ""]
    return "\n".join(lines).rstrip() + "\n"


def markdown_table(tbl: Table) -> list[str]:
    def cell(column: str, value: Any) -> str:
        return format_cell(column, value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(tbl.columns) + " |", "|" + "---|" * len(tbl.columns)]
    lines += [
        "| " + " | ".join(cell(c, v) for c, v in zip(tbl.columns, row, strict=True)) + " |"
        for row in tbl.rows
    ]
    return lines


def render_html(
    context: dict[str, str], sections: Sequence[Section], records: Sequence[RunRecord]
) -> str:
    """One self-contained page: inline CSS, plots as base64 PNG, parameters as embedded JSON."""
    facts = "".join(f"<dt>{esc(k)}</dt><dd>{esc(context[k])}</dd>" for k in FACTS if context.get(k))
    nav = "".join(
        f'<a href="#{s.anchor}" class="{"off" if s.missing else ""}">{esc(s.title)}</a>'
        for s in sections
    )
    body = "".join(html_section(s) for s in sections)
    scenario = json.dumps(scenario_document(records), indent=1, default=str).replace("</", "<\\/")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(context['title'])}</title><style>{CSS_PATH.read_text(encoding='utf-8')}</style></head>"
        f"<body><header><h1>{esc(context['title'])}</h1><dl>{facts}</dl><nav>{nav}</nav></header>"
        f"<main>{body}</main>"
        f'<script type="application/json" id="sfperf-scenario">{scenario}</script>'
        "</body></html>\n"
    )


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def esc(text: str) -> str:
    """HTML-escape, turning Markdown `code` spans, **bold** and [text](link) into HTML.

    Section texts are written once, in Markdown, and shown in both report.md and index.html.
    """
    parts = html.escape(text, quote=True).split("`")
    marked = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return _BOLD.sub(r"<strong>\1</strong>", _LINK.sub(r'<a href="\2">\1</a>', marked))


def html_section(section: Section) -> str:
    parts = [f'<section id="{section.anchor}"><h2>{esc(section.title)}</h2>']
    if section.missing:
        parts.append(f'<p class="missing">{esc(section.missing)}</p></section>')
        return "".join(parts)
    if section.intro:
        parts.append(f"<p>{esc(section.intro)}</p>")
    for fig in section.figures:
        data = base64.b64encode(fig.png).decode("ascii")
        image = f'<img alt="{esc(fig.caption)}" src="data:image/png;base64,{data}">'
        parts.append(f"<figure>{image}<figcaption>{esc(fig.caption)}</figcaption></figure>")
    parts += [html_table(tbl) for tbl in section.tables]
    parts.append("</section>")
    return "".join(parts)


def html_table(tbl: Table) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in tbl.columns)
    rows = []
    for row in tbl.rows:
        cells = []
        for column, value in zip(tbl.columns, row, strict=True):
            text = format_cell(column, value)
            css = f' class="tag {esc(text)}"' if column in ("verdict", "severity", "status") else ""
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            cells.append(f"<td{css}{' data-num' if numeric else ''}>{esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f'{esc(tbl.title)} <a href="{esc(tbl.name)}.csv">CSV</a>'
    body = "".join(rows)
    table = f"<caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
    return f'<div class="table"><table>{table}</table></div>'


def scenario_document(records: Sequence[RunRecord]) -> dict[str, Any]:
    """The parameters and environment behind the report (machine-readable, to seed a rerun)."""
    return {
        "records": [
            {
                "run_id": r.run_id,
                "runner": r.runner,
                "scenario": r.scenario,
                "labels": dict(r.labels),
                "params": dict(r.params),
                "partial": r.partial,
            }
            for r in records
        ],
        "environments": list(
            {r.environment.fingerprint: r.environment.as_dict() for r in records}.values()
        ),
    }
