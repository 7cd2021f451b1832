"""Report sections: which tables and figures each kind of record gives, in reading order.

A section renders only when its records exist; otherwise it carries a one-line note saying what
is missing and which command measures it. Renderers (`reports.render`) turn sections into files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.changes import BETTER, WORSE
from harness.claims import Verdict, count_verdicts
from harness.completeness import step_states
from harness.gate import Rule, shipped_rules
from harness.overhead import ADDED_RESOLUTION_MS
from harness.pairing import SweepRow, errors_text, knees_side_by_side, split_roles, sweep_rows
from harness.profile_packages import shares_text
from harness.records import RunRecord
from reports import frames, plots


@dataclass(frozen=True)
class Table:
    """A table to render and to save as `<name>.csv`."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Figure:
    """A plot to embed and to save as `<name>.png`."""

    name: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    missing: str = ""


def table(name: str, title: str, frame: Any) -> list[Table]:
    """A one-table list from a frame, or no table when the frame is empty."""
    columns, rows = frames.table_rows(frame)
    return [Table(name, title, columns, rows)] if rows else []


def figure(name: str, caption: str, png: bytes | None) -> list[Figure]:
    return [Figure(name, caption, png)] if png else []


def claims_section(verdicts: Sequence[Verdict] | None, records: Sequence[RunRecord]) -> Section:
    if not verdicts:
        return Section(
            "claims",
            "Claim verdicts",
            missing="No claim verdicts for this run: "
            "run `sfperf claims --results DIR` (or `sfperf validate`).",
        )
    counts = count_verdicts(verdicts)
    intro = (
        f"{counts['holds']} hold, {counts['refuted']} refuted, {counts['inconclusive']} "
        "inconclusive. A claim holds when the 95% interval of its measured value lies inside the "
        "claimed region, is refuted when the interval lies outside it, and is inconclusive when "
        "the interval straddles its edge or the workload that measures it did not run."
    )
    return Section(
        "claims",
        "Claim verdicts",
        intro,
        table("claims", "Verdicts", frames.claims_table(verdicts)),
    )


def findings_section(records: Sequence[RunRecord]) -> Section:
    found = frames.findings_table(records)
    graded = [r for r in records if r.runner == "verdict"]
    if found.empty and graded:
        return Section("findings", "How the gateway treats its upstream", _clean_grading(graded))
    if found.empty:
        return Section(
            "findings",
            "How the gateway treats its upstream",
            missing=_missing(records, "verdict", "`sfperf verdict --mock URL` after a load run"),
        )
    intro = "Findings from the mock's request journal: what the target did to its upstream."
    return Section(
        "findings",
        "How the gateway treats its upstream",
        intro,
        table("findings", "Findings", found),
    )


_REWRITE_TITLES = {
    "models": "Model map: the model the client asked for, the one the gateway sent it to",
    "endpoints": "Endpoints: the client's route, the Models API endpoint it became",
    "system_text": "System text sent upstream, against the client's",
    "parameters": "Fields the Models API does not accept (and ignores)",
    "several_calls": "Client requests that made more than one upstream call (`extra`: the calls "
    "no failed call before them explains)",
}


_UNJOINED = (
    "These load records hold no join with the mock's journal (they were recorded before sfperf "
    "joined each answer with the upstream calls behind it): their answers were judged against "
    "replies predicted from the client's requests."
)


def gateway_section(records: Sequence[RunRecord]) -> Section:
    """What the gateway did to each request: the join's verdict basis, the latency it added, how
    it streams, and how it rewrote the requests."""
    joins, rewrites = frames.join_table(records), frames.rewrite_tables(records)
    title = "What the gateway did to each request"
    if joins.empty and not rewrites:
        if frames.select(records, "load"):
            return Section("gateway", title, missing=_UNJOINED)
        return Section("gateway", title, missing=_missing(records, "load", "`sfperf load steady` "
                       "(with `--mock-url` beside `--target-url`)"))  # fmt: skip
    intro = (
        "Every prompt of the load carried a marker, and the mock's journal shows the upstream "
        "calls the gateway made for it. Answers are judged against what the upstream really sent "
        "(`vs_upstream`); one no journaled call carried is judged against the reply predicted from "
        "the client's request (`vs_predicted`). Added latency: the client's latency minus the "
        "whole time the upstream spent on those calls (all of them: a second call's time counts "
        "as the upstream's, and the calls per request say when there was one). It subtracts the "
        "mock's clock from the client's: a figure under "
        f"{ADDED_RESOLUTION_MS:g} ms is below what the join resolves (a negative one shows as 0)."
    )
    streams = [
        f"{r.labels.get('target', '?')} ({r.scenario}) {r.params['streaming']['says']}."
        for r in frames.select(records, "load")
        if (r.params.get("streaming") or {}).get("says")
    ]
    tables = table("gateway_join", "Judged against, added latency, streaming", joins)
    for aspect, frame in rewrites.items():
        tables += table(f"gateway_{aspect}", _REWRITE_TITLES[aspect], frame)
    return Section("gateway", title, " ".join([intro, *streams]), tables)


