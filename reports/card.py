"""The report card of a user's target: the first thing a report shows when a target is given.

One section per target: which model was sent and how it was chosen (or why none worked), what is
wrong in one line, then one row per claim of the gateway ledger (measured value, interval,
verdict), the error replies it sent, the findings of the mock, its self-reported figures beside
the measured ones, and the files it opened per request. Plain rows: no pandas here.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harness.card.measures import classify_path, file_use, secret_log, split_shim_cpu_ms
from harness.card.selfreport import AGREES_WITHIN, MEANINGS
from harness.claims import Verdict, format_value
from harness.exits import exits_said
from harness.findings import findings_of
from harness.findings.mock_faults import merged_met_faults, met_faults_words
from harness.records import RunRecord
from harness.saturation import saturations
from reports.sections import Section, Table

FILES_SHOWN = 8
ERRORS_SHOWN = 5
UNPAIRED_SHOWN = 8
COUNTED_IO = ("opens", "reads", "writes", "appends", "renames", "holds_token")
# The gateway ledger's claim on crossed replies: the card's leak line says it first, not twice.
LEAK_CLAIM = "gw-no-crossed-replies"
# The gateway ledger's added-latency claim: a cap the sweep found says why, beside it (R99).
ADDED_LATENCY_CLAIM = "gw-added-latency"
FAULTED = "met a fault the mock injected"


def card_sections(
    records: Sequence[RunRecord],
    cards: Mapping[str, Sequence[Verdict]],
    steps: Sequence[Mapping[str, Any]] = (),
) -> list[Section]:
    """A card for each target that has card verdicts, in the order they were measured; `steps`
    is validate's step log (steps.json), which says the steps a target not measured skipped."""
    skipped = [str(step["step"]) for step in steps if step.get("skipped")]
    return [card_section(target, _of(records, target), verdicts, skipped)
            for target, verdicts in cards.items()]  # fmt: skip


def card_section(
    target: str,
    records: Sequence[RunRecord],
    verdicts: Sequence[Verdict],
    skipped: Sequence[str] = (),
) -> Section:
    """The card of one target."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", target).strip("-") or "target"
    tables = [
        _verdict_table(stem, verdicts),
        _errors_table(stem, records),
        _findings_table(stem, records),
        _self_reported_table(stem, records),
        _files_table(stem, records),
    ]
    lines = (_exit_line(records), _model_line(records, skipped), _wrong_line(verdicts, records),
             _missed_line(records), _unprofiled_line(records), _faults_line(records),
             _token_line(records),
             _reply_cache_line(records),
             _shim_line(records),
             _self_report_line(records))  # fmt: skip
    intro = " ".join(line for line in lines if line)
    return Section(f"card-{stem}", f"Report card: {target}", intro,
                   [t for t in tables if t is not None])  # fmt: skip


def _exit_line(records: Sequence[RunRecord]) -> str:
    """First, when the target's process exited mid-run: what came after is no verdict on it."""
    said = exits_said(records)
    return f"**The target exited mid-run:** {'; '.join(said)}." if said else ""


def _missed_line(records: Sequence[RunRecord]) -> str:
    """The resilience phases no upstream call reached (a stall held every client, R64), and
    those whose calls met none of their faults (every one refused first, e.g. for an expired
    token, R116): what they put to the test was not tested, whatever a claim says."""
    graded = [r for r in records if r.runner == "verdict"]
    missed = [str(p) for r in graded for p in r.params.get("not_exercised") or ()]
    unmet = [str(p) for r in graded for p in r.params.get("faults_unmet") or ()]
    itself = [str(p) for r in graded for p in r.params.get("answered_itself") or ()]
    said = [f"the target made no upstream call during its {', '.join(missed)} phase(s), its "
            "clients all waiting on it"] if missed else []  # fmt: skip
    said += [f"the target made no upstream call during its {', '.join(itself)} phase(s): it "
             "answered every request sent there itself (an open circuit breaker? a cached "
             "error?)"] if itself else []  # fmt: skip
    said += [f"its upstream calls during the {', '.join(unmet)} phase(s) met none of the "
             "phase's faults: the upstream refused them first"] if unmet else []  # fmt: skip
    if not said:
        return ""
    return (f"**Not exercised by resilience:** {'; '.join(said)}: what those phases test "
            "(answers under an outage, recovery, hang-ups, a token past its short life) was not "
            "tested.")  # fmt: skip


