"""The concurrency sweep: each subject's throughput and latency against concurrency, beside
Little's-law bound N / L that no closed loop of N callers can beat when a call takes L.

The mock answers after a fixed upstream latency L (set through its admin API). Levels go up
one by one and, within a level, the subjects take turns, so the subjects compared at a level
are measured moments apart. Then the subjects take `rounds - 1` more turns at the level claims
judge (the highest where the sweep's own client was no subject's limit): a shared machine's
state moves from one moment to the next, and only rounds say by how much (`params.round`; a
claim pairs the subjects round by round, `harness.claims.metrics`). A subject is one of:
- `client`: a reference upstream client (`sync-wrapper`, `async`, `async-batching`), in process;
- `gateway`: a reference gateway variant (`gateway:<variant>`), its own process;
- `target`: a user's gateway, with a `role` (`target`, or `baseline` / `candidate` when two are
  compared in one run);
- `ceiling`: the sweep's own HTTP client calling the mock directly, so a level where a gateway
  only matches the ceiling is known to be the client's limit, not the gateway's.
Each (subject, N, L, round) becomes one record.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.exits import PARAM as TARGET_EXIT
from harness.exits import exit_params
from harness.fidelity import FidelityTally
from harness.findings.mock_faults import read_mock_faults
from harness.machine import PARAM as MACHINE_LOAD
from harness.machine import load_average, machine_load
from harness.records import (
    Environment,
    RunRecord,
    Series,
    capture_environment,
    make_series,
    now_iso,
)
from harness.runners.support.closedloop import Window
from harness.runners.support.interrupted import Interrupted, Keep, keep_nothing
from harness.runners.support.progress import Advance, no_progress
from harness.runners.support.sweepjoin import FaultFlags, WindowJudge
from harness.runners.support.sweepsubjects import (
    CLIENTS,
    GATEWAY_MODEL,
    HttpSubject,
    chat_subject,
    measure_client,
    measure_http,
    mock_subject,
)
from harness.saturation import client_bound_levels
from harness.targets import RunningTarget, TargetSpec, open_target, start_mock
from harness.targets.cputime import CpuUse, cpu_used, snapshot
from harness.targets.discovery import ModelChoice, discover_model
from harness.targets.process import ProcessExit
from mock_salesforce.admin_client import AdminClient

SCENARIO = "sync-vs-async"
DEFAULT_LEVELS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
QUICK_LEVELS = (1, 8, 32, 64)
GATEWAY_VARIANTS = ("sync-legacy", "sync-optimized", "async", "async-batching")
GATEWAY_PREFIX = "gateway:"  # the client `async` and the gateway variant `async` are different
DEFAULT_SUBJECTS = (*CLIENTS, *(GATEWAY_PREFIX + v for v in GATEWAY_VARIANTS))
# Drawn beside a user's target: a known threaded (Flask) shape and a known async one.
YARDSTICKS = (GATEWAY_PREFIX + "sync-optimized", GATEWAY_PREFIX + "async")
CEILING = "ceiling"
ROLES = ("target", "baseline", "candidate")
UNKNOWN = "unknown"  # the upstream latency of a target whose upstream is not the sweep's mock
MODELS_ENDPOINTS = ("chat-generations", "generations", "embeddings")
# Turns at the judged level: their spread is the noise of a comparison, with rounds - 1 degrees
# of freedom (4: a t quantile of 3.2, against 4.3 for 3 and 12.7 for 2).
ROUNDS = 4

# subject name (`gateway:<variant>` or a target's name) -> a context manager serving it,
# yielding it running (its URL, and its process id when the harness started it)
SubjectServer = Callable[[str], contextlib.AbstractContextManager[RunningTarget]]


@dataclass(frozen=True)
class SweepTarget:
    """A user's gateway in the sweep: its name (the `subject` label) and role. `behind_mock`:
    its upstream is the sweep's mock (latency set by the sweep, replies checked)."""

    name: str
    role: str = "target"
    behind_mock: bool = True