def extraction_section(records: Sequence[RunRecord]) -> Section:
    times, paths = frames.extraction_table(records), frames.paths_table(records)
    if times.empty and paths.empty:
        return Section(
            "extraction",
            "Response extraction",
            missing=_missing(records, "micro", "`sfperf micro`"),
        )
    intro = (
        "Time per call from pytest-benchmark rounds (median and its 95% bootstrap interval), and "
        "counted work per call over a profile's shape mix."
    )
    paths_records = frames.select(records, "micro", "extract-paths")
    raised = [
        f"{says}." for r in paths_records if (says := (r.params.get("raised") or {}).get("says"))
    ]
    return Section(
        "extraction",
        "Response extraction",
        " ".join([intro, *raised]),
        tables=table("extraction_time", "Extraction time per shape", times)
        + table("extraction_paths", "Paths, fallbacks and lookups per call", paths),
        figures=figure(
            "extraction_time",
            "Median extraction time per response shape (µs)",
            plots.extraction_plot(times),
        ),
    )


def token_section(records: Sequence[RunRecord]) -> Section:
    validate, cache = frames.token_validate_table(records), frames.cache_table(records)
    if validate.empty and cache.empty:
        return Section(
            "tokens",
            "Token handling",
            missing=_missing(records, "simulate", "`sfperf simulate` and `sfperf micro`"),
        )
    intro = (
        "Validation cost per provider (micro), and the token cache in virtual time (simulate): "
        "hit rate, refreshes and file I/O per hour, and requests sent with an expired token."
    )
    return Section(
        "tokens",
        "Token handling",
        intro,
        tables=table("token_validation", "Token validation per provider", validate)
        + table("token_cache", "Token cache simulation per configuration", cache),
        figures=figure(
            "cache_hit_rate",
            "Hit rate per virtual hour",
            plots.cache_hit_plot(frames.cache_timeline(records)),
        ),
    )


def _not_replied(kept: Mapping[str, Any]) -> int:
    """An open loop's scheduled requests with no reply in its window (`open_loop` params)."""
    return sum(int(kept.get(k, 0)) for k in ("unsent", "due", "waiting"))


def _unsent_note(records: Sequence[RunRecord]) -> str:
    """An open loop the target fell behind: its requests never sent, or still waiting at the
    window's end, are said (the first count as not ok, the others are not counted)."""
    kept = [r.params.get("open_loop") or {} for r in records if r.runner == "load"]
    unsent = sum(int(k.get("unsent", 0)) for k in kept)
    # A healthy open loop has about rate x latency in flight at its end: a tenth is a backlog.
    behind = [k for k in kept if _not_replied(k) > 0.1 * k.get("scheduled", 0)]
    waiting = sum(_not_replied(k) - int(k.get("unsent", 0)) for k in behind)
    said = ""
    if unsent:
        said += (f" The open loop did not hold its rate: {unsent:,} scheduled request(s) were "
                 "never sent, every user waiting on the target; they count as not ok, their "
                 "latency the wait from their intended start to the window's end (a lower "
                 "bound).")  # fmt: skip
    if waiting:
        said += (f" {waiting:,} open-loop request(s) were still waiting, to be sent or "
                 "answered, at their window's end and are not counted (see `open_loop` in the "
                 "records).")  # fmt: skip
    return said