def _unprofiled_line(records: Sequence[RunRecord]) -> str:
    """A profile step that sampled nothing of the processes that served: its load figures are
    kept, but it is no profile of the gateway, whatever the step log's "completed" (R112)."""
    if not any(r.runner == "profile" and r.params.get("profile_error") for r in records):
        return ""
    return ("**Profile not measured:** no process that served the requests left samples; the "
            "Profiles section names the processes sampled and those that served.")  # fmt: skip


def _of(records: Sequence[RunRecord], target: str) -> list[RunRecord]:
    return [r for r in records if target in (r.labels.get("target"), r.labels.get("variant"))]


def _discovery(records: Sequence[RunRecord]) -> RunRecord | None:
    """The target's latest discover record: an --append run's, not the one it was added to."""
    return next((r for r in reversed(records) if r.runner == "discover"), None)


def _model_line(records: Sequence[RunRecord], skipped: Sequence[str]) -> str:
    discovery = _discovery(records)
    if discovery is None:
        return ""
    params = discovery.params
    if params.get("model") is None:
        # A model name cannot help a target that failed to start or whose calls went astray,
        # nor one whose every served name was tried.
        astray = params.get("model_error") or params.get("model_unreached")
        served, probed = params.get("served_models", []), params.get("model_probes", [])
        untried = not served or len(served) > len(probed)
        reason = str(params.get("model_reason", "no model works"))
        # The reason names the flag itself (R61), or says why no other was tried (hangs, R87).
        said = "--model" in reason or "not tried" in reason
        hint = "; pass `--model NAME` to choose one" if untried and not astray and not said else ""
        return f"**Not measured: {reason}.** {_skipped_words(skipped)}{hint}.{_faults(params)}"
    how = {"--model": "given with --model", "probe": "the first served model that answered",
           "default": "the default name (GET /v1/models listed none)"}  # fmt: skip
    served = ", ".join(f"`{m}`" for m in params.get("served_models", [])) or "none listed"
    source = how.get(str(params.get("model_source")), str(params.get("model_source")))
    flaw = f" Its probe reached the upstream, but {params['model_flaw']}." if params.get(
        "model_flaw") else ""  # fmt: skip
    line = f"Model sent: `{params['model']}` ({source}; served: {served}).{flaw}{_lacks(params)}"
    return line + _faults(params)


def _faults(params: Mapping[str, Any]) -> str:
    """What the user's mock injects on its own, said where the target's model is (R89)."""
    if not params.get("mock_faults"):
        return ""
    return (f" Behind it, {params['mock_faults']}: a call that met one failed by the mock's "
            "hand, not the target's.")  # fmt: skip


def _skipped_words(skipped: Sequence[str]) -> str:
    """The steps that were skipped, from the step log ("Load and resilience were skipped")."""
    if not skipped:  # a run without a step log: not validate's, or older than it
        return "The steps that send it requests were skipped"
    names = [*skipped[:-1], f"and {skipped[-1]}"] if len(skipped) > 1 else list(skipped)
    listed = (", " if len(skipped) > 2 else " ").join(names).capitalize()
    return f"{listed} {'was' if len(skipped) == 1 else 'were'} skipped"


def _lacks(params: Mapping[str, Any]) -> str:
    """What the target does not serve of the routes sfperf could use, and that it needs neither."""
    said = [str(params[k]) for k in ("target_health", "model_listing") if params.get(k)]
    if not said:
        return ""
    model = "the model from --model" if params.get("model_source") == "--model" else (
        "the model from its probe")  # fmt: skip
    return (f" Not served: {', '.join(said)} (sfperf needs neither: ready once it answered "
            f"HTTP, {model}).")  # fmt: skip


