"""The resilience run: the mock, a target, the `resilience` load scenario, then the mock's verdict.

One run tells a gateway's owner what it gets wrong upstream: the scenario provokes 429 bursts, a
503 outage, hangs and token expiry (`scenarios/load/resilience_plan.py`), and the journal of the
mock the run started is graded before the mock stops. Returns the load record, the token
sends of the journal as a `card` record, and the verdict (last).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.card.measures import journal_record
from harness.errors import RunFailed, UsageError
from harness.exits import exits_said
from harness.findings import GradingPolicy, findings_record, grade_journal
from harness.findings.journal import fetch_journal, mock_epoch_s, save_journal
from harness.findings.retries import with_client_replies
from harness.records import RunRecord, Series, now_iso
from harness.runners.load import LoadPlan, LoadTarget, run_load
from harness.runners.support.interrupted import Interrupted
from harness.runners.support.loadrows import Row, client_replies, read_rows
from harness.runners.support.phases import (
    PhaseSpan,
    fault_phases_untested,
    faults_unmet,
    not_exercised,
    self_answered,
)
from harness.runners.support.progress import Advance, no_progress
from harness.shim import target_processes
from harness.targets import RunningTarget, TargetSpec, open_target, start_mock
from harness.targets.discovery import DEFAULT_MODEL, discover_model
from harness.targets.process import Child
from harness.targets.running import logs_dir, run_child, safe_name
from scenarios import scenario_path
from scenarios.load.resilience_plan import ResiliencePlan, resilience_plan

MOCK_PROFILE = scenario_path("load", "resilience.toml")
QUICK_DURATION_S = 10.0
DEFAULT_DURATION_S = 600.0  # 200 s tokens expire twice; 45 s hangs tell a missing timeout
NOT_EXERCISED = "not_exercised"  # the verdict's params: phases no upstream call reached (R64)
FAULTS_UNMET = "faults_unmet"  # the verdict's params: fault phases whose calls met none (R116)
SELF_ANSWERED = "answered_itself"  # the verdict's params: phases it refused all alone (R141)
FAULTS_UNTESTED = "fault_phases_untested"  # the load record's: how many fault phases of either
JOURNAL_SETTLE_S = 0.5  # replies to abandoned requests reach the journal a moment later


def run_resilience(
    spec: TargetSpec,
    run_dir: Path,
    *,
    duration_s: float = DEFAULT_DURATION_S,
    users: int = 4,
    seed: int = 1234,
    mock_url: str = "",
    model: str | None = DEFAULT_MODEL,
    model_upstream: str = "",
    admin_token: str | None = None,
    policy: GradingPolicy | None = None,
    advance: Advance = no_progress,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunRecord]:
    """Run the scenario against `spec` and grade it: [load record, card record of the token
    sends (window `resilience`), verdict record].

    A `url` target needs `mock_url`, the sfperf mock already behind it; any other target gets a
    fresh mock with the resilience profile (`admin_token`: of that running mock's admin API).
    `model_upstream`: the Models API model the target's listing maps `model` to (its rewrite
    check takes that model as the one asked for, as the load step's does); `model` None: the
    model discovery chooses on the target once it answers, as `sfperf load` does (R138).
    `policy` defaults to `GradingPolicy()`. Ctrl-C still grades what the mock saw: `Interrupted`
    then carries both records, marked partial."""
    plan = resilience_plan(duration_s)
    policy = policy or GradingPolicy()
    # The load's own clients outwait the hangs, so hanging up is left to the target.
    load_plan = LoadPlan("resilience", users=users, spawn_rate=float(users), duration_s=duration_s,
                         seed=seed, timeout_s=max(30.0, plan.hang_s + 15.0),
                         model=model or DEFAULT_MODEL, model_upstream=model_upstream)  # fmt: skip
    with _resilience_target(spec, run_dir, plan, seed, mock_url) as target:
        if model is None:  # before the graded journal starts: its probes are no part of it
            chosen, upstream = chosen_model(target)
            load_plan = replace(load_plan, model=chosen, model_upstream=upstream)
        started_at = now_iso()
        first_seq = fetch_journal(target.mock_url, admin_token=admin_token).last_seq
        try:
            records, interrupted = run_load(load_plan, target, run_dir, advance=advance), False
        except Interrupted as stop:
            records, interrupted = stop.records, True
        # Errors and refreshes are provoked here: the report card's window (and the rewrites,
        # the same in every load run) are the load step's.
        records = [r for r in records if r.runner == "load"]
        sleep(JOURNAL_SETTLE_S)
        journal = fetch_journal(target.mock_url, since=first_seq, admin_token=admin_token)
        policy = replace(policy, target_processes=process_count(target))
        rows = rows_of(records, run_dir)
        missed = missed_phases(records, journal.entries, target.mock_url, rows)
    records = [with_faults_untested(r, missed) for r in records]
    findings = grade_journal(with_client_replies(journal.entries, client_replies(rows)),
                             policy)  # fmt: skip
    saved = save_journal(run_dir, target.name, journal.entries)
    params = {"mock": target.mock_url, "since": first_seq, "entries": len(journal.entries),
              "policy": policy.as_dict(), "resilience_plan": asdict(plan),
              "proves_read_timeout": plan.proves_read_timeout(policy.hang_wait_s),
              NOT_EXERCISED: missed.no_call, FAULTS_UNMET: missed.unmet,
              SELF_ANSWERED: missed.answered_itself}  # fmt: skip
    verdict = findings_record(
        findings, target.name, params=params, started_at=started_at,
        partial=journal.lost or interrupted or any(r.partial for r in records),
        artifacts=[saved], labels={"window": "resilience"},
    )  # fmt: skip
    # Its tokens live a few seconds (from the target's start-up on, when sfperf started the
    # mock): the run that puts "no expired token goes upstream" to test.
    tokens = journal_record(journal.entries, target=target.name, window="resilience",
                            partial=journal.lost or interrupted)  # fmt: skip
    if interrupted:
        raise Interrupted([*records, tokens, verdict])
    if exited := exits_said(records):  # graded as far as it went; the rest was refused
        raise RunFailed(exited[0], [*records, tokens, verdict])
    return [*records, tokens, verdict]


def chosen_model(target: LoadTarget) -> tuple[str, str]:
    """The model discovery chooses on the target, and what its listing maps it to upstream, as
    `sfperf load` asks it; UsageError saying why when none works: a
    model the target does not serve would void the run and be blamed on it (R138)."""
    choice = discover_model(target.url, mock_url=target.mock_url, headers=dict(target.headers),
                            tls=target.tls)  # fmt: skip
    if choice.model is None:
        raise UsageError(f"{target.name}: {choice.reason}; nothing graded (pass --model NAME)")
    print(f"model {choice.model!r} ({choice.source})", file=sys.stderr)
    return choice.model, choice.upstream_of(choice.model)


@dataclass(frozen=True)
class MissedPhases:
    """The phases of a run that did not test what they test: those with no upstream call while
    the target held its clients (`no_call`, R64) or answered them all itself (`answered_itself`,
    with what it answered, R141), those with faults whose calls met none (`unmet`, with what the
    calls got instead, R116), and how many of all those had faults to inject (`faulty`)."""

    no_call: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    faulty: int = 0
    answered_itself: list[str] = field(default_factory=list)


def missed_phases(
    records: Sequence[RunRecord],
    entries: Sequence[Mapping[str, Any]],
    mock_url: str,
    rows: Sequence[Row] = (),
) -> MissedPhases:
    """The phases of the load record's run that did not test what they test (none when every
    one did, or the phases or the mock's clock are unknown); `rows`: what the clients got."""
    spans = [PhaseSpan(str(p["name"]), float(p["start_s"]), bool(p["calm"]),
                       bool(p.get("injects", False)))
             for r in records for p in r.params.get("phases") or ()]  # fmt: skip
    epoch_s = mock_epoch_s(mock_url) if spans else None
    if epoch_s is None:
        return MissedPhases()
    silent = not_exercised(spans, entries, epoch_s)
    answered = self_answered(spans, rows, silent)
    held = [name for name in silent if not any(said.startswith(f"{name} (") for said in answered)]
    return MissedPhases(held, faults_unmet(spans, entries, epoch_s),
                        fault_phases_untested(spans, entries, epoch_s), answered)  # fmt: skip


def with_faults_untested(record: RunRecord, missed: MissedPhases) -> RunRecord:
    """The load record with `fault_phases_untested` (count, one value): the phases with faults
    to inject that no call met, so the claims on requests under faults have no verdict."""
    if "phases" not in record.params:
        return record
    series = Series(FAULTS_UNTESTED, "count", (float(missed.faulty),))
    return replace(record, series=(*record.series, series))


def rows_of(records: Sequence[RunRecord], run_dir: Path) -> list[Row]:
    """The raw rows of the load `records`."""
    dirs = [run_dir / str(r.params["raw_rows"]) for r in records if "raw_rows" in r.params]
    return [row for directory in dirs for row in read_rows(directory)]


@contextlib.contextmanager
def _resilience_target(
    spec: TargetSpec, run_dir: Path, plan: ResiliencePlan, seed: int, mock_url: str
) -> Iterator[LoadTarget]:
    if spec.kind == "url":
        if not mock_url:
            raise UsageError("a running --target-url needs --mock-url: the sfperf mock behind it")
        with open_target(spec, mock_url=mock_url, run_dir=run_dir) as running:
            yield LoadTarget.of(running, mock_url)
        return
    with start_mock(run_dir, profile=str(MOCK_PROFILE), seed=seed, args=plan.mock_args()) as mock:
        opened = (
            _reference_gateway(spec, mock.url, run_dir, plan)
            if spec.kind == "variant"
            else open_target(spec, mock_url=mock.url, run_dir=run_dir)
        )
        with opened as running:
            yield LoadTarget.of(running, mock.url, io=spec.kind == "launch", own_mock=True)


def process_count(target: LoadTarget) -> int | None:
    """How many processes of the target the launch shim saw reach the upstream (None: not
    launched under it)."""
    return target_processes(target.io_snapshot("resilience-processes"))


@contextlib.contextmanager
def _reference_gateway(
    spec: TargetSpec, mock_url: str, run_dir: Path, plan: ResiliencePlan
) -> Iterator[RunningTarget]:
    """A reference variant configured for the plan's short-lived tokens (its default refresh
    buffer, 5 minutes, would refresh on every call against them)."""
    argv = [sys.executable, "-m", "harness.subjects.gateway", "--variant", str(spec.variant),
            "--upstream", mock_url, "--host", "127.0.0.1", "--port", "0",
            "--token-refresh-buffer-s", f"{reference_refresh_buffer_s(plan):g}"]  # fmt: skip
    log_path = logs_dir(run_dir) / f"gateway-{safe_name(spec.name)}.log"
    with run_child(Child(f"gateway {spec.variant!r}", argv, log_path)) as url:
        yield RunningTarget(spec.name, url, log_path)


def reference_refresh_buffer_s(plan: ResiliencePlan) -> float:
    """A refresh buffer that fits the plan's token lifetime: a quarter of it."""
    return round(plan.token_lifetime_s / 4.0, 2)
