"""The load runner: a locustfile from `scenarios/load/`, run headless by locust in subprocesses.

Only the children import locust (gevent patches the process it is imported into). Each child
writes one raw row per request (`harness.runners.support.loadrows`); when locust is done, or
stopped by Ctrl-C, or crashed, the rows on disk become one RunRecord (`partial=True` unless it
ended well).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from harness.card.measures import WindowObservation, card_record, top_errors
from harness.card.window import TargetSession, WindowObserver, no_metrics, no_snapshot
from harness.errors import RunFailed, UsageError
from harness.exits import PARAM as TARGET_EXIT
from harness.exits import answered_before, exit_params, measured_before
from harness.fidelity import ReplyOracle, fetch_oracle
from harness.findings.client_side import CLIENT_FINDINGS, ClientSide
from harness.findings.client_side import RULES as CLIENT_RULES
from harness.findings.grading import (
    RETRY_FINDINGS,
    findings_record,
    grade_window,
    most_severe_first,
)
from harness.findings.journal import mock_epoch_s, save_journal
from harness.findings.model import GradingPolicy
from harness.findings.retries import with_client_replies
from harness.machine import PARAM as MACHINE_LOAD
from harness.machine import load_average, machine_load
from harness.records import RunRecord, capture_environment, now_iso
from harness.runners.support.crashes import locust_failure
from harness.runners.support.interrupted import Interrupted
from harness.runners.support.loadjoin import LoadJoin, join_load
from harness.runners.support.loadrows import (
    Row,
    client_replies,
    no_reply,
    read_rows,
    read_window,
    row_series,
    schedule_kept,
)
from harness.runners.support.openloop import ARRIVALS
from harness.runners.support.phases import PhaseSpan, read_phases
from harness.runners.support.progress import Advance, no_progress
from harness.shim import target_processes
from harness.store import atomic_write_text
from harness.targets import RunningTarget, TargetSpec, open_target, start_mock
from harness.targets.headers import HEADERS_VARIABLE
from harness.targets.metrics_reading import MetricsReading
from harness.targets.process import ProcessExit, signal_group, spawn, stop_group
from harness.targets.resources import (
    GroupResources,
    group_resources,
    no_resources,
    process_identity,
)
from harness.targets.tls import DEFAULT_TLS, TLS_VARIABLE, TargetTls
from harness.upstreams import PARAM as UPSTREAM
from harness.upstreams import read_upstream
from scenarios import scenario_path
from scenarios.load.resilience_plan import resilience_plan

SCENARIO_DIR = scenario_path("load")
SCENARIOS = ("steady", "ramp", "spike", "soak", "streaming", "faults")
IN_FLIGHT_PARAM = "in_flight"  # what was still waiting at the window's end (`InFlight`)
PROCESS = "process"  # a card's: which launch of the target it watched (memory growth, B7)
SCHEDULE_PARAM = "open_loop"  # an open loop's requests scheduled and unsent (`schedule_kept`)
STOP_GRACE_S = 15.0  # how long locust may take to stop and write after its run time
WORKER_WAIT_S = 60.0  # how long a master waits for its workers to connect
POLL_S = 0.25


@dataclass(frozen=True)
class LoadPlan:
    """Everything that decides what locust does (kept in the record's params)."""

    scenario: str
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: float = 30.0
    rate_rps: float | None = None  # None: closed loop; a rate: open loop
    arrival: str = "constant"
    workers: int = 0  # 0: one local locust process; N: a master plus N local workers
    remote_workers: int = 0  # workers the master waits for from other hosts (started by hand)
    master_bind_host: str = "127.0.0.1"  # remote workers need an address they can reach
    seed: int = 1234
    model: str = "gpt-4o-mini"
    # The Models API model the target's own GET /v1/models says `model` stands for ("": it does
    # not say): sent as anything else, the rewrites name a swap.
    model_upstream: str = ""
    timeout_s: float = 30.0
    master_port: int = 0  # 0: pick a free one

    @property
    def mode(self) -> str:
        return "closed" if self.rate_rps is None else "open"

    def __post_init__(self) -> None:
        if self.users < 1 or self.spawn_rate <= 0 or self.duration_s <= 0:
            raise UsageError("users, spawn rate and duration must be positive")
        if self.rate_rps is not None and self.rate_rps <= 0:
            raise UsageError(f"--rate must be positive, got {self.rate_rps}")
        if self.arrival not in ARRIVALS:
            raise UsageError(f"--arrival must be one of {', '.join(ARRIVALS)}")
        if self.workers < 0 or self.remote_workers < 0:
            raise UsageError("--workers and --remote-workers must be >= 0")

    @property
    def distributed(self) -> bool:
        return self.workers + self.remote_workers > 0


@dataclass(frozen=True)
class LoadTarget:
    """Where the load goes and what is known about it."""

    name: str
    url: str
    # The sfperf mock behind the target, when known: every reply is then checked against what
    # the mock sent (fidelity), and the faults scenario can make the mock misbehave.
    mock_url: str = ""
    metrics: Callable[[], MetricsReading] = field(default=no_metrics)
    # The shim's file counts now (launched targets): a window is measured without start-up.
    io_snapshot: Callable[[str], Mapping[str, Any] | None] = field(default=no_snapshot)
    # Its processes' memory and descriptors now (targets the harness started).
    resources: Callable[[], GroupResources | None] = field(default=no_resources)
    session: TargetSession = field(default_factory=TargetSession)
    # Sent with every request (`--target-header`): secrets, kept out of the repr and records.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    tls: TargetTls = DEFAULT_TLS  # what every client trusts of its certificate (https)
    # How and when it exited, once it has (a target the harness started: `Child.ended`).
    ended: Callable[[], ProcessExit | None] = field(default=lambda: None)
    own_mock: bool = False  # the mock is sfperf's, started for the run (else the user's)
    process: str = ""  # which launch of it (`resources.process_identity`; "": not started)

    @classmethod
    def of(
        cls, running: RunningTarget, mock_url: str, *, io: bool = False, own_mock: bool = False
    ) -> LoadTarget:
        """The load's view of a running target (`io`: with the shim's file counts; `own_mock`:
        the mock at `mock_url` is one sfperf started)."""
        snapshot = running.io_snapshot if io else no_snapshot
        pgid = running.pid  # a started target leads its own process group
        held = functools.partial(group_resources, pgid) if pgid else no_resources
        return cls(running.name, running.url, mock_url, running.metrics_reading, snapshot,
                   held, headers=running.headers, tls=running.tls, ended=running.ended,
                   own_mock=own_mock,
                   process=process_identity(pgid) if pgid else "")  # fmt: skip

    def observer(self, label: str) -> WindowObserver:
        """Watches this target over one load run (the `card` record's observation)."""
        return WindowObserver(label, self.mock_url, self.metrics, self.io_snapshot, self.session,
                              resources=self.resources)  # fmt: skip


def locustfile_for(scenario: str) -> Path:
    """The locustfile of a named scenario, or a path to a user's locustfile."""
    path = Path(scenario)
    if path.suffix == ".py" and path.is_file():
        return path.resolve()
    candidate = SCENARIO_DIR / f"{scenario}.py"
    if scenario in SCENARIOS or (candidate.is_file() and not scenario.startswith("_")):
        return candidate
    raise UsageError(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)} or a .py file")