def _wrong_line(verdicts: Sequence[Verdict], records: Sequence[RunRecord]) -> str:
    leak = _leak(records)
    refuted = [_refuted(v, records) for v in verdicts if v.verdict == "refuted"
               and not (leak and v.claim_id == LEAK_CLAIM)]  # fmt: skip
    failing = sorted({f"`{f['name']}`" for f in _findings(records) if f.get("severity") == "FAIL"})
    problems = ([leak] if leak else []) + refuted + _growth(records) + _secret_logs(records)
    problems += _process_per_request(records)
    problems += [f"FAIL findings: {', '.join(failing)}"] if failing else []
    discovered = discovery.params if (discovery := _discovery(records)) else {}
    if discovered.get("model_flaw"):
        problems.append("the discovery probe's answer was not the upstream's (see above)")
    unmeasured = "model" in discovered and discovered["model"] is None  # the model line says
    if not problems and (unmeasured or not _measured(records)):
        return ""
    if problems:
        return "**What is wrong:** " + "; ".join(problems) + "."
    return _clean_line(verdicts, records)


def _refuted(verdict: Verdict, records: Sequence[RunRecord]) -> str:
    """`refuted: TEXT (measured VALUE)`, with why when the records know it."""
    why = _queue_note(records) if verdict.claim_id == ADDED_LATENCY_CLAIM else ""
    return (f"refuted: {verdict.text.rstrip('.')} (measured "
            f"{format_value(verdict.value, verdict.unit)}{why})")  # fmt: skip


def _queue_note(records: Sequence[RunRecord]) -> str:
    """Latency "added" by waiting, not by work: the sweep found the target serves fewer
    requests at once than every steady window sent it (R99: waitress's 4 threads under 5 users
    read as "adds 440.6 ms"); "" when no sweep found a cap under the fewest (R142: a batcher
    capped at 35 under 5 users waits for its batch, not a free slot)."""
    users = sorted({int(r.params.get("users") or 0) for r in records
                    if r.runner == "load" and r.scenario == "steady"})  # fmt: skip
    cap = next((s.cap for s in saturations(records) if s.cap is not None), None)
    if cap is None or not users or cap >= users[0]:  # every window it pools must queue (R142)
        return ""
    ran = f"{users[0]}" if len(users) == 1 else f"{users[0]} to {users[-1]}"
    return (
        f": a wait in its queue, not work: the sweep found it serves about {cap:.1f} requests at "
        f"once (a concurrency cap: a pool, a lock or its server's threads) and the steady windows "
        f"ran {ran} users, so the others waited for one to finish"
    )


def _clean_line(verdicts: Sequence[Verdict], records: Sequence[RunRecord]) -> str:
    """No claim refuted and no FAIL finding: "Nothing found wrong" only when no reply failed
    either and the grading warned of nothing."""
    unknown = sum(v.verdict == "inconclusive" for v in verdicts)
    undecided = f" ({unknown} claim(s) could not be decided)" if unknown else ""
    failed = sum(int(error["count"]) for _, error in _errors(records, faulted=False))
    warned = sorted({f"`{f['name']}`" for f in _findings(records) if f.get("severity") == "WARN"})
    buts = [f"{failed:g} replies were not ok (see the errors table)"] if failed else []
    buts += [f"WARN findings: {', '.join(warned)} (see the findings)"] if warned else []
    if buts:  # within the claims' bounds, but not nothing
        return f"No claim refuted{undecided}, but " + "; ".join(buts) + "."
    return f"Nothing found wrong{undecided}." if verdicts else ""


def _leak(records: Sequence[RunRecord]) -> str:
    """Replies handed to the wrong client (`crossed`) in any load run (the runs the ledger's
    `gw-no-crossed-replies` reads), said first: one is a leak between clients, so no
    threshold applies."""
    loads = [r for r in records if r.runner == "load"]
    crossed, uncalled = (_total(loads, name) for name in ("fidelity_crossed", "crossed_uncalled"))
    if not crossed:
        return ""
    head = (f"FAIL: {crossed:g} {'reply' if crossed == 1 else 'replies'} handed to the wrong "
            "client (`crossed`: the upstream's answer to another request's prompt)")  # fmt: skip
    cache = ("a reply cache whose key leaves out part of the prompt answers a question with the "
             "reply to another")  # fmt: skip
    if uncalled >= crossed:
        return f"{head}, none of them with an upstream call of its own: {cache}"
    race = ("a leak between clients; look for state shared across requests, such as a reply "
            "kept in a global across an `await`")  # fmt: skip
    if not uncalled:
        return f"{head}, {race}"
    return f"{head}, {race}; {uncalled:g} of them made no upstream call: {cache}"