def load_section(records: Sequence[RunRecord]) -> Section:
    summary = frames.load_table(records)
    if summary.empty:
        return Section("load", "Load", missing=_missing(records, "load", "`sfperf load steady`"))
    fidelity = frames.fidelity_table(records)
    fidelity_note = (
        " No fidelity failures: every response matched what the mock sent."
        if not fidelity.empty and fidelity["count"].sum() == 0
        else ""
    )
    return Section(
        "load",
        "Load",
        "Per-request latency measured at the client (in open-loop mode from "
        "each request's intended start, so a stalled target cannot hide its queue)."
        + _unsent_note(records)
        + fidelity_note,
        tables=table("load", "Latency and throughput per target", summary)
        + table(
            "fidelity",
            "Fidelity checks (responses per mismatch kind)",
            frames.fidelity_wide(fidelity),
        ),
        figures=figure(
            "load_latency_cdf",
            "Latency CDF per scenario and target",
            plots.latency_cdf(frames.latency_samples(records, "load")),
        )
        + figure("fidelity", "Fidelity failures", plots.fidelity_plot(fidelity)),
    )


def sweep_section(records: Sequence[RunRecord]) -> Section:
    sweep = frames.sweep_table(records)
    if sweep.empty:
        return Section(
            "sweep", "Sync versus async", missing=_missing(records, "sweep", "`sfperf sweep`")
        )
    intro = (
        "Closed-loop throughput and latency of successful requests at each concurrency level "
        "beside the Little's-law bound (concurrency / upstream latency): a subject on the "
        "dashed line is limited only by the upstream. A level where half the requests fail or "
        "more is failing, never in step. The knee is the highest level still within 90% of "
        "the bound; the shape past it is classed from what was measured (`broken`: failing at "
        "every level). "
        "`ceiling` is the sweep's own client calling the mock directly: where a gateway only "
        "matches it, the limit is the client's, not the gateway's."
    )
    tables = table("sweep_knees", "Knee and shape per subject", frames.knee_table(records))
    tables += table("sweep", "Throughput and latency per subject and concurrency", sweep)
    halves = split_roles(records)
    tables += sweep_pair_tables(*halves, shipped_rules()) if halves is not None else []
    return Section(
        "sweep",
        "Sync versus async",
        intro,
        tables=tables,
        figures=figure(
            "sweep", "Throughput and latency against concurrency", plots.sweep_plot(sweep)
        )
        + figure(
            "sweep_latency_cdf",
            "Latency CDF per subject at its highest concurrency",
            plots.latency_cdf(frames.sweep_latency_samples(records)),
        ),
    )


SWEEP_PAIR_COLUMNS = [
    "subject", "concurrency", "upstream_latency_ms", "baseline_ok_rps", "candidate_ok_rps",
    "throughput_ratio", "throughput_low", "throughput_high", "throughput_verdict",
    "baseline_p99_ms", "candidate_p99_ms", "p99_ratio", "p99_low", "p99_high", "p99_verdict",
    "baseline_error_rate", "candidate_error_rate", "errors_verdict", "baseline_cpu_ms",
    "candidate_cpu_ms", "note",
]  # fmt: skip
KNEE_PAIR_COLUMNS = [
    "baseline", "candidate", "upstream_latency_ms", "baseline_knee", "candidate_knee",
    "baseline_peak_ok_rps", "candidate_peak_ok_rps", "baseline_shape", "candidate_shape",
]  # fmt: skip


def sweep_pair_tables(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], rules: Sequence[Rule] = ()
) -> list[Table]:
    """The sweep's subjects side by side: ok throughput and p99 of ok replies per level
    (candidate / baseline, 95% interval, verdict, why), and each one's knee and shape."""
    levels = [
        [
            row.subject, row.concurrency, row.upstream_latency_ms,
            row.throughput.baseline, row.throughput.candidate, row.throughput.ratio,
            row.throughput.interval.low, row.throughput.interval.high, row.throughput.verdict,
            row.p99.baseline, row.p99.candidate, row.p99.ratio,
            row.p99.interval.low, row.p99.interval.high, row.p99.verdict, *row.error_rate,
            row.ok.verdict if row.ok else "",
            *(math.nan if cpu is None else cpu for cpu in row.cpu_ms_per_request),
            _level_note(row),
        ]
        for row in sweep_rows(baseline, candidate, rules)
    ]  # fmt: skip
    knees = [
        [
            b.subject, c.subject, b.upstream_latency_ms, _knee(b.knee), _knee(c.knee),
            b.peak_rps, c.peak_rps, b.shape, c.shape,
        ]
        for b, c in knees_side_by_side(baseline, candidate)
    ]  # fmt: skip
    tables = []
    if knees:
        tables.append(Table("sweep_pair_knees", "Knees side by side", KNEE_PAIR_COLUMNS, knees))
    if levels:
        title = "Per level, candidate / baseline"
        tables.append(Table("sweep_pair_levels", title, SWEEP_PAIR_COLUMNS, levels))
    return tables