def mock_args_for(plan: LoadPlan) -> tuple[str, ...]:
    """What the plan's scenario needs of a mock sfperf starts for it, from its first token on:
    the resilience scenario's short-lived tokens (see `ResiliencePlan.mock_args`)."""
    if locustfile_for(plan.scenario).resolve() != (SCENARIO_DIR / "resilience.py").resolve():
        return ()
    return resilience_plan(plan.duration_s).mock_args()


def sfperf_options(plan: LoadPlan, target: LoadTarget, raw_dir: Path) -> list[str]:
    """The `--sfperf-*` options of the locust plugin (forwarded by locust to every worker)."""
    options = [
        "--sfperf-out", str(raw_dir),
        "--sfperf-users", str(plan.users),
        "--sfperf-duration", f"{plan.duration_s:g}",
        "--sfperf-seed", str(plan.seed),
        "--sfperf-model", plan.model,
        "--sfperf-timeout", f"{plan.timeout_s:g}",
    ]  # fmt: skip
    if plan.rate_rps is not None:
        options += ["--sfperf-mode", "open", "--sfperf-rate", f"{plan.rate_rps:g}"]
        options += ["--sfperf-arrival", plan.arrival]
    if target.mock_url:
        options += ["--sfperf-mock-url", target.mock_url]
    return options


