"""`sfperf load SCENARIO`: a locust scenario from `scenarios/load/` against a target.

With no target given, the embedded default: the mock plus the reference `async` gateway.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands._output import add_output_options, measure, run_dir, save
from harness.commands._target import (
    add_start_timeout_option,
    add_target_header_option,
    add_target_tls_options,
    headers_from_args,
    tell_mock_faults,
    tls_from_args,
)
from harness.errors import UsageError
from harness.records import RunRecord

if TYPE_CHECKING:  # the runners import locust's helpers, aiohttp...: only when a command runs
    from harness.findings import Finding
    from harness.runners.load import LoadTarget
    from harness.targets import TargetSpec

QUICK_DURATION_S = 5.0
QUICK_USERS = 5
DEFAULT_DURATION_S = {"soak": 600.0}  # every other scenario: 30 s
QUICK_DURATION_BY_SCENARIO_S = {"soak": 10.0}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "load",
        help="locust load scenarios (steady, ramp, spike, soak, streaming, faults)",
        description="Run a locust scenario headless against a target; every request is kept.",
    )
    parser.add_argument("scenario", help="steady|ramp|spike|soak|streaming|faults or a locustfile")
    target = parser.add_argument_group("target (default: the mock plus the 'async' gateway)")
    target.add_argument("--target-url", help="an OpenAI-compatible gateway already running")
    target.add_argument("--variant", help="a reference gateway variant, e.g. async, sync-legacy")
    target.add_argument("--launch", metavar="CMD", help="start this gateway command (shimmed)")
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback URL")
    target.add_argument(
        "--mock-url", default="", help="the sfperf mock behind --target-url (fidelity, faults)"
    )
    target.add_argument("--mock-profile", default="default", help="profile of the embedded mock")
    target.add_argument(
        "--target-metrics", metavar="PATH",
        help="where your gateway reports on itself (e.g. /metrics/performance): read before and "
        "after the run and shown beside the measured figures",
    )  # fmt: skip
    add_target_header_option(target)
    add_target_tls_options(target)
    add_start_timeout_option(target)
    load = parser.add_argument_group("load")
    load.add_argument(
        "--users", type=int,
        help="concurrent users (default 10, quick 5; open loop: enough for the rate through a "
        "stall of the whole window, up to 30 s: rate x that, at most 200)",
    )  # fmt: skip
    load.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    load.add_argument("--duration", help="run time, e.g. 30s, 5m (default 30s; soak 10m)")
    load.add_argument("--rate", type=float, help="open loop: total requests per second")
    load.add_argument("--arrival", choices=("constant", "poisson"), default="constant")
    load.add_argument("--workers", type=int, default=0, help="locust master + N local workers")
    load.add_argument(
        "--remote-workers", type=int, default=0, help="also wait for N workers from other hosts"
    )
    load.add_argument(
        "--master-bind", default="127.0.0.1", help="master address (non-loopback: --allow-remote)"
    )
    load.add_argument("--master-port", type=int, default=0, help="master port (default: free)")
    load.add_argument(
        "--model", default="",
        help="model name sent to the target (default: gpt-4o-mini to a reference variant; to "
        "your gateway, the first one GET /v1/models lists that answers a probe request)",
    )  # fmt: skip
    load.add_argument("--seed", type=int, help="seed of the prompts (and of the embedded mock)")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.exits import exits_said
    from harness.findings.journal import journal_position
    from harness.runners.load import mock_args_for, run_load, serve_target
    from harness.runners.support.progress import progress_bar
    from harness.validate import warmed_up

    plan = plan_from_args(args)
    spec, mock_url = target_from_options(args)
    directory = run_dir(args.out, append=args.append)
    tell_mock_faults(mock_url)
    since = journal_position(mock_url) if mock_url else 0  # a fresh mock: all of its journal
    with serve_target(
        spec,
        directory,
        seed=plan.seed,
        mock_url=mock_url,
        mock_profile=args.mock_profile,
        mock_args=mock_args_for(plan),
    ) as target:
        choice = choose_model(spec, target, args.model, directory)
        model = str(choice.model)
        plan = replace(plan, model=model, model_upstream=choice.upstream_of(model))
        warm_s = 0.0
        if spec.kind != "variant":  # as validate: its one-off work goes before the window,
            warm_s, warmed = warmed_up(target, plan.model, since)  # its token sends are graded
            save(directory, with_params(warmed, choice.as_params()))
        extra = {**choice.as_params(), "warm_up_s": round(warm_s, 3)}
        with progress_bar(plan.duration_s, f"load {plan.scenario} -> {target.name}") as advance:
            records = measure(directory, lambda keep: with_params(
                run_load(plan, target, directory, advance=advance), extra))  # fmt: skip
    exits = exits_said(records)  # first: nothing after it is the gateway's doing
    for line in exits:
        print(f"sfperf load: {line}", file=sys.stderr)
    print_summary(records)
    print_findings(records, directory)
    return 1 if exits else 0


def choose_model(spec: TargetSpec, target: LoadTarget, requested: str, directory: Path) -> Any:
    """The ModelChoice: a reference variant serves every standard name; a user's gateway is
    asked as validate asks it (`--model` if it works, else the first served one that does).
    Its answer is kept as a `discover/models` record; UsageError saying why when none works."""
    from harness.card.discover import discovery_record
    from harness.targets.discovery import DEFAULT_MODEL, ModelChoice, discover_model

    if spec.kind == "variant":
        return ModelChoice.given(requested or DEFAULT_MODEL)
    choice = discover_model(target.url, requested=requested or None, mock_url=target.mock_url,
                            headers=target.headers, tls=target.tls)  # fmt: skip
    save(directory, [discovery_record(target.name, choice)])
    if choice.model is None:
        raise UsageError(f"{target.name}: {choice.reason}; nothing measured")
    print(f"model {choice.model!r} ({choice.source})", file=sys.stderr)
    return choice


def with_params(records: Sequence[RunRecord], extra: dict[str, Any]) -> list[RunRecord]:
    """`records` with `extra` (the model choice, the warm-up) in their params."""
    return [replace(r, params={**r.params, **extra}) for r in records]


def plan_from_args(args: argparse.Namespace) -> Any:
    """The LoadPlan the options describe (quick mode shrinks what was not given)."""
    from harness.runners.load import LoadPlan, locustfile_for
    from harness.runners.support.openloop import OPEN_STALL_S, users_for
    from harness.runners.support.workloads import parse_duration_s
    from harness.settings import load_settings

    name = Path(locustfile_for(args.scenario)).stem
    if args.duration is not None:
        duration_s = parse_duration_s(args.duration)
    elif args.quick:
        duration_s = QUICK_DURATION_BY_SCENARIO_S.get(name, QUICK_DURATION_S)
    else:
        duration_s = DEFAULT_DURATION_S.get(name, 30.0)
    users = args.users if args.users is not None else (QUICK_USERS if args.quick else 10)
    spawn_rate = args.spawn_rate
    if args.rate and args.users is None:  # enough to keep the rate through a stall (R90)
        users = users_for(args.rate, min(duration_s, OPEN_STALL_S), least=users)
        spawn_rate = max(spawn_rate, float(users))  # all started at once: the rate from the start
    return LoadPlan(
        scenario=args.scenario,
        users=users,
        spawn_rate=spawn_rate,
        duration_s=duration_s,
        rate_rps=args.rate,
        arrival=args.arrival,
        workers=args.workers,
        remote_workers=args.remote_workers,
        master_bind_host=check_master_bind(args.master_bind, args.allow_remote),
        master_port=args.master_port,
        seed=load_settings().seed if args.seed is None else args.seed,
        model=args.model or "gpt-4o-mini",  # a user's gateway: replaced by discovery
    )


def check_master_bind(host: str, allow_remote: bool) -> str:
    """The master's bind address: loopback unless the user opted in to remote workers."""
    import ipaddress

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise UsageError(f"--master-bind takes an IP address, got {host!r}") from None
    if not loopback and not allow_remote:
        raise UsageError(f"--master-bind {host} is not loopback: add --allow-remote to opt in")
    return host


