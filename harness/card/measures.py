"""One `card` RunRecord per measured window: what a target did, seen from outside.

Pure: the observation of a window (journal entries, io delta, self-reported figures) and the
load's rows in, a RunRecord out. Series hold raw counts (one value per window) or one value per
Models API request, so claims pool windows and compute rates with intervals.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from harness.card.selfreport import (
    Pairing,
    field_account,
    pair_figures,
    read_units,
    reported_figures,
)
from harness.join import calls_by_marker, met_fault_flags
from harness.records import RunRecord, Series, capture_environment, make_series, now_iso
from harness.runners.support.loadrows import BODY_CHARS, HELD, HELD_FACTOR, UNSENT, Row, no_reply
from harness.shim import shim_cost
from harness.targets.resources import GroupResources

MODELS_ENDPOINTS = frozenset({"generations", "chat-generations", "embeddings"})
PATH_CLASSES = ("credential", "config", "data", "other")
EVERY_REQUEST = 0.9  # touched at least this often per client request: on (nearly) every one
TOP_ERRORS = 5
TOP_FILES = 20
_CREDENTIAL = re.compile(r"token|credential|secret|oauth|jwt|auth|\.pem$|\.key$|\.netrc$")
_CONFIG = re.compile(r"config|settings|\.(json|ya?ml|toml|ini|cfg|conf|env)$|^\.env")
_SYSTEM = ("/proc/", "/sys/", "/dev/")


@dataclass(frozen=True)
class WindowObservation:
    """What was seen from outside a target between the start and the end of a window."""

    label: str
    duration_s: float
    journal: tuple[Mapping[str, Any], ...] | None = None  # None: no mock to ask
    journal_lost: bool = False
    io: Mapping[str, Any] | None = None  # the shim's counts in the window (launched targets)
    metrics_before: Mapping[str, Any] | None = None
    metrics_after: Mapping[str, Any] | None = None
    # What the metrics endpoint answered instead of a document sfperf reads (one line).
    metrics_problem: str = ""
    first_window: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    # The target's memory and descriptors at the window's start and end (a started target).
    resources: tuple[GroupResources, GroupResources] | None = None


def classify_path(path: str, counts: Mapping[str, Any] | None = None) -> str:
    """`credential` (token, secret and key files, a token cache the target writes too, any file
    seen holding the bearer token it sent: `holds_token` in `counts`), `data` (any other file
    the target writes: a cache, its state; `counts` are the shim's for the path), `config`
    (read only, named like configuration) or `other`."""
    if path.startswith(_SYSTEM):
        return "other"
    if counts is not None and secret_log(counts):
        return "data"  # no token store: a log the token is written into (R106)
    if counts is not None and counts.get("holds_token"):
        return "credential"
    name = PurePath(path).name.lower()
    if _CREDENTIAL.search(name):
        return "credential"
    if counts is not None and written(counts):
        return "data"
    return "config" if _CONFIG.search(name) else "other"


def secret_log(counts: Mapping[str, Any]) -> bool:
    """A file holding the bearer token the target sent, only ever appended to, never read: the
    token written into a log, not a token cache (R106)."""
    appends, writes = int(counts.get("appends", 0)), int(counts.get("writes", 0))
    unread = int(counts.get("reads", 0)) == 0 and not counts.get("renames")
    return bool(counts.get("holds_token")) and unread and 0 < writes == appends


def written(counts: Mapping[str, Any]) -> bool:
    """Whether the target wrote the file (opened it for writing, or renamed a file onto it)."""
    return int(counts.get("writes", 0)) + int(counts.get("renames", 0)) > 0


def file_use(counts: Mapping[str, Any], requests: float) -> str:
    """How a file was used over `requests` client requests, in words."""
    if requests <= 0:
        return ""
    reads, writes = (int(counts.get(k, 0)) / requests for k in ("reads", "writes"))
    opens = int(counts.get("opens", 0))
    if writes >= EVERY_REQUEST:
        appended = int(counts.get("appends", 0)) == int(counts.get("writes", 0))
        done = "appended to" if appended else "rewritten"
        return f"read and {done} on every request" if reads >= EVERY_REQUEST else (
            f"{done} on every request")  # fmt: skip
    if reads >= EVERY_REQUEST or opens >= EVERY_REQUEST * requests:
        extra = f", written {int(counts.get('writes', 0))} times" if written(counts) else ""
        return f"read on every request{extra}"
    return f"opened {opens} times in {requests:g} requests"


def file_io_series(io: Mapping[str, Any]) -> tuple[list[Series], dict[str, Any]]:
    """`<class>_file_opens|reads|writes` counts, and the busiest paths with their class."""
    totals = {(c, k): 0 for c in PATH_CLASSES for k in ("opens", "reads", "writes")}
    files: Mapping[str, Mapping[str, int]] = io.get("files", {})
    for path, entry in files.items():
        for kind in ("opens", "reads", "writes"):
            totals[classify_path(path, entry), kind] += int(entry.get(kind, 0))
    series = [Series(f"{c}_file_{k}", "count", (float(n),)) for (c, k), n in totals.items()]
    busiest = sorted(files.items(), key=lambda item: -int(item[1].get("opens", 0)))[:TOP_FILES]
    paths = {p: {"class": classify_path(p, e), **dict(e)} for p, e in busiest}
    return series, paths


def token_economy(entries: Sequence[Mapping[str, Any]]) -> list[Series]:
    """Models and token requests, a hit indicator per Models request, bad-token sends."""
    models = [e for e in entries if e.get("endpoint") in MODELS_ENDPOINTS]
    fetches = sum(1 for e in entries if e.get("endpoint") == "token")
    hits = max(0, len(models) - fetches)
    return [
        Series("models_requests", "count", (float(len(models)),)),
        Series("token_requests", "count", (float(fetches),)),
        Series("token_cache_hit", "count", (1.0,) * hits + (0.0,) * (len(models) - hits)),
        *token_sends(models),
        make_series("upstream_latency_ms", "ms", (float(e.get("latency_ms") or 0) for e in models)),
    ]


def token_sends(models: Sequence[Mapping[str, Any]]) -> list[Series]:
    """How the tokens on Models requests fared: sent expired, unknown or missing, and
    `expiry_chances`: the requests sent once a token the target used had reached its `exp`
    (with none, "no expired token goes upstream" was never put to the test)."""
    statuses = Counter(str(e.get("token_status")) for e in models)
    return [
        Series("expired_token_sends", "count", (float(statuses["expired"]),)),
        Series("unknown_token_sends", "count", (float(statuses["unknown"]),)),
        Series("missing_token_sends", "count", (float(statuses["missing"]),)),
        Series("expiry_chances", "count", (float(expiry_chances(models)),)),
    ]


def expiry_chances(models: Sequence[Mapping[str, Any]]) -> int:
    """Models requests sent with an expired token or after the earliest `exp` of the tokens
    the target had sent before (mock clock): each had to carry a fresh token."""
    earliest_exp_s, chances = float("inf"), 0
    for entry in sorted(models, key=lambda e: float(e.get("t_s") or 0.0)):
        if entry.get("token_expires_t_s") is not None:
            earliest_exp_s = min(earliest_exp_s, float(entry["token_expires_t_s"]))
        sent_s = float(entry.get("t_s") or 0.0)
        chances += entry.get("token_status") == "expired" or sent_s >= earliest_exp_s
    return chances


def journal_record(
    entries: Sequence[Mapping[str, Any]], *, target: str, window: str, partial: bool = False
) -> RunRecord:
    """A `card/load` record of a journal outside the load windows (discovery, the warm-up,
    the resilience run): the target's token sends there, and nothing per client request."""
    models = [e for e in entries if e.get("endpoint") in MODELS_ENDPOINTS]
    series = [Series("models_requests", "count", (float(len(models)),)), *token_sends(models)]
    return RunRecord(
        runner="card", scenario="load", params={"window": window, "journal_entries": len(entries)},
        environment=capture_environment(), series=tuple(series),
        labels={"target": target, "window": window}, started_at=now_iso(), partial=partial,
    )  # fmt: skip


def in_flight_at_end(journal: Sequence[Mapping[str, Any]], rows: Sequence[Row]) -> int:
    """Requests the client stopped waiting for at the window's end that the target still took
    upstream: their markers are in the window's journal, on no row. Their file opens and
    upstream calls are the window's too, so a per-request figure counts them as requests."""
    seen = {row.marker for row in rows if row.marker}
    return sum(1 for marker in calls_by_marker(journal) if marker not in seen)


REFUSED = frozenset({"ConnectionRefusedError"})  # nothing listened: no reply could be cut short
# Kinds whose name alone does not say what the client got.
_KIND_NOTES = {
    "not_streamed": " (a whole JSON reply to a stream request: it does not stream)",
    "not_sse": " (the reply's text in raw chunks, text/plain, no SSE `data:` events: an OpenAI "
    "client iterating the stream reads nothing)",
    "mojibake": " (the upstream's UTF-8 read as latin-1: each accent, CJK character or emoji "
    "became two to four others)",
    "broken_characters": " (U+FFFD in the text: the upstream's UTF-8 cut inside characters, "
    "as by a stream re-chunked by bytes)",
}


def top_errors(rows: Sequence[Row], top: int = TOP_ERRORS) -> list[dict[str, Any]]:
    """The most frequent failed replies: status, the start of the body (or the transport
    error), how many; requests left without any reply first. Replies the fidelity check failed
    are grouped by what was wrong (each body differs), with the first one as the example."""
    counts: Counter[tuple[int, str]] = Counter()
    examples: dict[tuple[int, str], str] = {}
    for row in (r for r in rows if not r.ok):
        what = _failure(row)
        key = (row.status, what)
        counts[key] += 1
        examples.setdefault(
            key, f"{what}: e.g. {row.body}" if row.status and row.fidelity and row.body else what
        )
    ordered = sorted(counts.items(), key=lambda item: (item[0][0] != 0, -item[1]))
    return [{"status": k[0], "body": examples[k][:BODY_CHARS], "count": n}
            for k, n in ordered[:top]]  # fmt: skip


def window_errors(
    rows: Sequence[Row], journal: Sequence[Mapping[str, Any]] | None
) -> dict[str, list[dict[str, Any]]]:
    """`errors` (`top_errors`) of a window, and apart, `fault_errors`: those of the requests
    whose upstream calls met a fault the mock injected (the mock's doing first, R89)."""
    met = met_fault_flags(rows, journal)
    faulted = [row for row, hit in zip(rows, met, strict=True) if hit]
    errors = {"errors": top_errors([row for row, hit in zip(rows, met, strict=True) if not hit])}
    return errors | ({"fault_errors": top_errors(faulted)} if faulted else {})


def _failure(row: Row) -> str:
    """What went wrong with a reply: what became of a request that got none, what the fidelity
    check found, or the reply's body."""
    if row.error == UNSENT:
        return (f"{UNSENT}: scheduled by the open loop but never sent, every user still "
                "waiting on the target (latency: its wait from its intended start, a lower "
                "bound)")  # fmt: skip
    if row.error == HELD:
        return (f"{HELD}: still no reply when the window ended, after over {HELD_FACTOR:g} times "
                "as long as any reply took")  # fmt: skip
    if row.status == 0 and row.error in REFUSED:  # not a reply cut short: no server (R85)
        return f"{row.error}: nothing accepted the connection (no process listened at the address)"
    if row.status == 0 and no_reply(row):
        return f"{row.error or 'no reply'}: the connection ended without a reply"
    if row.status == 0:
        return f"{row.error}: no reply within the client's timeout (the client gave up)"
    if not row.fidelity:
        return row.body or row.error
    return "fidelity: " + ", ".join(f"{kind}{_kind_note(kind, row)}" for kind in row.fidelity)


def _kind_note(kind: str, row: Row) -> str:
    """What a mismatch kind means for this row's answer (the kinds' notes, `_KIND_NOTES`)."""
    split = row.answer is not None and row.answer.split_characters
    if kind == "broken_characters" and split:
        where = "across two stream chunks" if row.ttft_ms is not None else "in two"
        return (
            f" (a character split {where}: lone surrogate escapes such as \\ud83d, half an "
            "emoji each, which no client can print; the text was cut by UTF-16 code units, as "
            "JS String.slice cuts it)"
        )
    return _KIND_NOTES.get(kind, "")


def measured_figures(series: Sequence[Series], rows: Sequence[Row]) -> dict[str, float]:
    """The measured twins of what a gateway may report about itself."""
    named = {s.name: s.values for s in series}
    # What the target served: the client's requests, and those in flight at the window's end.
    figures = {"client_requests": named.get("requests_served", (float(len(rows)),))[0]}
    if rows:
        figures["mean_latency_ms"] = sum(r.response_ms for r in rows) / len(rows)
    for name in ("models_requests", "token_requests"):
        if name in named:
            figures[name] = named[name][0]
    if named.get("token_cache_hit"):
        hits = named["token_cache_hit"]
        figures["token_cache_hit_rate"] = sum(hits) / len(hits)
    if "credential_file_opens" in named:
        figures["credential_file_opens"] = named["credential_file_opens"][0]
        figures["file_opens"] = sum(named[f"{c}_file_opens"][0] for c in PATH_CLASSES)
    return figures


def self_report(
    observation: WindowObservation, measured: Mapping[str, float], users: int,
    params: dict[str, Any],
) -> list[Pairing]:  # fmt: skip
    """The target's self-reported figures paired with the measured ones; what became of each
    field of its document goes into `params` (`self_reported`, `self_reported_fields`)."""
    before, after = observation.metrics_before, observation.metrics_after or {}
    first = observation.first_window
    reported, notes = read_units(reported_figures(before, after, first_window=first), measured)
    pairs = pair_figures(reported, measured, slack=float(users))
    params["self_reported"] = [p.as_dict() for p in pairs]
    params["self_reported_fields"] = field_account(before, after, pairs, measured,
                                                   first_window=first, notes=notes)  # fmt: skip
    params["target_metrics"] = {"before": before, "after": observation.metrics_after}
    return pairs


def resource_series(start: GroupResources, end: GroupResources) -> list[Series]:
    """What the target's processes held more at the window's end than at its start: resident
    memory (`rss_growth_kb`) and open descriptors (`open_fds_growth`), and both at the end."""
    return [
        Series("rss_growth_kb", "KB", (float(end.rss_kb - start.rss_kb),)),
        Series("open_fds_growth", "count", (float(end.open_fds - start.open_fds),)),
        Series("rss_kb", "KB", (float(end.rss_kb),)),
        Series("open_fds", "count", (float(end.open_fds),)),
    ]


def process_start_series(io: Mapping[str, Any]) -> list[Series]:
    """The target's processes that started in the window and called the upstream
    (`upstream_processes_started`) and the CPU each used in all (`started_process_cpu_ms`): a
    gateway that starts a process for each request shows one per request (R96)."""
    upstream = set(io.get("upstream_pids") or ())
    started = [pid for pid in io.get("started_pids") or () if pid in upstream]
    cpu_s = io.get("cpu_s_by_pid") or {}
    cpu_ms = [1000 * float(cpu_s.get(str(pid), 0.0)) for pid in started]
    return [
        Series("upstream_processes_started", "count", (float(len(started)),)),
        make_series("started_process_cpu_ms", "ms", cpu_ms),
    ]


def card_record(
    observation: WindowObservation,
    rows: Sequence[Row],
    *,
    target: str,
    scenario: str,
    started_at: str = "",
    users: int = 1,
    partial: bool = False,
) -> RunRecord:
    """The `card/load` record of one window (labels: target, window)."""
    series = [
        Series("client_requests", "count", (float(len(rows)),)),
        Series("error_responses", "count", (float(sum(not r.ok for r in rows)),)),
        Series("no_reply", "count", (float(sum(map(no_reply, rows))),)),
        Series("window_s", "s", (observation.duration_s,)),
    ]
    params: dict[str, Any] = {**observation.params, "window": observation.label,
                              **window_errors(rows, observation.journal)}  # fmt: skip
    served = float(len(rows))
    if observation.journal is not None:
        series += token_economy(observation.journal)
        served += in_flight_at_end(observation.journal, rows)
    series.append(Series("requests_served", "count", (served,)))
    if observation.resources is not None:
        series += resource_series(*observation.resources)
    if observation.io is not None:
        io_series, params["files"] = file_io_series(observation.io)
        series += io_series + process_start_series(observation.io)
        params["shim"] = shim_cost(observation.io, int(served), observation.duration_s)
    if observation.metrics_after is not None:
        pairs = self_report(observation, measured_figures(series, rows), users, params)
        series.append(make_series("reported_gap", "ratio", (p.gap for p in pairs)))
    elif observation.metrics_problem:  # asked for, unread: said, and no "pass the option" hint
        params["target_metrics"] = {"before": None, "after": None,
                                    "problem": observation.metrics_problem}  # fmt: skip
        series.append(make_series("reported_gap", "ratio", ()))
    return RunRecord(
        runner="card", scenario="load", params=params, environment=capture_environment(),
        series=tuple(series), labels={"target": target, "window": f"{scenario}"},
        started_at=started_at, duration_s=observation.duration_s,
        partial=partial or observation.journal_lost,
    )  # fmt: skip


def split_shim_cpu_ms(cost: Mapping[str, Any]) -> tuple[float, float]:
    """(work, background) ms of a `shim_cost`: the work on the target's requests and the
    snapshot pollers' CPU. A cost recorded before they were kept apart is split by pricing its
    counts at its unit costs (the rest is the pollers')."""
    if "poller_cpu_ms" in cost:
        return float(cost.get("work_cpu_ms", 0.0)), float(cost["poller_cpu_ms"])
    units = cost.get("unit_ns") or {}
    if not units:  # nothing to price the counts with: all of it is said per request, as before
        return float(cost.get("shim_cpu_ms", 0.0)), 0.0
    priced = zip(("audit_events", "opens", "host_checks", "url_checks"),
                 ("event", "open", "host_check", "url_check"), strict=True)  # fmt: skip
    work_ms = sum(float(cost.get(count, 0)) * float(units.get(unit, 0.0))
                  for count, unit in priced) / 1e6  # fmt: skip
    total_ms = float(cost.get("shim_cpu_ms", 0.0))
    work_ms = min(work_ms, total_ms)
    return work_ms, total_ms - work_ms