@dataclass(frozen=True)
class SweepPlan:
    """What to sweep (kept in every record's params)."""

    levels: tuple[int, ...] = DEFAULT_LEVELS
    upstream_latencies_ms: tuple[float, ...] = (200.0,)
    subjects: tuple[str, ...] = DEFAULT_SUBJECTS
    duration_s: float = 10.0
    targets: tuple[SweepTarget, ...] = ()
    rounds: int = ROUNDS  # turns each subject takes at the judged level (the pass's included)
    rounds_for: tuple[str, ...] | None = None  # the subjects taking them (None: every one)
    ceiling: bool = True
    model: str | None = None  # sent to targets; None: discovered (references: GATEWAY_MODEL)

    def __post_init__(self) -> None:
        if not self.subjects and not self.targets:
            raise UsageError("the sweep has no subject: name --subjects or a target")
        if not self.levels or min(self.levels) < 1:
            raise UsageError("--levels must be positive integers")
        if not self.upstream_latencies_ms or min(self.upstream_latencies_ms) <= 0:
            raise UsageError("--upstream-latency must be > 0 (Little's bound divides by it)")
        if self.duration_s <= 0:
            raise UsageError("--duration must be > 0")
        if self.rounds < 1:
            raise UsageError("--rounds must be at least 1")
        unknown = sorted(set(self.subjects) - set(DEFAULT_SUBJECTS))
        if unknown:
            raise UsageError(
                f"unknown subjects {unknown}: choose from {', '.join(DEFAULT_SUBJECTS)}"
            )
        check_targets(self)

    @property
    def over_http(self) -> bool:
        """True when a gateway or target is swept (the sweep's HTTP client is then measured)."""
        return bool(self.targets) or any(s not in CLIENTS for s in self.subjects)

    @property
    def all_subjects(self) -> tuple[str, ...]:
        """Every subject in the order measured at each level: ceiling, targets, references."""
        ceiling = (CEILING,) if self.ceiling and self.over_http else ()
        return (*ceiling, *(t.name for t in self.targets), *self.subjects)

    @property
    def steps(self) -> int:
        turns = len(self.levels) * len(self.all_subjects)
        turns += (self.rounds - 1) * len(self.in_rounds(self.all_subjects))
        return turns * len(self.upstream_latencies_ms)

    def in_rounds(self, names: Sequence[str]) -> list[str]:
        """Those of `names` that take the further rounds at the judged level."""
        return [n for n in names if self.rounds_for is None or n in self.rounds_for]

    def params(self) -> dict[str, Any]:
        """The plan as record params (levels ascending, as measured)."""
        return asdict(self) | {"levels": sorted(self.levels)}


def check_targets(plan: SweepPlan) -> None:
    """Targets need distinct names that no reference subject has, and a known role."""
    names = [t.name for t in plan.targets]
    if len(set(names)) < len(names) or set(names) & {*DEFAULT_SUBJECTS, CEILING}:
        raise UsageError(f"target names must differ from each other and from references: {names}")
    for target in plan.targets:
        if target.role not in ROLES:
            raise UsageError(f"target role {target.role!r} is not one of {', '.join(ROLES)}")
    uncontrolled = [t.name for t in plan.targets if not t.behind_mock]
    if uncontrolled and len(plan.upstream_latencies_ms) > 1:
        raise UsageError(
            f"several --upstream-latency values need the sfperf mock behind {uncontrolled[0]} "
            "(give --mock-url, or --launch it)"
        )


def littles_bound_rps(concurrency: int, upstream_latency_ms: float) -> float:
    """The most a closed loop of `concurrency` callers can do when each call takes L ms."""
    return concurrency / (upstream_latency_ms / 1000.0)


@dataclass(frozen=True)
class Measured:
    """One window of one subject, its replies' fidelity when they could be checked, and the
    CPU the client and (when the harness started it) the subject used over `span_s`."""

    window: Window
    fidelity: FidelityTally | None = None
    http: bool = False
    span_s: float = 0.0
    span_requests: int = 0  # answered over the span, warm-ups and stragglers included
    client_cpu_s: float | None = None
    subject_cpu: CpuUse | None = None
    upstream_429: int | None = None  # 429s the mock's journal shows in the window (None: unread)
    own_429: int | None = None  # kept replies the subject itself answered 429 with Retry-After
    crossed_uncalled: int | None = None  # kept replies crossed with no upstream call of their own


Measure = Callable[[int, float], Measured]