def target_from_options(args: argparse.Namespace) -> tuple[Any, str]:
    """The TargetSpec the options name, and the mock behind it (both held to loopback unless
    --allow-remote)."""
    from harness.targets import target_from_args
    from harness.targets.spec import check_mock_url

    users = bool(args.target_url or args.launch)
    spec = target_from_args(
        args.variant, args.target_url, args.launch, allow_remote=args.allow_remote,
        metrics_path=args.target_metrics, headers=headers_from_args(args, users_target=users),
        start_timeout_s=args.start_timeout, tls=tls_from_args(args),
    )  # fmt: skip
    mock_url = args.mock_url and check_mock_url(args.mock_url, allow_remote=args.allow_remote,
                                           option="--mock-url")  # fmt: skip
    return spec, mock_url


def print_summary(records: Sequence[RunRecord]) -> None:
    """One line per record: requests, ok share, latency percentiles, throughput, fidelity."""
    for record in (r for r in records if r.runner == "load"):
        if said := rate_not_held(record):  # first: the figures below hold the unsent ones too
            print(said, file=sys.stdout)
        latencies = sorted(record.get("latency_ms").values)
        ok = record.get("ok").values
        fidelity = {
            s.name.removeprefix("fidelity_"): int(s.values[0])
            for s in record.series
            if s.name.startswith("fidelity_") and s.values and s.values[0]
        }
        line = (
            f"{record.scenario} -> {record.labels.get('target')} ({record.labels.get('mode')}): "
            f"{len(latencies)} requests, {100 * statistics.fmean(ok) if ok else 0:.1f}% ok, "
            f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
            f"{record.get('throughput_rps').values[0]:.1f} req/s"
        )
        if fidelity:
            line += f", fidelity mismatches {fidelity}"
        line += joined_summary(record) + in_flight_summary(record) + faults_summary(record)
        reported = reported_requests(record.params.get("target_metrics", {}))
        if reported is not None:
            line += f"; the target counted {reported} (measured {len(latencies)})"
        print(line + (" [partial]" if record.partial else ""), file=sys.stdout)
        warn_if_behind(record)
        warn_if_refused(record)
        warn_if_unread(record)