def _level_note(row: SweepRow) -> str:
    """Why a level's verdicts are what they are, led by its error rates when they moved: a
    throughput within its threshold does not make 0% -> 60% errors a small change (R70)."""
    moved = row.ok is not None and row.ok.verdict in (BETTER, WORSE)
    notes = [errors_text(row.ok)] if moved else []
    notes.append(_pair_note(row.throughput.note, row.p99.note))
    return "; ".join(note for note in notes if note)


def _pair_note(throughput: str, p99: str) -> str:
    """Why a level's verdicts are what they are (said once when both say the same)."""
    if throughput == p99:
        return throughput
    return "; ".join(f"{name}: {note}" for name, note in (("throughput", throughput),
                                                          ("p99", p99)) if note)  # fmt: skip


def _knee(knee: int | None) -> str:
    return "none" if knee is None else str(knee)


def profile_section(
    records: Sequence[RunRecord], steps: Sequence[Mapping[str, Any]] = ()
) -> Section:
    profile = frames.profile_table(records)
    if profile.empty:
        return Section("profiles", "Profiles", missing=_no_profile(records, steps))
    artifacts = frames.profile_artifacts(records)
    # Artifacts are relative to the run directory, where the report is written too.
    links = [f"[{a}]({a})" for a in artifacts if a.endswith(".html")]
    intro = "Top frames by share of pyinstrument samples under load. Full profiles: " + (
        ", ".join(links or [f"`{a}`" for a in artifacts]) or "none saved"
    )
    profiles = [r for r in records if r.runner == "profile"]
    notes = [note for note in (_start_up_note(profiles), _process_note(profiles),
                               _package_note(profiles)) if note]  # fmt: skip
    intro = f"{intro}. {' '.join(notes)}" if notes else intro
    return Section(
        "profiles",
        "Profiles",
        intro,
        table("profile_top_frames", "Top frames", profile),
        figure("profile", "Top frames per variant", plots.profile_plot(profile)),
    )


def _no_profile(records: Sequence[RunRecord], steps: Sequence[Mapping[str, Any]]) -> str:
    """Why the run has no profile: what the profiled targets left, or why validate skipped the
    step (its reason says what to change: running `sfperf profile` would meet it again, R98)."""
    errors = [f"{r.labels.get('variant')}: {r.params['profile_error']}" for r in records
              if r.runner == "profile" and r.params.get("profile_error")]  # fmt: skip
    if errors:
        return f"No profile: {'; '.join(errors)}."
    skipped = [str(s["skipped"]) for s in steps if s.get("step") == "profile" and s.get("skipped")]
    if skipped:
        return f"Not measured in this run: the profile step was skipped: {skipped[0]}."
    return _missing(records, "profile", "`sfperf profile`")


def _process_note(profiles: Sequence[RunRecord]) -> str:
    """Which processes each profile of a multi-process target covers (a server's supervisor
    waits while its workers serve), and of any whose profiled processes served nothing (R86)."""
    noted = [r for r in profiles if _worth_a_note(r.params.get("processes") or [])]
    return " ".join(f"{r.labels.get('variant')}: {r.params['profiled_processes']}." for r in noted)


def _package_note(profiles: Sequence[RunRecord]) -> str:
    """Each profile's working samples by package, the gateway's own named: a gateway installed
    with pip is all library frames to pyinstrument, its CPU spread over builtins (R103)."""
    notes = [f"{r.labels.get('variant')} by package (working samples): "
             f"{shares_text(r.params['package_shares'], r.params.get('gateway_packages') or ())}."
             for r in profiles if r.params.get("package_shares")]  # fmt: skip
    return " ".join(notes)