@dataclass
class SubjectRun:
    """A subject being swept: how to measure it, and the latency it showed alone (its first
    level), which stands in for L when its upstream is not the sweep's mock."""

    name: str
    kind: str
    measure: Measure
    role: str = ""
    controlled: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)  # e.g. how its model was chosen
    unloaded_ms: float = 0.0
    # How and when the subject's process exited, once it has (one the harness started).
    ended: Callable[[], ProcessExit | None] = field(default=lambda: None)
    gone: bool = False  # it exited at a level already measured: no later level is its own

    def labels(self, concurrency: int, latency_ms: float) -> dict[str, str]:
        latency = f"{latency_ms:g}" if self.controlled else UNKNOWN
        # A user's target is also labelled as load and card records are: `target`.
        own = {"target": self.name, "role": self.role} if self.kind == "target" else {}
        return {"subject": self.name, "kind": self.kind, **own,
                "concurrency": str(concurrency), "upstream_latency_ms": latency}  # fmt: skip

    def bound_latency_ms(self, latency_ms: float, window: Window) -> float:
        """L for Little's bound: the mock's, or this subject's own at its first level with a
        successful request."""
        if self.controlled:
            return latency_ms
        answered = [s.latency_ms for s in window.samples if s.ok]  # an error's speed is not L
        if not self.unloaded_ms and answered:
            self.unloaded_ms = statistics.median(answered)
        return self.unloaded_ms or latency_ms


def level_record(
    run: SubjectRun,
    concurrency: int,
    latency_ms: float,
    measured: Measured,
    *,
    environment: Environment,
    params: Mapping[str, Any],
    started_at: str = "",
) -> RunRecord:
    """One (subject, concurrency, L) point of the sweep as a RunRecord (internals.md, sweep)."""
    window = measured.window
    samples = window.samples
    failures = sum(not s.ok for s in samples)
    bound_ms = run.bound_latency_ms(latency_ms, window)
    series = [
        make_series("latency_ms", "ms", (s.latency_ms for s in samples)),
        make_series("ok", "count", (1.0 if s.ok else 0.0 for s in samples)),
        make_series("throughput_rps", "rps", (window.throughput_rps,)),
        make_series("errors", "count", (failures,)),
        make_series("error_rate", "ratio", (failures / len(samples) if samples else 0.0,)),
        make_series("littles_bound_rps", "rps", (littles_bound_rps(concurrency, bound_ms),)),
    ]
    if measured.http:
        series.append(make_series("status", "code", (s.status for s in samples)))
        series.append(make_series("retry_after_s", "s", (s.retry_after_s for s in samples)))
    if any(s.met_fault for s in samples):
        series.append(make_series("met_fault", "count", (float(s.met_fault) for s in samples)))
    if measured.upstream_429 is not None:
        series.append(make_series("upstream_429", "count", (measured.upstream_429,)))
    if measured.own_429 is not None:
        series.append(make_series("own_429", "count", (measured.own_429,)))
    if measured.crossed_uncalled is not None:
        series.append(make_series("crossed_uncalled", "count", (measured.crossed_uncalled,)))
    series += cpu_series(measured)
    extra: dict[str, Any] = {"bound_latency_ms": bound_ms}
    if measured.fidelity is not None:
        series += measured.fidelity.as_series()
        extra["fidelity"] = measured.fidelity.as_dict()
    return RunRecord(
        runner="sweep",
        scenario=SCENARIO,
        params={**params, **extra},
        environment=environment,
        series=tuple(series),
        labels=run.labels(concurrency, latency_ms),
        started_at=started_at,
        duration_s=window.duration_s,
        partial=not samples,
    )


@contextlib.contextmanager
def latency_restored(mock_url: str, timeout_s: float = 10.0) -> Iterator[None]:
    """Put the mock's latency settings back as they were once the block ends (the mock may be
    the user's own, serving other things after the sweep)."""
    admin = AdminClient(mock_url, timeout_s=timeout_s)
    before = dict(admin.config().get("latency", {}))
    try:
        yield
    finally:
        now = admin.config().get("latency", {})
        admin.patch_config({"latency": dict.fromkeys(now) | before})