def locust_env(headers: Mapping[str, str], tls: TargetTls = DEFAULT_TLS) -> dict[str, str] | None:
    """The locust children's environment: ours, plus the target's headers (in the environment,
    not on a command line that `ps` shows and the record keeps) and TLS choices."""
    if not headers and tls.default:
        return None
    given = {HEADERS_VARIABLE: json.dumps(dict(headers))} if headers else {}
    return {**os.environ, **given, **({} if tls.default else {TLS_VARIABLE: tls.as_json()})}


def work_dir_for(run_dir: Path, plan: LoadPlan, target: LoadTarget) -> Path:
    """A fresh `run_dir/load/<scenario>-<target>-<n>/` for one run's rows, CSVs and logs.

    One run directory holds many load runs (`sfperf validate`); each keeps its own files.
    """
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{Path(plan.scenario).stem}-{target.name}")
    number = 1
    while (run_dir / "load" / f"{stem}-{number}").exists():
        number += 1
    work = run_dir / "load" / f"{stem}-{number}"
    (work / "raw").mkdir(parents=True)
    return work


def locust_commands(
    plan: LoadPlan, target: LoadTarget, run_dir: Path, master_port: int
) -> list[list[str]]:
    """The command lines: one headless locust, or a master followed by its local workers."""
    locust = [sys.executable, "-m", "locust", "-f", str(locustfile_for(plan.scenario))]
    run = [
        "--headless", "-H", target.url, "-u", str(plan.users), "-r", f"{plan.spawn_rate:g}",
        "-t", f"{math.ceil(plan.duration_s)}s", "--stop-timeout", "0", "--only-summary",
        "--exit-code-on-error", "0", "--csv", str(run_dir / "locust"), "--loglevel", "WARNING",
    ]  # fmt: skip
    main = [*locust, *run, *sfperf_options(plan, target, run_dir / "raw")]
    if not plan.distributed:
        return [main]
    master = [*main, "--master", "--expect-workers", str(plan.workers + plan.remote_workers)]
    master += ["--expect-workers-max-wait", f"{WORKER_WAIT_S:g}"]
    master += ["--master-bind-host", plan.master_bind_host, "--master-bind-port", str(master_port)]
    worker = [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)]
    return [master, *([worker] * plan.workers)]