def rate_not_held(record: RunRecord) -> str:
    """An open loop the target fell behind: of its scheduled requests, how many had no reply
    in the window, sent and still waiting at its end or never sent at all (no user was free);
    "" when none was kept unsent and the rest is the usual cut (`usual_cut`)."""
    kept = record.params.get("open_loop") or {}
    scheduled, unsent = int(kept.get("scheduled", 0)), int(kept.get("unsent", 0))
    never, waiting = unsent + int(kept.get("due", 0)), int(kept.get("waiting", 0))
    if not unsent and never + waiting <= usual_cut(record):
        return ""
    said = [f"{scheduled - never - waiting:,} of {scheduled:,} scheduled requests had a reply "
            "within the window"]  # fmt: skip
    if waiting:
        longest_s = float((record.params.get("in_flight") or {}).get("longest_wait_ms", 0)) / 1e3
        said.append(f"{waiting:,} were still waiting at its end (up to {longest_s:.1f} s), "
                    "not counted")  # fmt: skip
    if never:
        said.append(never_sent(record, never, unsent))
    how = "the rate was not held" if never else "the target fell behind the rate"
    return f"{record.scenario} -> {record.labels.get('target')} (open): {how}: " + "; ".join(said)


def usual_cut(record: RunRecord) -> float:
    """How many scheduled requests an open loop that keeps up has without a reply at its
    window's end: twice what Little's law puts in flight (rate x median reply time), and at
    least a tenth of the schedule (`BEHIND_SHARE`)."""
    latencies = (
        sorted(record.get("latency_ms").values) if "latency_ms" in record.series_names else []
    )
    in_flight = float(record.params.get("rate_rps") or 0) * percentile(latencies, 0.5) / 1e3
    scheduled = int((record.params.get("open_loop") or {}).get("scheduled", 0))
    return max(2.0 * in_flight, BEHIND_SHARE * scheduled)


def never_sent(record: RunRecord, never: int, unsent: int) -> str:
    """Why `never` scheduled requests were not sent, how the `unsent` of them count, and the
    users that would have sent them."""
    from harness.runners.support.openloop import users_for

    users, rate_rps = int(record.params.get("users") or 1), float(record.params["rate_rps"])
    overdue_s = float((record.params.get("in_flight") or {}).get("overdue_after_ms", 0)) / 1e3
    more = users_for(rate_rps, float(record.params.get("duration_s") or 0), least=users + 1)
    return (f"{never:,} were never sent, every one of the {users} users still waiting on the "
            f"target: the {unsent:,} overdue by more than {overdue_s:.1f} s count as not ok, with "
            "their wait from their intended start as latency (a lower bound); "
            f"{users} users keep {rate_rps:g} req/s through a stall of {users / rate_rps:.2g} s "
            f"at most (--users {more} outlast one the length of the window)")  # fmt: skip


def print_findings(records: Sequence[RunRecord], run_dir: Path | None = None) -> None:
    """The WARN and FAIL findings of the run (how the target retried, what it did to the
    requests, and with `run_dir` the tokens it sent that the upstream refused), one line each
    after the summary; INFO stays in the records."""
    from harness.findings import Severity, findings_of

    sends = token_send_findings(records, run_dir) if run_dir is not None else []
    for found in [*sends, *findings_of(records)]:
        if found.severity in (Severity.WARN, Severity.FAIL):
            where = ", ".join(found.windows)
            print(f"{found.severity.value} {found.name} x{found.count} ({where}): "
                  f"{found.explanation}")  # fmt: skip


def token_send_findings(records: Sequence[RunRecord], run_dir: Path) -> list[Finding]:
    """Expired, unknown and missing token sends in each window, graded from the journal its
    `verdict/retries` record kept: why a gateway that never refreshes its token fails every
    request (validate's card says it from the resilience grading; `load` alone said nothing)."""
    from harness.findings.grading import grade_token_sends, graded_window

    found: list[Finding] = []
    for record in (r for r in records if r.runner == "verdict" and r.scenario == "retries"):
        entries = [e for artifact in record.artifacts for e in read_entries(run_dir / artifact)]
        window = (graded_window(record),)
        found += [replace(f, windows=window) for f in grade_token_sends(entries)]
    return found


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The journal entries a run kept (`journal-<target>.jsonl`; [] when unreadable)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return [e for e in entries if isinstance(e, dict)]