def cpu_series(measured: Measured) -> list[Series]:
    """CPU seconds over the measurement's span: the client's, and the subject's (all its
    processes, and its busiest one) when the harness started it."""
    if measured.client_cpu_s is None:
        return []
    series = [
        make_series("cpu_span_s", "s", (measured.span_s,)),
        make_series("span_requests", "count", (measured.span_requests,)),
        make_series("client_cpu_s", "s", (measured.client_cpu_s,)),
    ]
    if measured.subject_cpu is not None:
        series.append(make_series("subject_cpu_s", "s", (measured.subject_cpu.total_s,)))
        used = measured.subject_cpu
        series.append(make_series("subject_busiest_cpu_s", "s", (used.busiest_s,)))
        series.append(make_series("subject_busiest_wait_s", "s", (used.busiest_wait_s,)))
    return series


def set_upstream_latency(mock_url: str, latency_ms: float, timeout_s: float = 10.0) -> None:
    """Make every Models endpoint of the mock answer after a fixed `latency_ms`, whatever model
    a gateway asks for (a profile's per-model latency is dropped: it would take precedence)."""
    admin = AdminClient(mock_url, timeout_s=timeout_s)
    current = admin.config().get("latency", {})
    patch: dict[str, str | None] = {k: None for k in current if k not in ("token", "feedback")}
    patch |= dict.fromkeys(MODELS_ENDPOINTS, f"fixed:{latency_ms:g}ms")
    admin.patch_config({"latency": patch})


def run_sweep(
    plan: SweepPlan,
    mock_url: str,
    serve: SubjectServer,
    *,
    advance: Advance = no_progress,
    keep: Keep = keep_nothing,
    chosen: Mapping[str, ModelChoice] | None = None,
) -> list[RunRecord]:
    """Sweep every subject over every level and upstream latency, then take the plan's further
    rounds at the judged level (`judged_level`); each point goes to `keep` as soon as it is
    measured, and Ctrl-C keeps what is done. `chosen`: models already chosen per target name
    (validate's discover step), sent without a new probe."""
    environment = capture_environment()
    records: list[RunRecord] = []

    def take(run: SubjectRun, level: int, latency_ms: float, round_: int = 0) -> RunRecord | None:
        if run.gone:  # every request would be refused: not the subject's failure under load
            advance(1, "")
            return None
        turn = f" round {round_ + 1}/{plan.rounds}" if round_ else ""
        advance(0, f"sweep {run.name} N={level} L={latency_ms:g}ms{turn}")
        began_s = time.time()  # before the window: judging it after it ended takes a while
        record = measure_level(plan, run, level, latency_ms, environment, round_)
        record = with_exit(run, record, began_s)
        records.append(record)
        keep([record])
        advance(1, "")
        return record

    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(latency_restored(mock_url))
            runs = open_subjects(plan, mock_url, serve, stack, WindowJudge(mock_url),
                                 chosen=chosen)  # fmt: skip
            for latency_ms in plan.upstream_latencies_ms:
                set_upstream_latency(mock_url, latency_ms)
                levels = itertools.product(sorted(plan.levels), runs)
                passed = [r for level, run in levels if (r := take(run, level, latency_ms))]
                judged, paired = judged_level(passed), plan.in_rounds([r.name for r in runs])
                if judged is None:  # the client was the limit everywhere: nothing to judge
                    advance((plan.rounds - 1) * len(paired), "")
                    continue
                for round_, run in itertools.product(range(1, plan.rounds), runs):
                    if run.name in paired:
                        take(run, judged, latency_ms, round_)
    except KeyboardInterrupt:
        raise Interrupted(records) from None
    return records


def with_exit(run: SubjectRun, record: RunRecord, began_s: float) -> RunRecord:
    """`record` of the window that began at `began_s` (epoch s), partial and with params
    `target_exit`, when `run`'s process exited by its end (`run` is then `gone`: its later
    levels are not measured)."""
    ended = run.ended()
    if ended is None:
        return record
    run.gone = True
    level = f"the sweep's concurrency {record.labels.get('concurrency')}"
    answered = sum(1 for status in record.get("status").values if status) if (
        "status" in record.series_names) else 0  # fmt: skip
    exit_ = exit_params(ended, level, began_s, answered)
    return replace(record, params={**record.params, TARGET_EXIT: exit_}, partial=True)