def free_port() -> int:
    """A free TCP port on loopback (locust's master needs one before it starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocustProcesses:
    """The locust children of one run: started together, stopped together, never orphaned."""

    def __init__(
        self,
        commands: Sequence[Sequence[str]],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.logs: list[IO[bytes]] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        for index, command in enumerate(commands):
            log = (log_dir / f"locust-{index}.log").open("wb")
            self.logs.append(log)
            self.procs.append(spawn(command, stdout=log, stderr=subprocess.STDOUT, env=env))

    @property
    def main(self) -> subprocess.Popen[bytes]:
        return self.procs[0]

    @property
    def log_paths(self) -> list[Path]:
        """Each locust's log, the first locust's first."""
        return [Path(log.name) for log in self.logs]

    def stop(self, grace_s: float) -> None:
        """SIGTERM every locust at once (each stops its users and writes its files), then
        SIGKILL the process groups of those still there after `grace_s`."""
        for proc in self.procs:
            signal_group(proc, signal.SIGTERM)
        deadline_s = time.monotonic() + grace_s
        try:
            for proc in self.procs:
                stop_group(proc, max(0.0, deadline_s - time.monotonic()), first=None)
        finally:  # an interrupt in the wait above still leaves no locust behind
            for proc in self.procs:
                signal_group(proc, signal.SIGKILL)
            for log in self.logs:
                log.close()


def drive(
    procs: LocustProcesses,
    wait_s: float,
    duration_s: float,
    advance: Advance,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> bool:
    """Wait up to `wait_s` (+ grace) for locust to finish, showing progress over `duration_s`;
    False when it crashed or overran."""
    started_s = clock()
    deadline_s = started_s + wait_s + STOP_GRACE_S
    shown_s = 0.0
    while procs.main.poll() is None:
        if clock() > deadline_s:
            return False
        sleep(POLL_S)
        elapsed_s = min(clock() - started_s, duration_s)
        advance(elapsed_s - shown_s, "")
        shown_s = elapsed_s
    return procs.main.returncode == 0


def run_load(
    plan: LoadPlan,
    target: LoadTarget,
    run_dir: Path,
    *,
    advance: Advance = no_progress,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunRecord]:
    """Run `plan` against `target`: the load record, which holds every request even after
    Ctrl-C, the `card` record of what the target did in that window, and (when its requests
    joined the mock's journal) the `verdict`/`rewrites` record of what it did to them.

    Files land in `work_dir_for(run_dir, ...)`; the record names them relative to `run_dir`.
    """
    work = work_dir_for(run_dir, plan, target)
    port = plan.master_port or (free_port() if plan.distributed else 0)
    commands = locust_commands(plan, target, work, port)
    observer = target.observer(f"{Path(plan.scenario).stem}-{plan.mode}")
    upstream = read_upstream(target.mock_url, own=target.own_mock)
    observer.start()
    started_at, started_s, load_at_start = now_iso(), clock(), load_average()
    began_epoch_s = time.time()
    procs = LocustProcesses(commands, work / "logs", locust_env(target.headers, target.tls))
    finished = interrupted = False
    try:
        wait_s = plan.duration_s + (WORKER_WAIT_S if plan.distributed else 0.0)
        finished = drive(procs, wait_s, plan.duration_s, advance, clock, sleep)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        exit_code = procs.main.returncode  # before the stop: None while locust still ran
        procs.stop(STOP_GRACE_S)
    machine = machine_load(load_at_start)
    observation = observer.finish()
    metrics: dict[str, Any] = {"before": observation.metrics_before,
                               "after": observation.metrics_after}  # fmt: skip
    metrics |= {"problem": observation.metrics_problem} if observation.metrics_problem else {}
    atomic_write_text(work / "target-metrics.json", json.dumps(metrics, indent=2))
    raw = work / "raw"
    rows, in_flight = read_window(raw)
    ended = target.ended()
    finished = finished and ended is None  # a window the target left early is partial
    measured, after_exit = measured_before(rows, ended)
    joined = join_rows_of(plan, target, observation, measured, not finished, read_phases(raw))
    record = load_record(plan, target, run_dir, work, commands, metrics, started_at,
                         clock() - started_s, partial=not finished, joined=joined)  # fmt: skip
    params = {**record.params, MACHINE_LOAD: machine, IN_FLIGHT_PARAM: asdict(in_flight),
              UPSTREAM: upstream}  # fmt: skip
    if plan.rate_rps is not None:  # was the rate held? (R90)
        params[SCHEDULE_PARAM] = schedule_kept(rows, in_flight)
    if ended is not None:
        before = answered_before(rows, ended.at_s)
        params[TARGET_EXIT] = exit_params(ended, observation.label, began_epoch_s, before,
                                          after_exit)  # fmt: skip
    record = replace(record, params=params)
    card = card_record(observation, joined.rows, target=target.name, scenario=observation.label,
                       started_at=started_at, users=plan.users, partial=not finished)  # fmt: skip
    card = replace(card, params={**card.params, UPSTREAM: upstream, PROCESS: target.process})
    graded = retries_record(observation, target.name, card.labels["window"], not finished,
                            joined.rows)  # fmt: skip
    if graded is not None and observation.journal:
        # The mock and its journal do not outlive the run: `sfperf verdict` needs it kept.
        saved = work / save_journal(work, target.name, observation.journal)
        graded = replace(graded, artifacts=(str(saved.relative_to(run_dir)),))
    records = [record, card, *(r for r in (joined.rewrites, graded) if r is not None)]
    if interrupted:
        raise Interrupted(records)
    if failure := locust_failure(procs.log_paths, exit_code, len(rows)):
        raise RunFailed(f"{record.scenario} -> {target.name}: {failure}",
                        records if rows else [])  # fmt: skip
    return records


def join_rows_of(
    plan: LoadPlan,
    target: LoadTarget,
    observation: WindowObservation,
    rows: Sequence[Row],
    partial: bool,
    phases: Sequence[PhaseSpan] = (),
) -> LoadJoin:
    """The run's rows judged against the upstream calls the journal shows for them (and, when
    the scenario walked the mock through `phases`, on the requests that met a calm upstream)."""
    window = f"{Path(plan.scenario).stem}-{plan.mode}"
    return join_load(
        rows, observation.journal, oracle=lambda: mock_oracle(target.mock_url),
        labels={"target": target.name, "window": window},
        mock_epoch=lambda: mock_epoch_s(target.mock_url), journal_lost=observation.journal_lost,
        partial=partial, phases=phases, model_upstream=plan.model_upstream,
        memory=target.session.replies,
    )  # fmt: skip


def retries_record(
    observation: WindowObservation, target: str, window: str, partial: bool,
    rows: Sequence[Row] = (),
) -> RunRecord | None:  # fmt: skip
    """`verdict/retries`: how the target retried and backed off in the window, graded from the
    mock's journal (each call beside what the client got for its request, `rows`) as
    validate's resilience step grades it, and whether it fetched more tokens than its processes
    (the shim's count) need (None: no journal to grade)."""
    if observation.journal is None:
        return None
    entries = with_client_replies(observation.journal, client_replies(rows))
    lost = observation.journal_lost
    policy = GradingPolicy(target_processes=target_processes(observation.io))
    seen = client_side(rows)
    graded = most_severe_first([*grade_window(entries, policy), *(r(seen) for r in CLIENT_RULES)])
    return findings_record(
        graded, target, params={"entries": len(entries)}, scenario="retries",
        names=(*RETRY_FINDINGS, *CLIENT_FINDINGS), labels={"window": window},
        partial=partial or lost,
    )  # fmt: skip


def client_side(rows: Sequence[Row]) -> ClientSide:
    """What the window's clients saw of the target's connections (R101) and streams (R131)."""
    streams = [r.answer for r in rows if r.ttft_ms is not None and r.answer is not None]
    return ClientSide(
        replies=sum(1 for r in rows if r.status),
        closed=sum(1 for r in rows if r.status and r.closed),
        connect_ms=[r.connect_ms for r in rows if r.connect_ms is not None],
        streams=len(streams),
        without_done=sum(1 for a in streams if a.without_done),
    )


def mock_oracle(mock_url: str) -> ReplyOracle | None:
    """The replies the mock at `mock_url` gives (from its settings); None: no mock to ask."""
    if not mock_url:
        return None
    try:
        return fetch_oracle(mock_url)
    except ValueError:
        return None


def load_record(
    plan: LoadPlan,
    target: LoadTarget,
    run_dir: Path,
    work: Path,
    commands: Sequence[Sequence[str]],
    metrics: Mapping[str, Any],
    started_at: str,
    duration_s: float,
    partial: bool,
    joined: LoadJoin | None = None,
) -> RunRecord:
    """The RunRecord of a run from the raw rows its locust processes left in `work/raw`
    (`joined`: those rows judged against the journal, with what the join measured)."""
    joined = joined or LoadJoin(tuple(read_rows(work / "raw")))
    rows = joined.rows
    files = (*work.glob("locust_*.csv"), *work.glob("logs/*.log"), *work.glob("*.json"))
    artifacts = sorted(str(p.relative_to(run_dir)) for p in files)
    params = {
        **asdict(plan),
        "mode": plan.mode,
        "target_url": target.url,
        "fidelity_checked": bool(target.mock_url),
        **joined.params,
        "no_reply_errors": top_errors([r for r in rows if no_reply(r)]),
        "locust_command": list(commands[0]),
        "target_headers": sorted(target.headers),  # names only: the values are secrets
        "target_metrics": dict(metrics),
        "raw_rows": str((work / "raw").relative_to(run_dir)),
    }
    return RunRecord(
        runner="load",
        scenario=Path(plan.scenario).stem,
        params=params,
        environment=capture_environment(),
        series=row_series(rows) + joined.series,
        labels={"target": target.name, "mode": plan.mode},
        artifacts=tuple(artifacts),
        started_at=started_at,
        duration_s=duration_s,
        partial=partial or not rows,
    )


@contextmanager
def serve_target(
    spec: TargetSpec,
    run_dir: Path,
    *,
    seed: int,
    mock_url: str = "",
    mock_profile: str = "default",
    mock_args: Sequence[str] = (),
) -> Iterator[LoadTarget]:
    """A LoadTarget for the block, with the sfperf mock behind it: a fresh mock (started with
    `mock_args`) for a reference variant or a launched command; for a running URL, `mock_url`
    (the mock behind it, if any)."""
    if spec.kind == "url":
        with open_target(spec, mock_url=mock_url, run_dir=run_dir) as running:
            yield LoadTarget.of(running, mock_url)
        return
    if mock_url:
        raise UsageError("--mock-url goes with --target-url (sfperf starts its own mock)")
    with (
        start_mock(run_dir, profile=mock_profile, seed=seed, args=mock_args) as mock,
        open_target(spec, mock_url=mock.url, run_dir=run_dir) as running,
    ):
        yield LoadTarget.of(running, mock.url, io=True, own_mock=True)