# Growth over the windows beyond noise (R67): a warm gateway's memory moves by a few MB as its
# allocator and pools settle, its descriptors by the connections open at an edge; what a request
# keeps and never returns adds up past both floors.
# A process per request: at least this many processes started in the windows that called the
# upstream, for at least this share of the requests served (R96).
PER_REQUEST_PROCESSES = (8, 0.5)


def _process_per_request(records: Sequence[RunRecord]) -> list[str]:
    """A gateway that starts a process for each request (a script or CLI run per call, a fork
    per connection), seen from outside: the processes that started in the windows and called
    the upstream, against the requests served (R96)."""
    cards = [r for r in records if r.runner == "card" and "upstream_processes_started" in
             r.series_names]  # fmt: skip
    started, served = (_total(cards, name) for name in ("upstream_processes_started",
                                                        "requests_served"))  # fmt: skip
    least, share = PER_REQUEST_PROCESSES
    if started < least or started < share * served:
        return []
    cpu_ms = [v for r in cards for v in r.get("started_process_cpu_ms").values]
    apiece = f" (~{statistics.median(cpu_ms):.0f} ms of CPU apiece)" if cpu_ms else ""
    return [f"it starts a process for each request: {started:,.0f} processes started in the "
            f"windows and called the upstream, for {served:,.0f} requests{apiece}: a process's "
            "start-up is paid on a request's time (for a script run per call: an interpreter, "
            "its imports, new connections and a token); hand the requests to long-lived "
            "workers instead"]  # fmt: skip


GROWTH_FLOORS = {"rss_growth_kb": (8 * 1024.0, 32.0), "open_fds_growth": (16.0, 0.5)}
GROWTH_LEVELS = {"rss_growth_kb": "rss_kb", "open_fds_growth": "open_fds"}  # at a window's end
# What each client connected at a window's end holds beyond the first window's clients, left
# out of growth (R134): a socket (and a proxy's upstream one), and its buffers and objects: a
# Node gateway held ~80 KB a client more with 100 clients than with 5 (Fastify, 75 -> 84 MB),
# waitress one descriptor a client (11 -> 47 with 100).
CLIENT_ALLOWANCE = {"rss_growth_kb": 256.0, "open_fds_growth": 2.0}


def _growth(records: Sequence[RunRecord]) -> list[str]:
    """Memory and open descriptors the target's processes held more at the last window's end
    than at the first's, per request served after the first window, when beyond `GROWTH_FLOORS`
    (total and per request). The first window is left out as warm-up (a JIT, a pool filling),
    what was given back between windows is not growth (R95), and a later window's extra
    clients are allowed what their connections hold (`CLIENT_ALLOWANCE`, R134)."""
    cards = _last_process(
        [r for r in records if r.runner == "card" and "rss_growth_kb" in r.series_names]
    )
    if len(cards) < 2:
        return []
    served = _total(cards[1:], "requests_served")
    extra = _extra_clients(cards, records)
    said = []
    for name, (floor, per_request) in GROWTH_FLOORS.items():
        level = GROWTH_LEVELS[name]
        held = cards[-1].get(level).values[0] - cards[0].get(level).values[0]
        grown = held - CLIENT_ALLOWANCE[name] * extra
        if served and grown >= floor and grown / served >= per_request:
            end = cards[-1].get(level).values[0]
            said.append(_grown_words(name, grown, served, end, _allowed(name, extra)))
    return said


def _extra_clients(cards: Sequence[RunRecord], records: Sequence[RunRecord]) -> int:
    """How many more clients a later window ran than the first (0: none, or not known)."""
    clients = [_clients(card, records) for card in cards]
    later = [count for count in clients[1:] if count is not None]
    return max(0, max(later) - clients[0]) if later and clients[0] is not None else 0


def _clients(card: RunRecord, records: Sequence[RunRecord]) -> int | None:
    """The users of the load window a card watched (its `window` label is `scenario-mode`);
    None when no load record says."""
    window = card.labels.get("window")
    loads = [r for r in records if r.runner == "load"]
    users = [
        r.params.get("users") for r in loads if f"{r.scenario}-{r.labels.get('mode')}" == window
    ]
    return int(users[-1]) if users and users[-1] is not None else None