def in_flight_summary(record: RunRecord) -> str:
    """The requests still waiting when the window ended: those the target held, or how many
    the end cut (a window's ordinary end)."""
    waiting = record.params.get("in_flight") or {}
    if waiting.get("held"):
        return (f"; {waiting['held']} held without a reply at the window's end (waiting up to "
                f"{waiting['longest_wait_ms'] / 1000:.1f} s, over 3 times any reply)")  # fmt: skip
    if waiting.get("requests"):
        return f"; {waiting['requests']} in flight at the end, not counted"
    return ""


def faults_summary(record: RunRecord) -> str:
    """The requests that met a fault the mock injected, and what the target answered them."""
    from harness.findings.mock_faults import met_faults_words

    said = met_faults_words(record.params.get("met_faults") or {})
    return f"; {said}" if said else ""


def joined_summary(record: RunRecord) -> str:
    """What the join says: how answers were judged, the gateway's added latency, streaming."""
    from harness.overhead import added_words

    basis = record.params.get("fidelity_basis") or {}
    if not basis.get("upstream"):
        predicted = basis.get("predicted", 0)
        return f" (judged against predicted replies: {predicted})" if predicted else ""
    text = f"; judged against the upstream: {basis['upstream']} of {sum(basis.values())}"
    if "added_latency_ms" in record.series_names:
        added = sorted(record.get("added_latency_ms").values)
        if added:
            text += f", gateway added p50 {added_words(percentile(added, 0.5))}"
    mode = (record.params.get("streaming") or {}).get("mode")
    return text + (f", streams: {mode}" if mode else "")


def warn_if_refused(record: RunRecord) -> None:
    """Say what to do when the target refused most requests for want of a client credential."""
    from collections import Counter

    from harness.targets.headers import credential_hint

    statuses = Counter(int(s) for s in record.get("status").values)
    status, count = statuses.most_common(1)[0] if statuses else (0, 0)
    names = record.params.get("target_headers") or []
    if hint := credential_hint(status, map(str, names)):
        print(f"warning: {count} requests answered {status}: {hint}", file=sys.stderr)


def warn_if_unread(record: RunRecord) -> None:
    """Say what the metrics endpoint answered when `--target-metrics` could read nothing."""
    if problem := (record.params.get("target_metrics") or {}).get("problem"):
        print(f"warning: --target-metrics could not be read: {problem}", file=sys.stderr)


# An open loop whose scheduled requests went without a reply in the window beyond this share
# (and twice rate x latency, what keeping up leaves in flight) has fallen behind: `usual_cut`.
BEHIND_SHARE = 0.1
LATE_SEND_MS = 10.0
LATE_SHARE_WARN = 0.01


def warn_if_behind(record: RunRecord) -> None:
    """Open loop: say so when the generator itself sent late (its wait is not the target's)."""
    if record.labels.get("mode") != "open" or "send_lag_ms" not in record.series_names:
        return
    if (record.params.get("open_loop") or {}).get("unsent"):
        return  # `rate_not_held` said it, from what was never sent at all
    lags = record.get("send_lag_ms").values
    late = sum(lag > LATE_SEND_MS for lag in lags) / len(lags) if lags else 0.0
    if late > LATE_SHARE_WARN:
        # Little's law: users busy at once = arrival rate x time a request takes.
        latencies = record.get("latency_ms").values
        response_s = statistics.fmean(a - b for a, b in zip(latencies, lags, strict=True)) / 1e3
        needed = math.ceil(1.5 * float(record.params.get("rate_rps") or 0.0) * response_s)
        print(
            f"warning: {100 * late:.1f}% of requests left > {LATE_SEND_MS:g} ms behind schedule: "
            f"too few --users for --rate (try --users {max(needed, 1)}; see send_lag_ms)",
            file=sys.stderr,
        )


def reported_requests(metrics: Any) -> int | None:
    """Requests the target says it served during the run (its `requests` counter, after - before).

    The count includes requests still in flight when the load stopped; None when the target
    has no such counter.
    """

    def total(snapshot: Any) -> int | None:
        counter = snapshot.get("requests") if isinstance(snapshot, dict) else None
        if isinstance(counter, dict):
            return int(sum(v for v in counter.values() if isinstance(v, int | float)))
        return int(counter) if isinstance(counter, int | float) else None

    before, after = total(metrics.get("before")), total(metrics.get("after"))
    return None if before is None or after is None else after - before


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