def _worth_a_note(processes: Sequence[Mapping[str, Any]]) -> bool:
    profiled = [p for p in processes if p.get("profiled")]
    return len(processes) > 1 or any(p.get("upstream_redirects") == 0 for p in profiled)


def _start_up_note(profiles: Sequence[RunRecord]) -> str:
    """Whether each profile starts at its target's readiness or includes its start-up."""
    cut = [f"{r.labels.get('variant')} {float(r.params['start_up_cut_s']):.1f} s"
           for r in profiles if r.params.get("sampled_from") == "ready"]  # fmt: skip
    whole = [str(r.labels.get("variant")) for r in profiles
             if str(r.params.get("sampled_from", "")).startswith("start")]  # fmt: skip
    notes = [f"Sampled from the moment the target was ready (start-up left out: {', '.join(cut)})."
             ] if cut else []  # fmt: skip
    if whole:
        notes.append(f"Start-up (imports, set-up) included for: {', '.join(whole)}.")
    return " ".join(notes)


def summary_section(records: Sequence[RunRecord]) -> Section:
    if not records:
        return Section("summary", "Every series", missing="This run holds no records.")
    return Section(
        "summary",
        "Every series",
        "Distribution of every raw series of every record.",
        table("summary", "Summary", frames.summary_table(records)),
    )


def params_section(records: Sequence[RunRecord]) -> Section:
    if not records:
        return Section("parameters", "Parameters and environment", missing="No records.")
    intro = "What produced each record (rerun with the same parameters to reproduce it)."
    return Section(
        "parameters",
        "Parameters and environment",
        intro,
        table("parameters", "Records", frames.params_table(records)),
    )


SECTIONS: tuple[Callable[[Sequence[RunRecord]], Section], ...] = (
    findings_section,
    gateway_section,
    extraction_section,
    token_section,
    load_section,
    sweep_section,
    profile_section,
    summary_section,
    params_section,
)


def steps_section(steps: Sequence[Mapping[str, Any]]) -> list[Section]:
    """The pipeline's step log (`steps.json` of `sfperf validate`), when the run has one."""
    if not steps:
        return []
    columns = ["step", "records", "duration_s", "error", "skipped"]
    columns += ["not_measured"] if any(step.get("not_measured") for step in steps) else []
    rows = [[step.get(c, "") for c in columns] for step in steps]
    states = step_states(steps)
    said = {
        "failed": "Steps that failed (their sections are partial or missing)",
        "cut short": "Steps the stop cut short (their sections are partial)",
        "not run": "Steps the stop left unstarted",
        "skipped": "Steps skipped (the table says why)",
        "not measured": "Steps that ran but measured nothing of what they are for (the table "
        "says why)",
    }
    notes = [f"{said[state]}: {', '.join(states[state])}." for state in said if states[state]]
    intro = " ".join(notes) or "Every step of the run completed."
    return [Section("steps", "Run steps", intro, [Table("steps", "Steps", columns, rows)])]


def build_sections(
    records: Sequence[RunRecord],
    verdicts: Sequence[Verdict] | None,
    steps: Sequence[Mapping[str, Any]] = (),
) -> list[Section]:
    """Every section in reading order: claims first, raw parameters last."""
    return [
        claims_section(verdicts, records),
        *steps_section(steps),
        # The profile's says why validate skipped its step, when it did (R98).
        *(profile_section(records, steps) if build is profile_section else build(records)
          for build in SECTIONS),
    ]  # fmt: skip


def _clean_grading(graded: Sequence[RunRecord]) -> str:
    """What a grading that found nothing says: who was graded, on how many requests."""
    targets = ", ".join(dict.fromkeys(str(r.labels.get("target", "?")) for r in graded))
    entries = sum(int(r.params.get("entries", 0)) for r in graded)
    journal = f"the mock's journal of {entries:,} requests" if entries else "the mock's journal"
    partial = " (partial records: the run was cut short)" if any(r.partial for r in graded) else ""
    return (f"No findings: {journal} shows no mistake in how {targets} treated the "
            f"upstream{partial}.")  # fmt: skip


def _missing(records: Sequence[RunRecord], runner: str, command: str) -> str:
    partial = any(r.runner == runner and r.partial for r in records)
    reason = "only partial records" if partial else f"no `{runner}` records"
    return f"Not measured in this run ({reason}): run {command}."