def _allowed(name: str, extra: int) -> str:
    """What the growth leaves out for a later window's extra clients ("" for none)."""
    if not extra:
        return ""
    allowed = CLIENT_ALLOWANCE[name] * extra
    said = f"{allowed / 1024:.1f} MB" if name == "rss_growth_kb" else f"{allowed:g} descriptors"
    return f", and {said} for the {extra} more clients a later window held connected"


def _last_process(cards: Sequence[RunRecord]) -> list[RunRecord]:
    """The cards of the launch the last card watched (params `process`): two launches' memory
    is two processes', not growth (a run `--append`ed to another, review7 B7); cards saved
    before they named it are one."""
    process = cards[-1].params.get("process", "") if cards else ""
    return [card for card in cards if card.params.get("process", "") == process]


def _secret_logs(records: Sequence[RunRecord]) -> list[str]:
    """Files the bearer token the target sent was appended to and never read back: a secret in
    a log (R106), beside the token-cache claim, which such a file does not count against."""
    totals: dict[str, Counter[str]] = {}
    for record in (r for r in records if r.runner == "card" and "files" in r.params):
        for path, entry in record.params["files"].items():
            totals.setdefault(path, Counter()).update(
                {k: int(v) for k, v in entry.items() if k in COUNTED_IO})  # fmt: skip
    return [f"the bearer token it sends is appended to {path} ({counts['writes']:,} times in the "
            "windows) and never read back: a secret in a log, readable by whoever reads the "
            "log (log a token's id or last characters, never the token)"
            for path, counts in totals.items() if secret_log(counts)]  # fmt: skip


def _grown_words(name: str, grown: float, served: float, end: float, allowed: str = "") -> str:
    after = f"over the {served:g} requests after the first window"
    warm = f"the first window left out as warm-up{allowed}"
    if name == "rss_growth_kb":
        return (f"memory grew by {grown / 1024:.0f} MB {after} ({grown / served:.0f} KB per "
                f"request, {end / 1024:.0f} MB at the end; {warm}) and was not given back: "
                "something kept per request (a growing list, cache or buffer) ends in an "
                "out-of-memory kill")  # fmt: skip
    return (f"open file descriptors grew by {grown:g} {after} ({grown / served:.2g} per "
            f"request, {end:g} open at the end; {warm}): a file or socket opened per request "
            "and never closed ends at `ulimit -n`")  # fmt: skip


def _faults_line(records: Sequence[RunRecord]) -> str:
    """The load windows' requests that met a fault the mock injected (a user's mock with
    `--fault`): the mock's doing, set apart from the ok claims (the resilience run provokes its
    own faults, and its claims read the calm phases apart)."""
    loads = [r for r in records if r.runner == "load" and r.scenario != "resilience"]
    met = merged_met_faults(r.params.get("met_faults") or {} for r in loads)
    if not met:
        return ""
    return (f"{met_faults_words(met)}: the mock's doing, not the gateway's, so the ok claims set "
            f"them apart (the errors table marks them '{FAULTED}').")  # fmt: skip


def _reply_cache_line(records: Sequence[RunRecord]) -> str:
    """The replies given from a reply cache (the upstream's answer to an earlier request with
    the same prompt, no call of their own) over the load windows, and calls per request."""
    loads = [r for r in records if r.runner == "load" and "reply_cache_hit" in r.series_names]
    hits = [v for r in loads for v in r.get("reply_cache_hit").values]
    if not sum(hits):
        return ""
    calls = [v for r in loads if "upstream_calls" in r.series_names
             for v in r.get("upstream_calls").values]  # fmt: skip
    per_request = f"; {sum(calls) / len(calls):.2f} upstream calls per request" if calls else ""
    return (f"Reply cache: {sum(hits):g} of {len(hits)} replies ({_percent(sum(hits) / len(hits))})"
            " were the upstream's answer to an earlier request with the same prompt, given "
            f"without an upstream call (cache hits){per_request}.")  # fmt: skip