def judged_level(records: Sequence[RunRecord]) -> int | None:
    """The highest level measured where the sweep's own client was no subject's limit, where
    concurrency claims are judged (`at_max`); None when it was the limit at every level."""
    held = set().union(*client_bound_levels(records).values())
    levels = {int(float(r.labels.get("concurrency", "0"))) for r in records}
    return max(levels - held, default=None)


def measure_level(
    plan: SweepPlan,
    run: SubjectRun,
    level: int,
    latency_ms: float,
    environment: Environment,
    round_: int = 0,
) -> RunRecord:
    """Measure one point (in its `round_`, from 0) and make its record."""
    started_at, load_at_start = now_iso(), load_average()
    measured = run.measure(level, plan.duration_s)
    params = {**plan.params(), **run.params, "upstream_latency_ms": latency_ms, "round": round_,
              MACHINE_LOAD: machine_load(load_at_start)}  # fmt: skip
    return level_record(
        run, level, latency_ms, measured,
        environment=environment, params=params, started_at=started_at,
    )  # fmt: skip


def open_subjects(
    plan: SweepPlan,
    mock_url: str,
    serve: SubjectServer,
    stack: contextlib.ExitStack,
    judge: WindowJudge | None,
    *,
    choose_model: Callable[[RunningTarget, str | None, str], ModelChoice] | None = None,
    chosen: Mapping[str, ModelChoice] | None = None,
) -> list[SubjectRun]:
    """A SubjectRun per subject of the plan, in the plan's order; gateways and targets are
    served until `stack` ends; `judge` judges the replies of those behind the mock. A target's
    model: `chosen[name]` when given (a second probe could be answered from the target's own
    cache), else `choose_model(running, requested, mock_url)` (default `target_model`)."""
    choose = choose_model or target_model
    known: Mapping[str, ModelChoice] = chosen or {}
    prompts = prompt_numbers()
    runs: list[SubjectRun] = []
    if CEILING in plan.all_subjects:
        ceiling = mock_subject(mock_url, prompts)
        # Behind a mock that injects faults, the ceiling's own failures are set apart too, so
        # it stays the client's reach a subject is held against.
        faulty = judge is not None and bool(read_mock_faults(mock_url))
        flags = FaultFlags(mock_url) if faulty else None
        runs.append(SubjectRun(CEILING, "ceiling", http_measure(ceiling, None, None, flags)))
    for target in plan.targets:
        running = stack.enter_context(serve(target.name))
        choice = known.get(target.name) or choose(
            running, plan.model, mock_url if target.behind_mock else ""
        )
        subject = chat_subject(running.url, choice.model or "", prompts, running.headers,
                               running.tls)  # fmt: skip
        measure = http_measure(subject, judge if target.behind_mock else None, running.pid)
        runs.append(SubjectRun(target.name, "target", measure, target.role, target.behind_mock,
                               choice.as_params(), ended=running.ended))  # fmt: skip
    for name in plan.subjects:
        if name in CLIENTS:
            runs.append(SubjectRun(name, "client", client_measure(name, mock_url, plan)))
            continue
        running = stack.enter_context(serve(name))
        subject = chat_subject(running.url, GATEWAY_MODEL, prompts)
        measure = http_measure(subject, judge, running.pid)
        runs.append(SubjectRun(name, "gateway", measure, params={"model": GATEWAY_MODEL},
                               ended=running.ended))  # fmt: skip
    return runs


def target_model(running: RunningTarget, requested: str | None, mock_url: str) -> ModelChoice:
    """The model a target is sent: `requested` if it works, else the first it serves that
    does; UsageError (with what each probe got) when none works."""
    choice = discover_model(running.url, requested=requested, mock_url=mock_url,
                            headers=running.headers, tls=running.tls)  # fmt: skip
    if choice.model is None:
        raise UsageError(choice.reason)
    return choice


def prompt_numbers() -> Iterator[int]:
    """Prompt numbers no earlier run used, so no gateway can answer a sweep from a cache."""
    return itertools.count(secrets.randbelow(10**9) * 10**6)


def client_measure(name: str, mock_url: str, plan: SweepPlan) -> Measure:
    pool_size = max(plan.levels)
    return lambda level, duration_s: Measured(
        measure_client(name, mock_url, level, duration_s, pool_size)
    )


