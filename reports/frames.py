"""RunRecords -> tidy pandas frames, one per report section (the only pandas importer).

Every frame is derived from raw Series values; statistics come from `harness.stats`. A function
returns an empty frame when its records are absent, so sections can say what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.claims import Verdict, format_value
from harness.findings import findings_of
from harness.machine import load_span
from harness.records import RunRecord
from harness.saturation import measured_level, ok_flags, ok_latencies, saturations
from harness.stats import summarize

# Report intervals need less precision than claims; this keeps big runs quick to render.
RESAMPLES = 400
PROFILE_TOP = 12


def label_text(labels: Mapping[str, str]) -> str:
    """`k=v, k=v` in key order: a stable, readable name for a labelled record."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def select(
    records: Iterable[RunRecord], runner: str, scenario: str | None = None
) -> list[RunRecord]:
    return [r for r in records if r.runner == runner and scenario in (None, r.scenario)]


def values(record: RunRecord, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A series' values as an array (empty when the record lacks it)."""
    if name not in record.series_names:
        return np.empty(0)
    return np.asarray(record.get(name).values, dtype=np.float64)


def observations(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per raw observation: run, runner, scenario, labels, series, unit, index, value."""
    rows = [
        (r.run_id, r.runner, r.scenario, label_text(r.labels), s.name, s.unit, i, v, r.partial)
        for r in records
        for s in r.series
        for i, v in enumerate(s.values)
    ]
    columns = [
        "run_id",
        "runner",
        "scenario",
        "labels",
        "series",
        "unit",
        "index",
        "value",
        "partial",
    ]
    return pd.DataFrame(rows, columns=columns)


def summary_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per series of every record: n, mean, median with its CI, p90, p99, min, max."""
    rows = []
    for record in records:
        for series in record.series:
            if not series.values:
                continue
            s = summarize(series.values, percentiles=(90, 99), resamples=RESAMPLES)
            rows.append(
                {
                    "runner": record.runner,
                    "scenario": record.scenario,
                    "labels": label_text(record.labels),
                    "series": series.name,
                    "unit": series.unit,
                    "n": s.n,
                    "mean": s.mean,
                    "median": s.median,
                    "median_ci_low": s.median_ci.low,
                    "median_ci_high": s.median_ci.high,
                    "p90": s.percentiles[90.0],
                    "p99": s.percentiles[99.0],
                    "min": s.minimum,
                    "max": s.maximum,
                    "partial": record.partial,
                }
            )
    return pd.DataFrame(rows)


def extraction_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """micro/extract: median time per call (µs) with its CI, per extractor and shape."""
    rows = []
    for record in select(records, "micro", "extract"):
        times = values(record, "time_s")
        if times.size == 0:
            continue
        s = summarize((times * 1e6).tolist(), percentiles=(90,), resamples=RESAMPLES)
        rows.append(
            {
                "extractor": record.labels.get("extractor", "?"),
                "shape": record.labels.get("shape", "?"),
                "rounds": s.n,
                "median_us": s.median,
                "ci_low_us": s.median_ci.low,
                "ci_high_us": s.median_ci.high,
                "p90_us": s.percentiles[90.0],
            }
        )
    return pd.DataFrame(rows)


def paths_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """micro/extract-paths: first-path rate, fallback rate, lookups per call, correctness, and
    the rate of calls a user's extractor raised on."""
    rows = []
    for record in select(records, "micro", "extract-paths"):
        rank = values(record, "path_rank")
        rows.append(
            {
                "extractor": record.labels.get("extractor", "?"),
                "profile": record.labels.get("profile", "?"),
                "calls": int(rank.size),
                "first_path_rate": _mean(rank == 1),
                "fallback_rate": _mean(values(record, "fallback") != 0),
                "mean_lookups": _mean(values(record, "lookups")),
                "matched_rate": _mean(values(record, "matched") != 0),
                # A user's extractor that raised (records before R83 have no such series).
                "raised_rate": _mean(values(record, "raised") != 0),
            }
        )
    return pd.DataFrame(rows)


def token_validate_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """micro/token-validate: median validation time and file I/O per validation, per provider."""
    rows = []
    for record in select(records, "micro", "token-validate"):
        times = values(record, "time_s")
        rows.append(
            {
                "provider": record.labels.get("provider", "?"),
                "median_us": float(np.median(times)) * 1e6 if times.size else np.nan,
                "file_reads_per_validation": _mean(values(record, "file_reads")),
                "file_writes_per_validation": _mean(values(record, "file_writes")),
            }
        )
    return pd.DataFrame(rows)


def cache_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """simulate/token-cache: per provider configuration, totals and rates over the whole run."""
    rows = []
    for record in select(records, "simulate", "token-cache"):
        requests = float(values(record, "requests").sum())
        hours = int(values(record, "requests").size)
        rows.append(
            {
                "configuration": _config_name(record),
                "hours": hours,
                "requests": int(requests),
                "hit_rate": values(record, "hits").sum() / requests if requests else np.nan,
                "refreshes_per_h": _per_hour(record, "refreshes"),
                "file_io_per_h": _per_hour(record, "file_reads") + _per_hour(record, "file_writes"),
                "expired_sends": int(values(record, "expired_sends").sum()),
            }
        )
    return pd.DataFrame(rows)


def cache_timeline(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Hit rate per virtual hour, per configuration (tidy: configuration, hour, hit_rate)."""
    frames = []
    for record in select(records, "simulate", "token-cache"):
        requests, hits = values(record, "requests"), values(record, "hits")
        if requests.size == 0 or hits.size != requests.size:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(requests > 0, hits / requests, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "configuration": _config_name(record),
                    "hour": np.arange(1, requests.size + 1),
                    "hit_rate": rate,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """load: per scenario and target, request count, success rate, latency percentiles, rate."""
    rows = []
    for record in select(records, "load"):
        latency = values(record, "latency_ms")
        if latency.size == 0:
            continue
        throughput = values(record, "throughput_rps")
        ttft = values(record, "ttft_ms")
        rows.append(
            {
                "scenario": record.scenario,
                "target": record.labels.get("target", "?"),
                "mode": record.labels.get("mode", ""),
                "requests": int(latency.size),
                "ok_rate": _mean(values(record, "ok") != 0),
                "p50_ms": float(np.percentile(latency, 50)),
                "p90_ms": float(np.percentile(latency, 90)),
                "p99_ms": float(np.percentile(latency, 99)),
                "throughput_rps": float(throughput[0]) if throughput.size else np.nan,
                "ttft_p50_ms": float(np.percentile(ttft, 50)) if ttft.size else np.nan,
                "partial": record.partial,
            }
        )
    return pd.DataFrame(rows)


def latency_samples(records: Sequence[RunRecord], runner: str) -> pd.DataFrame:
    """Raw per-request latencies (tidy: group, latency_ms) for CDF plots."""
    frames = [
        pd.DataFrame({"group": _group_name(r), "latency_ms": values(r, "latency_ms")})
        for r in select(records, runner)
        if "latency_ms" in r.series_names
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def fidelity_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """load: fidelity failure counts per target and kind (zero counts kept: they are good news)."""
    rows = [
        {
            "scenario": r.scenario,
            "target": r.labels.get("target", "?"),
            "kind": s.name.removeprefix("fidelity_"),
            "count": int(sum(s.values)),
        }
        for r in select(records, "load")
        for s in r.series
        if s.name.startswith("fidelity_")
    ]
    return pd.DataFrame(rows)


def fidelity_wide(fidelity: pd.DataFrame) -> pd.DataFrame:
    """The fidelity counts as one row per scenario and target, one column per kind, and a total."""
    if fidelity.empty:
        return fidelity
    wide = fidelity.pivot_table(
        index=["scenario", "target"], columns="kind", values="count", aggfunc="sum", fill_value=0
    )
    wide["total"] = wide.sum(axis=1)
    return wide.reset_index().rename_axis(columns=None)


def join_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """load: how each run's answers were judged (against the upstream's reply, a predicted one,
    or not at all), the gateway's added latency and calls per request, how it streams."""
    rows = []
    for record in select(records, "load"):
        basis = record.params.get("fidelity_basis")
        if not isinstance(basis, Mapping):
            continue
        added = values(record, "added_latency_ms")
        calls = values(record, "upstream_calls")
        streaming = record.params.get("streaming") or {}
        rows.append({
            "scenario": record.scenario,
            "target": record.labels.get("target", "?"),
            "vs_upstream": int(basis.get("upstream", 0)),
            "vs_predicted": int(basis.get("predicted", 0)),
            "unchecked": int(basis.get("unchecked", 0)),
            "added_p50_ms": _added_percentile(added, 50),
            "added_p99_ms": _added_percentile(added, 99),
            "calls_per_request": _mean(calls),
            "streaming": str(streaming.get("mode", "")),
        })  # fmt: skip
    return pd.DataFrame(rows)


REWRITE_COLUMNS = {
    "models": ["asked", "sent", "asked_family", "sent_family", "change", "swapped"],
    "endpoints": ["asked", "sent", "changed"],
    "system_text": ["change", "text"],
    "parameters": ["field", "means"],
    "several_calls": ["endpoints", "calls", "extra"],
}


def rewrite_tables(records: Sequence[RunRecord]) -> dict[str, pd.DataFrame]:
    """verdict/rewrites: what the gateway did to the requests, per target (requests summed over
    its load runs): one frame per aspect of `REWRITE_COLUMNS` that has rows."""
    tables = {}
    for aspect, keys in REWRITE_COLUMNS.items():
        rows = [
            {"target": r.labels.get("target", "?"), **{k: item.get(k) for k in keys},
             "requests": int(item.get("requests", 0))}
            for r in select(records, "verdict", "rewrites")
            for item in (r.params.get("rewrites") or {}).get(aspect, [])
        ]  # fmt: skip
        if rows:
            frame = pd.DataFrame(rows).astype({k: str for k in keys})
            groups = frame.groupby(["target", *keys], as_index=False, sort=False)
            tables[aspect] = groups.agg(requests=("requests", "sum"))
    return tables


def sweep_latency_samples(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Latencies of the successful sweep requests at each subject's highest concurrency
    measured (where they differ)."""
    top: dict[str, float] = {}
    for record in filter(measured_level, records):
        subject = record.labels.get("subject", "?")
        top[subject] = max(top.get(subject, -1.0), _number(record.labels.get("concurrency")))
    chosen = [
        r
        for r in filter(measured_level, records)
        if _number(r.labels.get("concurrency")) == top[r.labels.get("subject", "?")]
    ]
    frames = [
        pd.DataFrame({"group": _group_name(r), "latency_ms": ok_latencies(r)}) for r in chosen
    ]  # successful requests only, as in the sweep's table: an error's speed is not the subject's
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sweep_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """sweep: throughput (all and successful), Little's-law bound, latency percentiles of the
    successful requests, errors and fidelity mismatches per subject and level measured (the
    rounds of a level pooled)."""
    points: dict[tuple[str, ...], list[RunRecord]] = {}
    for record in filter(measured_level, records):
        key = tuple(record.labels.get(k, "") for k in ("subject", "kind", "concurrency",
                                                       "upstream_latency_ms"))  # fmt: skip
        points.setdefault(key, []).append(record)
    frame = pd.DataFrame([_sweep_row(chosen) for chosen in points.values()])
    return frame.sort_values(["subject", "concurrency"], ignore_index=True) if points else frame


def _sweep_row(records: Sequence[RunRecord]) -> dict[str, Any]:
    """One sweep point from its record(s): requests pooled, throughput averaged over rounds."""
    first = records[0]
    latency = np.concatenate([ok_latencies(r) for r in records])
    ok = np.concatenate([ok_flags(r) for r in records])
    throughput = float(np.mean([_first(values(r, "throughput_rps")) for r in records]))
    bound = _first(values(first, "littles_bound_rps"))
    ok_rps = throughput * float(ok.mean()) if ok.size else np.nan
    return {
        "subject": first.labels.get("subject", "?"),
        "kind": first.labels.get("kind", ""),
        "concurrency": _number(first.labels.get("concurrency")),
        "upstream_latency_ms": _number(first.labels.get("upstream_latency_ms")),
        "throughput_rps": throughput,
        "ok_rps": ok_rps,
        "littles_bound_rps": bound,
        "of_bound": ok_rps / bound if bound else np.nan,
        "p50_ms": float(np.percentile(latency, 50)) if latency.size else np.nan,
        "p99_ms": float(np.percentile(latency, 99)) if latency.size else np.nan,
        "error_rate": 1.0 - float(ok.mean()) if ok.size else np.nan,
        "fidelity_mismatches": float(np.sum([_fidelity_mismatches(r) for r in records])),
        "subject_cpu_ms_per_request": _cpu_ms_per_request(records, "subject_cpu_s"),
        "client_cpu_ms_per_request": _cpu_ms_per_request(records, "client_cpu_s"),
    }


def _cpu_ms_per_request(records: Sequence[RunRecord], series: str) -> float:
    """CPU milliseconds per answered request over the measured spans (NaN: not counted)."""
    cpu_s = sum(_first(values(r, series)) for r in records)
    answered = sum(_first(values(r, "span_requests")) for r in records)
    return 1000.0 * cpu_s / answered if answered > 0 else np.nan


def _fidelity_mismatches(record: RunRecord) -> float:
    """Replies unlike the upstream's (summed over kinds); NaN when the replies were not checked."""
    if "fidelity_checked" not in record.series_names:
        return np.nan
    kinds = [
        s for s in record.series if s.name.startswith("fidelity_") and s.name != "fidelity_checked"
    ]
    return float(sum(s.values[0] for s in kinds if s.values))


def knee_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """sweep: each subject's knee (highest level within 90% of the bound) and shape past it
    (with what the run's profile of it shows of a cap of one: all `records` are read), and the
    machine's load while it was swept."""
    sweep = select(records, "sweep")
    rows = [
        {
            "subject": s.subject,
            "upstream_latency_ms": _number(s.upstream_latency_ms),
            "knee": s.knee if s.knee is not None else np.nan,
            "top_level": s.top,
            "peak_ok_rps": s.peak_rps,
            "shape": s.shape,
            "cap_in_flight": s.cap if s.cap is not None else np.nan,
            "detail": s.detail,
            "machine_load": _machine_load(sweep, s.subject),
        }
        for s in saturations(records)
    ]
    return pd.DataFrame(rows)


def _machine_load(records: Sequence[RunRecord], subject: str) -> str:
    """The machine's load while `subject` was swept, in words ("" when not recorded)."""
    span = load_span(r for r in records if r.labels.get("subject") == subject)
    return "" if span is None else span.describe()


def profile_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """profile: the top frames by share of samples, per variant."""
    rows = [
        {
            "variant": r.labels.get("variant", "?"),
            "function": s.name.removeprefix("share:"),
            "share": float(np.mean(s.values)) if s.values else 0.0,
        }
        for r in select(records, "profile")
        for s in r.series
        if s.name.startswith("share:")
    ]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows).sort_values(["variant", "share"], ascending=[True, False])
    return frame.groupby("variant").head(PROFILE_TOP).reset_index(drop=True)


def profile_artifacts(records: Sequence[RunRecord]) -> list[str]:
    return [a for r in select(records, "profile") for a in r.artifacts]


def claims_table(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """The claim verdicts: value and interval formatted in the claim's unit, reason, evidence."""
    rows = [
        {
            "claim": v.claim_id,
            "verdict": v.verdict,
            "text": v.text,
            "measured": format_value(v.value, v.unit),
            "interval": ""
            if v.low is None or v.low == v.high
            else f"{format_value(v.low, v.unit)} – {format_value(v.high, v.unit)}",
            "expected": v.expected,
            "reason": v.reason,
            "evidence": " ".join(v.evidence),
            "quote": v.quote.replace("**", ""),
        }
        for v in verdicts
    ]
    return pd.DataFrame(rows)


def findings_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Findings from `verdict` records (details in params["findings"]), worst first; a finding
    several records name (the rewrites of each load window) is one row with their counts summed
    and the windows it was seen in."""
    targets = dict.fromkeys(r.labels.get("target", "?") for r in select(records, "verdict"))
    rows = [
        {
            "target": target,
            "severity": found.severity.value,
            "finding": found.name,
            "count": found.count,
            "seen_in": ", ".join(found.windows),
            "explanation": found.explanation,
            "examples": " ".join(found.examples[:3]),
        }
        for target in targets
        for found in findings_of(
            r for r in select(records, "verdict") if r.labels.get("target", "?") == target
        )
    ]
    return pd.DataFrame(rows)


def params_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """What produced each record: runner, scenario, labels, parameters, commit, partial flag."""
    rows = [
        {
            "run_id": r.run_id,
            "runner": r.runner,
            "scenario": r.scenario,
            "labels": label_text(r.labels),
            "params": json.dumps(dict(r.params), sort_keys=True, default=str),
            "started_at": r.started_at,
            "duration_s": r.duration_s,
            "commit": r.environment.git_commit[:10] + ("+dirty" if r.environment.git_dirty else ""),
            "machine": r.environment.fingerprint,
            "partial": r.partial,
        }
        for r in records
    ]
    return pd.DataFrame(rows)


def _config_name(record: RunRecord) -> str:
    labels = record.labels
    name = labels.get("config") or labels.get("provider", "?")
    return f"{name} (ttl={labels.get('ttl_s', '?')}, buffer={labels.get('buffer_s', '?')})"


def _group_name(record: RunRecord) -> str:
    """A short legend entry: `subject ×N` for the sweep, `scenario: target (mode)` for load."""
    labels = record.labels
    if record.runner == "sweep":
        return f"{labels.get('subject', '?')} ×{labels.get('concurrency', '?')}"
    if "target" in labels:
        mode = f" ({labels['mode']})" if labels.get("mode") else ""
        return f"{record.scenario}: {labels['target']}{mode}"
    return f"{record.scenario}: {label_text(labels)}"


def _per_hour(record: RunRecord, name: str) -> float:
    return _mean(values(record, name))


def _added_percentile(added: np.ndarray[Any, Any], q: float) -> float:
    """A percentile of added latency, never below 0: a gateway takes no negative time, and a
    figure under `ADDED_RESOLUTION_MS` is the client's and the mock's clocks disagreeing."""
    return max(float(np.percentile(added, q)), 0.0) if added.size else np.nan


def _mean(array: np.ndarray[Any, Any]) -> float:
    return float(np.mean(array)) if array.size else float("nan")


def _first(array: np.ndarray[Any, Any]) -> float:
    return float(array[0]) if array.size else float("nan")


def _number(text: str | None) -> float:
    try:
        return float(text) if text is not None else float("nan")
    except ValueError:
        return float("nan")


def table_rows(frame: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """A frame as plain column names and rows of Python values (NaN -> None) for renderers."""
    if frame.empty:
        return [str(c) for c in frame.columns], []
    clean = frame.astype(object).where(frame.notna(), None)
    return [str(c) for c in frame.columns], [list(row) for row in clean.itertuples(index=False)]