def _token_line(records: Sequence[RunRecord]) -> str:
    """The token economy over the load windows (fetches, Models requests, refreshes per hour),
    and the bad token sends over every journal graded."""
    cards = [r for r in records if r.runner == "card"]
    windows = [r for r in cards if "window_s" in r.series_names]
    totals = {name: _total(windows, name) for name in ("token_requests", "models_requests",
                                                       "window_s")}  # fmt: skip
    if not totals["models_requests"] or not totals["window_s"]:
        return ""
    per_hour = totals["token_requests"] / totals["window_s"] * 3600
    return (f"Tokens: {totals['token_requests']:,.0f} fetched for "
            f"{totals['models_requests']:,.0f} Models API requests in {totals['window_s']:.0f} s "
            f"of windows ({_readable(per_hour)} per hour at that rate); "
            f"{_bad_sends(cards)}.")  # fmt: skip


def _bad_sends(cards: Sequence[RunRecord]) -> str:
    """`0 sent expired or unknown in discover, ..., resilience` (where it was checked), or
    `1,147 sent expired or unknown (all in resilience)`: where they were (R105)."""
    bad: dict[str, float] = {}
    for card in (r for r in cards if "expired_token_sends" in r.series_names):
        window = str(card.labels.get("window"))
        sent = _total([card], "expired_token_sends") + _total([card], "unknown_token_sends")
        bad[window] = bad.get(window, 0.0) + sent
    total = sum(bad.values())
    if not total:
        return f"0 sent expired or unknown in {', '.join(bad)}"
    where = [window for window, count in bad.items() if count]
    said = f"all in {where[0]}" if len(where) == 1 else "in " + ", ".join(
        f"{window} {bad[window]:,.0f}" for window in where)  # fmt: skip
    return f"{total:,.0f} sent expired or unknown ({said})"


def _total(records: Sequence[RunRecord], name: str) -> float:
    return sum(sum(r.get(name).values) for r in records if name in r.series_names)


def _shim_line(records: Sequence[RunRecord]) -> str:
    """What the launch shim cost the target over the windows, by its own account: its work on
    the requests, per request, and apart the background CPU of its snapshot pollers, per second
    (a fixed cost divided by few requests would read as a large per-request one)."""
    cards = [r for r in records if r.runner == "card" and r.params.get("shim")]
    costs = [r.params["shim"] for r in cards]
    # Records saved before the shim's account carried its requests have none: no line then.
    target_ms = sum(float(c.get("target_cpu_ms", 0.0)) for c in costs)
    requests = sum(int(c.get("requests", 0)) for c in costs)
    if not requests or target_ms <= 0:
        return ""
    work_ms, poller_ms = (sum(part) for part in zip(*map(split_shim_cpu_ms, costs), strict=True))
    window_s = sum(sum(r.get("window_s").values) for r in cards if "window_s" in r.series_names)
    per_request = _readable(1000 * work_ms / requests)
    line = (f"The launch shim (redirects, file-open counting) cost {per_request} us a request in "
            f"the windows ({_percent(work_ms / target_ms)} of the target's CPU)")  # fmt: skip
    if poller_ms > 0 and window_s > 0:
        processes = max(int(c.get("processes", 1)) for c in costs)
        line += _polling(poller_ms / window_s, processes, poller_ms / target_ms)
    return line + ", by its own account (`bench/bench_shim.py` measures it from outside)."


def _polling(ms_per_s: float, processes: int, share: float) -> str:
    """The snapshot pollers' background cost, as the end of the shim's line."""
    across = f" in {processes} processes" if processes > 1 else ""
    return (f", plus {_readable(ms_per_s)} ms/s of background polling for its window "
            f"snapshots{across} ({_percent(share)} of its CPU)")  # fmt: skip


def _readable(value: float) -> str:
    """A figure people read at a glance, never with an exponent: whole from 10 up (7,012,
    700, 12), else two significant digits (1.5, 0.05), "< 0.01" below."""
    if value >= 10:
        return f"{value:,.0f}"
    if value >= 0.01 or value == 0:
        return f"{value:.2g}"
    return "< 0.01"


def _percent(share: float) -> str:
    return f"{_readable(100 * share)}%"