def http_measure(
    subject: HttpSubject,
    judge: WindowJudge | None,
    pgid: int | None,
    faults: FaultFlags | None = None,
) -> Measure:
    """Measure over HTTP, counting the CPU of the client and of process group `pgid` (the
    subject, when the harness started it); with a judge, every kept reply is judged once the
    window is over (`sweepjoin`), and a measured request judged wrong is not ok; without one,
    `faults` flags the requests that met a fault the mock injected."""

    def measure(level: int, duration_s: float) -> Measured:
        before = snapshot(pgid) if pgid else None
        for watcher in (judge, faults):
            if watcher is not None:
                watcher.start()
        began_s, client_began_s = time.perf_counter(), time.process_time()
        result = measure_http(subject, level, duration_s)
        client_cpu_s = time.process_time() - client_began_s
        span_s = time.perf_counter() - began_s
        used = cpu_used(before, snapshot(pgid)) if before is not None and pgid else None
        if judge is None:
            window = faults.flag(result) if faults is not None else result.window
            return Measured(window, None, True, span_s, result.answered, client_cpu_s, used)
        window, tally = judge.judge(result)
        return Measured(window, tally, True, span_s, result.answered, client_cpu_s, used,
                        judge.upstream_429, judge.own_429, judge.crossed_uncalled)  # fmt: skip

    return measure


def reference_gateways(mock_url: str, run_dir: Path) -> SubjectServer:
    """A SubjectServer for `gateway:<variant>`: that reference variant as its own process,
    against the mock (logs in `run_dir`)."""

    @contextlib.contextmanager
    def open_variant(subject: str) -> Iterator[RunningTarget]:
        variant = subject.removeprefix(GATEWAY_PREFIX)
        spec = TargetSpec(variant=variant, name=f"gateway-{variant}")
        with open_target(spec, mock_url=mock_url, run_dir=run_dir) as running:
            yield running

    return open_variant


@dataclass(frozen=True)
class SweepServices:
    """What a sweep runs against: the mock, and how to serve any subject."""

    mock_url: str
    serve: SubjectServer


@contextlib.contextmanager
def sweep_services(
    specs: Mapping[str, TargetSpec],
    run_dir: Path,
    *,
    seed: int,
    mock_url: str = "",
    mock_profile: str = "default",
) -> Iterator[SweepServices]:
    """The mock (`mock_url`, or one started for the block) and a server for every subject:
    the users' targets (`specs` by subject name) and the reference gateway variants."""
    with contextlib.ExitStack() as stack:
        if not mock_url:
            mock_url = stack.enter_context(start_mock(run_dir, profile=mock_profile, seed=seed)).url
        references = reference_gateways(mock_url, run_dir)
        upstream = mock_url

        @contextlib.contextmanager
        def serve(subject: str) -> Iterator[RunningTarget]:
            if subject not in specs:
                with references(subject) as reference:
                    yield reference
                return
            with open_target(specs[subject], mock_url=upstream, run_dir=run_dir) as running:
                yield running

        yield SweepServices(mock_url, serve)


def sweep_targets(
    targets: Sequence[tuple[TargetSpec, str]], *, mock_given: bool
) -> dict[str, tuple[TargetSpec, SweepTarget]]:
    """{subject name: (spec, SweepTarget)} for (spec, role) pairs. A launched target calls the
    sweep's mock; a running URL does only when its mock was given (`--mock-url`)."""
    counts = Counter(spec.name for spec, _ in targets)
    swept = {}
    for spec, role in targets:
        name = spec.name if counts[spec.name] == 1 else f"{spec.name} ({role})"
        behind_mock = mock_given or spec.kind != "url"
        swept[name] = (spec, SweepTarget(name, role, behind_mock))
    return swept


def sweep_subjects(text: str) -> tuple[str, ...]:
    """`sync-wrapper,async,sync-legacy` -> subject names; a variant no client shares may go bare."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    bare = set(GATEWAY_VARIANTS) - set(CLIENTS)
    return tuple(GATEWAY_PREFIX + name if name in bare else name for name in names)


def sweep_levels(text: str) -> tuple[int, ...]:
    """`1,2,4,8` -> (1, 2, 4, 8); UsageError for anything else."""
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--levels takes comma-separated integers, got {text!r}") from None
    return levels