def _self_report_line(records: Sequence[RunRecord]) -> str:
    """What became of the fields of the target's metrics document (`--target-metrics`): read,
    paired with a measured figure, or not, so a user sees the option did something."""
    accounts = [r.params["self_reported_fields"] for r in records
                if r.runner == "card" and r.params.get("self_reported_fields")]  # fmt: skip
    if not accounts:
        return _unread_metrics_line(records)
    paired = {f: m for account in accounts for f, m in account.get("paired", {}).items()}
    first = accounts[0]
    left = {f: why for f, why in first.get("not_compared", {}).items() if f not in paired}
    notes = {f: n for account in accounts for f, n in account.get("notes", {}).items()}
    parts = [f"Its metrics document (`--target-metrics`): {first.get('read', 0)} numeric fields "
             "read; paired with a measured figure: "
             + (_listed({f: MEANINGS.get(m, m) + _note(notes, f) for f, m in paired.items()})
                or "none")]  # fmt: skip
    if left:
        parts.append(f"named but not compared: {_listed(left)}")
    unpaired = list(first.get("unpaired", []))
    if unpaired:
        parts.append("not paired (sfperf measures nothing they name): " + _listed(
            dict.fromkeys(unpaired, ""), limit=UNPAIRED_SHOWN))  # fmt: skip
    return "; ".join(parts) + "."


def _unread_metrics_line(records: Sequence[RunRecord]) -> str:
    """What the metrics endpoint answered, when it was asked for and nothing could be read."""
    problem = next((str(r.params["target_metrics"]["problem"]) for r in records
                    if r.runner == "card" and (r.params.get("target_metrics") or {}).get(
                        "problem")), "")  # fmt: skip
    return f"Its metrics (`--target-metrics`) could not be read: {problem}." if problem else ""


def _note(notes: Mapping[str, str], field: str) -> str:
    return f"; {notes[field]}" if field in notes else ""


def _listed(items: Mapping[str, str], limit: int = 0) -> str:
    """`field` (what), ... with at most `limit` names (0: all) and how many more."""
    names = [f"`{f}` ({what})" if what else f"`{f}`" for f, what in items.items()]
    shown = names[:limit] if limit else names
    more = f" and {len(names) - len(shown)} more" if len(shown) < len(names) else ""
    return ", ".join(shown) + more


def _measured(records: Sequence[RunRecord]) -> bool:
    """True when anything was measured on the target (not only asked which model it serves)."""
    return any(r.runner not in ("discover",) for r in records)


def _verdict_table(stem: str, verdicts: Sequence[Verdict]) -> Table | None:
    if not verdicts:
        return None
    rows = [[v.text, format_value(v.value, v.unit), _interval(v), v.expected, v.verdict,
             v.reason if v.verdict == "inconclusive" else v.machine_load]
            for v in verdicts]  # fmt: skip
    # A concurrency claim is read with the CPU it had: the machine's load goes beside it.
    loaded = any(v.machine_load for v in verdicts)
    columns = ["metric", "measured", "interval", "expected", "verdict",
               "why undecided; machine load" if loaded else "why undecided"]  # fmt: skip
    return Table(f"card-{stem}", "Black-box measurements", columns, rows)


def _interval(verdict: Verdict) -> str:
    if verdict.low is None or verdict.high is None:
        return ""
    low, high = format_value(verdict.low, verdict.unit), format_value(verdict.high, verdict.unit)
    return low if low == high else f"{low} – {high}"


def _errors_table(stem: str, records: Sequence[RunRecord]) -> Table | None:
    counts: Counter[tuple[int, str]] = Counter()
    seen: dict[tuple[int, str], dict[str, None]] = {}
    for window, error in _errors(records):
        key = (int(error["status"]), str(error["body"]))
        counts[key] += int(error["count"])
        seen.setdefault(key, {})[window] = None
    if not counts:
        return None
    # A request left without any reply first: a client sees a reset, the worst a gateway does.
    ordered = sorted(counts.items(), key=lambda item: (item[0][0] != 0, -item[1]))[:ERRORS_SHOWN]
    rows = [[status, n, ", ".join(seen[status, body]), body] for (status, body), n in ordered]
    title = "Requests that were not ok: the status (0 when no reply came) and what was wrong"
    return Table(f"card-errors-{stem}", title, ["status", "count", "seen in", "body"], rows)


def _errors(
    records: Sequence[RunRecord], *, faulted: bool = True
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(window, error group): every failed reply of the load windows (with `faulted`, those
    that met a fault the mock injected too, said so), and of the resilience run the requests
    left without a reply and those that failed while the upstream was calm (its other errors
    are the faults it provoked)."""
    for record in records:
        if record.runner == "card":
            window = record.labels.get("window", "load")
            yield from ((window, error) for error in record.params.get("errors", []))
            apart = record.params.get("fault_errors", []) if faulted else []
            yield from ((f"{window} ({FAULTED})", error) for error in apart)
        elif record.runner == "load" and record.scenario == "resilience":
            yield from (("resilience", e) for e in record.params.get("no_reply_errors", []))
            calm = record.params.get("calm_errors", [])
            yield from (("resilience (upstream calm)", e) for e in calm)


def _findings(records: Sequence[RunRecord]) -> list[Mapping[str, Any]]:
    return [found.as_dict() for found in findings_of(records)]


def _findings_table(stem: str, records: Sequence[RunRecord]) -> Table | None:
    rows = [[f.get("severity"), f.get("name"), f.get("count"), ", ".join(f.get("windows", ())),
             f.get("explanation")] for f in _findings(records)]  # fmt: skip
    if not rows:
        return None
    title = "Findings: how the target treats its upstream (the mock's journal)"
    columns = ["severity", "finding", "count", "seen in", "why"]
    return Table(f"card-findings-{stem}", title, columns, rows)


def _self_reported_table(stem: str, records: Sequence[RunRecord]) -> Table | None:
    rows = [[r.labels.get("window"), p["field"], p["meaning"], p["reported"], p["measured"],
             *_agreement(p)] for r in records if r.runner == "card"
            for p in r.params.get("self_reported", [])]  # fmt: skip
    if not rows:
        return None
    columns = ["window", "field", "means", "reported", "measured", "off by", "verdict"]
    return Table(f"card-self-reported-{stem}", "What the target says about itself", columns, rows)


def _agreement(pairing: Mapping[str, Any]) -> tuple[str, str]:
    """How far a self-reported figure is from the measured one, and whether that is a
    disagreement (a counter may trail by the requests in flight at the window's edges)."""
    off_by, allowed = pairing.get("off_by", pairing["gap"]), float(pairing.get("allowed", 0.0))
    shown = (f"{off_by * 100:.0f} points" if pairing["meaning"] == "token_cache_hit_rate"
             else f"{off_by:.0%}")  # fmt: skip
    difference = abs(float(pairing["reported"]) - float(pairing["measured"]))
    if not pairing.get("agrees", pairing["gap"] <= AGREES_WITHIN):
        return shown, "disagrees"
    if 0.0 < difference <= allowed:
        return shown, f"agrees (within the {allowed:g} requests in flight at the window's edges)"
    return shown, "agrees"


def requests_served(record: RunRecord) -> float:
    """The requests a card window's files were opened for: the claims' denominator (records
    saved before it existed: the client's requests)."""
    name = "requests_served" if "requests_served" in record.series_names else "client_requests"
    return float(record.get(name).values[0])


def _files_table(stem: str, records: Sequence[RunRecord]) -> Table | None:
    totals: dict[str, Counter[str]] = {}
    requests = 0.0
    for record in (r for r in records if r.runner == "card" and "files" in r.params):
        requests += requests_served(record)
        for path, entry in record.params["files"].items():
            totals.setdefault(path, Counter()).update(
                {k: int(v) for k, v in entry.items() if k in COUNTED_IO}
            )
    if not totals:
        return None
    busiest = sorted(totals.items(), key=lambda item: -item[1]["opens"])[:FILES_SHOWN]
    # Classed over every window: a file written in any of them is the target's data.
    rows = [[path, classify_path(path, c), file_use(c, requests), c["opens"],
             c["opens"] / requests if requests else None, c["reads"], c["writes"]]
            for path, c in busiest]  # fmt: skip
    columns = ["path", "class", "use", "opens", "opens_per_request", "reads", "writes"]
    return Table(f"card-files-{stem}", "Files opened in the measured windows", columns, rows)
