"""`sfperf validate`, the main job: every runner, the claim ledger and one report.

The pipeline reads top to bottom in `run_validate`: (a user's target: discover its model) ->
micro -> simulate -> load -> sweep -> profile -> resilience (the mock grades each target) ->
claims (the seed ledger on everything; the gateway ledger on each user target) -> report. Each
step saves its records as soon as it has them, so a crash or Ctrl-C in a later step loses
nothing measured; a step that fails is written down in the report and the run is marked partial;
a step a target cannot take (no model it serves works) is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from harness.errors import RunFailed, Unavailable
from harness.exits import exits_said
from harness.findings.journal import journal_position
from harness.records import RunRecord
from harness.runners.load import LoadPlan, LoadTarget, run_load, serve_target
from harness.runners.support.interrupted import Interrupted, Keep
from harness.runners.support.openloop import OPEN_STALL_S, users_for
from harness.shutdown import Stopped, stop_reason
from harness.store import append_records, atomic_write_text, load_records
from harness.targets import TargetSpec
from harness.targets.discovery import DEFAULT_MODEL, ModelChoice
from scenarios import scenario_path

if TYPE_CHECKING:  # the sweep runner is imported when its step runs
    from harness.runners.sweep import SweepPlan

SEED_LEDGER = scenario_path("claims", "seed.toml")
GATEWAY_LEDGER = scenario_path("claims", "gateway.toml")
# they send the target chat requests
TARGET_STEPS = frozenset({"load", "sweep", "profile", "resilience"})
REFERENCE_VARIANTS = ("sync-legacy", "sync-optimized", "async", "async-batching")
STEP_NAMES = ("micro", "simulate", "load", "sweep", "profile", "resilience")
LEAD_WINDOWS = ("steady", "streaming", "open")
STEPS_FILE = "steps.json"
# A step the user's signal stopped (`stopped` in its steps.json entry, beside its `error`): the
# one running, or one that never started. Neither is the step's failure.
CUT_SHORT, NOT_RUN = "cut short", "not run"
T = TypeVar("T")


@dataclass(frozen=True)
class ValidatePlan:
    """What `sfperf validate` measures: the reference variants, or one user target."""

    quick: bool = False
    seed: int = 1234
    targets: tuple[TargetSpec, ...] = tuple(TargetSpec(variant=v) for v in REFERENCE_VARIANTS)
    mock_url: str = ""  # the sfperf mock behind a --target-url, when there is one
    extractors: tuple[str, ...] = ("legacy", "priority")
    ledger: Path = SEED_LEDGER
    model: str = ""  # --model: what to send a user's target ("": discover it)
    target_ledgers: tuple[Path, ...] = (GATEWAY_LEDGER,)  # evaluated on each user target alone
    choices: Mapping[str, ModelChoice] = field(default_factory=dict)  # by target name
    steps: tuple[str, ...] = ()  # --steps: run only these (default: every step)
    # Shorter runs than --quick's, for tests: {"load": s, "resilience": s}; and the load windows
    # of the lead target (a subset of LEAD_WINDOWS).
    durations_s: Mapping[str, float] = field(default_factory=dict)
    lead_windows: tuple[str, ...] = LEAD_WINDOWS
    mock_profile: str = "default"  # the mock behind discovery and the load windows (a name or file)

    @property
    def embedded(self) -> bool:
        """True when the targets are the reference variants (the out-of-the-box default)."""
        return all(t.kind == "variant" for t in self.targets)

    def choice_for(self, spec: TargetSpec) -> ModelChoice:
        """The model to send `spec` (the references serve every standard name)."""
        return self.choices.get(spec.name) or ModelChoice.given(self.model or DEFAULT_MODEL)

    @property
    def measurable(self) -> tuple[TargetSpec, ...]:
        """The targets that have a model to send."""
        return tuple(t for t in self.targets if self.choice_for(t).model is not None)

    def skip_reason(self, step: str) -> str:
        """Why `step` cannot run at all (empty when it can)."""
        if step not in TARGET_STEPS or self.measurable:
            return ""
        # The full reason (each probe's status and body) is said once: by discover, on the card.
        said = (self.choice_for(t).not_measured(t.name) for t in self.targets)
        return f"{'; '.join(said)} (see discover)"

    @property
    def load_duration_s(self) -> float:
        return self.durations_s.get("load") or (5.0 if self.quick else 30.0)

    @property
    def resilience_duration_s(self) -> float:
        # 150 s is the shortest run whose 45 s hangs can tell a missing read timeout apart.
        return self.durations_s.get("resilience") or (10.0 if self.quick else 150.0)


@dataclass
class StepLog:
    """What each step did: seconds taken, records made, and the error if it failed or stopped."""

    steps: list[dict[str, object]] = field(default_factory=list)
    stopped: str = ""  # how the run was stopped, e.g. "stopped by SIGTERM"

    @property
    def failed(self) -> list[str]:
        return [str(s["step"]) for s in self.steps if s.get("error")]

    @property
    def skipped(self) -> list[str]:
        return [str(s["step"]) for s in self.steps if s.get("skipped")]

    @property
    def unmeasured(self) -> list[str]:
        """Steps that ran and kept records but measured nothing of what they are for."""
        return [str(s["step"]) for s in self.steps if s.get("not_measured")]


Step = Callable[[ValidatePlan, Path, Keep], list[RunRecord]]


# The modules each step and the end of a run import, imported as the run starts: with an editable
# install, code that changes under a long run (a `git pull`) must not break its report (R71).
MODULES = {
    "discover": ("harness.card.discover", "harness.card.measures", "harness.card.window"),
    "micro": ("harness.runners.micro",),
    "simulate": ("harness.runners.simulate", "harness.runners.support.workloads"),
    "sweep": ("harness.runners.sweep", "harness.runners.support.capacity"),
    "profile": ("harness.runners.profiling",),
    "resilience": ("harness.runners.resilience",),
    "finish": (
        "harness.card.ledger",
        "harness.claims.ledger",
        "harness.claims.verdicts",
        "reports.render",
    ),
}


def preload(steps: Sequence[str]) -> None:
    """Import the modules of `steps` and of the run's end now (`MODULES`)."""
    for step in [*steps, "discover", "finish"]:
        for name in MODULES.get(step, ()):
            # One that fails now fails again where it is needed, as that step's error.
            with contextlib.suppress(Exception):
                import_module(name)


def pipeline() -> list[tuple[str, Step]]:
    """The steps of `sfperf validate`, in the order they run."""
    return [
        ("micro", micro_step),
        ("simulate", simulate_step),
        ("load", load_step),
        ("sweep", sweep_step),
        ("profile", profiling_step),
        ("resilience", resilience_step),
    ]


def run_validate(
    plan: ValidatePlan,
    run_dir: Path,
    *,
    say: Callable[[str], None],
    steps: Sequence[tuple[str, Step]] = (),
) -> StepLog:
    """Run every step (`steps`, default: the `pipeline()`) into `run_dir`, evaluate the ledger,
    write the report; returns the log.

    A stop (Ctrl-C, SIGTERM) still writes the step log and a partial report of what was saved,
    then raises `Stopped`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = StepLog()
    chosen = [(name, step) for name, step in steps or pipeline()
              if not plan.steps or name in plan.steps]  # fmt: skip
    preload([name for name, _ in chosen])
    try:
        if not plan.embedded:
            plan = discover_step(plan, run_dir, log, say)
        for name, step in chosen:
            run_step(name, step, plan, run_dir, log, say)
    except KeyboardInterrupt:
        log.stopped = stop_reason()
        ran = {entry["step"] for entry in log.steps}
        log.steps += [{"step": name, "error": f"not run ({log.stopped})", "stopped": NOT_RUN}
                      for name, _ in chosen if name not in ran]  # fmt: skip
        count = finish(plan, run_dir, log, say)
        kept = f"kept {count} record(s), {STEPS_FILE} and a partial report in {run_dir}"
        raise Stopped(kept) from None
    finish(plan, run_dir, log, say)
    return log


def run_step(
    name: str,
    step: Step,
    plan: ValidatePlan,
    run_dir: Path,
    log: StepLog,
    say: Callable[[str], None],
) -> None:
    """Run one step, saving each sub-run as it ends; a failure is logged, not raised; a stop is
    logged, and raised once what the step measured is saved."""
    entry: dict[str, object] = {"step": name}
    if skipped := plan.skip_reason(name):
        log.steps.append(entry | {"records": 0, "duration_s": 0.0, "skipped": skipped})
        say(f"[{name}] skipped: {skipped}")
        return
    say(f"[{name}] running")
    started_s = time.monotonic()
    kept: set[str] = set()

    def keep(records: Sequence[RunRecord]) -> None:
        append_records(run_dir, records)
        kept.update(record.run_id for record in records)

    try:
        records = step(plan, run_dir, keep)
    except KeyboardInterrupt as stop:
        keep(stop.records if isinstance(stop, Interrupted) else [])
        entry |= {"records": len(kept), "duration_s": round(time.monotonic() - started_s, 2),
                  "error": stop_reason(), "stopped": CUT_SHORT}  # fmt: skip
        log.steps.append(entry)
        say(f"[{name}] {stop_reason()}: {len(kept)} record(s) kept")
        raise
    except Unavailable as missing:
        entry["skipped"] = str(missing)
        records = []
        say(f"[{name}] skipped: {missing}")
    except Exception as exc:  # a broken step must not cost the others' measurements
        entry["error"] = f"{type(exc).__name__}: {exc}"
        atomic_write_text(run_dir / "logs" / f"validate-{name}.txt", traceback.format_exc())
        records = []
        say(f"[{name}] FAILED: {entry['error']} (traceback in logs/validate-{name}.txt)")
    keep(records)
    entry |= {"records": len(kept), "duration_s": round(time.monotonic() - started_s, 2)}
    if why := not_measured(records):
        entry["not_measured"] = why
        say(f"[{name}] not measured: {why}")
    log.steps.append(entry)
    say(f"[{name}] {len(kept)} record(s) in {entry['duration_s']} s")


def not_measured(records: Sequence[RunRecord]) -> str:
    """Why a step's records hold nothing of what it measures, '' when they do: a profile whose
    serving processes left no samples keeps its load figures, but it is no profile (R112)."""
    profiles = [r for r in records if r.runner == "profile"]
    if not profiles or not all(r.params.get("profile_error") for r in profiles):
        return ""
    return "; ".join(f"{r.labels.get('variant', '?')}: {r.params['profile_error']}"
                     for r in profiles)  # fmt: skip


def finish(plan: ValidatePlan, run_dir: Path, log: StepLog, say: Callable[[str], None]) -> int:
    """Claims, the report, the step log, and `results/latest` pointing at this run; returns the
    number of records the run saved. A ledger or renderer that breaks (even on import) is a failed
    step of its own: the measurements stay in results.json and a bare report says what broke."""
    # The step log first: it is small, and what a stopped run most needs to leave behind.
    atomic_write_text(run_dir / STEPS_FILE, json.dumps({"steps": log.steps}, indent=2))
    records = load_records(run_dir) if (run_dir / "results.json").exists() else []
    guard = partial(guarded, log=log, run_dir=run_dir, say=say)
    if guard("report", lambda: render(plan, run_dir, records, log, say)) is None:
        write_bare_report(run_dir, log, report_title(plan, log), len(records))
    if log.failed:  # the log again, with what broke after the steps
        atomic_write_text(run_dir / STEPS_FILE, json.dumps({"steps": log.steps}, indent=2))
    point_latest(run_dir)
    say(f"report: {run_dir / 'report.md'} and {run_dir / 'index.html'}")
    return len(records)


def render(
    plan: ValidatePlan,
    run_dir: Path,
    records: list[RunRecord],
    log: StepLog,
    say: Callable[[str], None],
) -> list[Path]:
    """Evaluate the claims and the targets' cards (each a failed step of its own if it breaks)
    and write the report; returns the files written."""
    from harness.card.ledger import evaluate_cards
    from harness.claims.verdicts import count_verdicts, evaluate_run
    from reports.render import write_report

    guard = partial(guarded, log=log, run_dir=run_dir, say=say)
    verdicts = guard("claims", lambda: evaluate_run(run_dir, records, plan.ledger)) or []
    users = [t.name for t in plan.targets if t.kind != "variant"]

    def ledger_broke(path: Path, error: Exception) -> None:
        guard(f"card-{path.stem}", partial(reraise, error))

    cards = guard("card", lambda: evaluate_cards(run_dir, records, users, plan.target_ledgers,
                                                 broken=ledger_broke))  # fmt: skip
    for target, card in (cards or {}).items():
        say(f"[card] {target}: {count_verdicts(card)}")
    # Beside a user's gateway the seed ledger's counts are about sfperf's own code (R109).
    whose = "seed report on sfperf's reference code: " if users else ""
    say(f"[claims] {whose}{count_verdicts(verdicts)}")
    return write_report(run_dir, records, claims=verdicts, cards=cards,
                        title=report_title(plan, log))  # fmt: skip


def guarded(
    name: str,
    work: Callable[[], T],
    *,
    log: StepLog,
    run_dir: Path,
    say: Callable[[str], None],
) -> T | None:
    """`work()`, or None when it raised: then a failed step `name` in the log, its traceback in
    `logs/validate-NAME.txt`."""
    try:
        return work()
    except Exception as exc:  # what was measured must outlive a broken ledger or renderer
        error = f"{type(exc).__name__}: {exc}"
        atomic_write_text(run_dir / "logs" / f"validate-{name}.txt", traceback.format_exc())
        log.steps.append({"step": name, "records": 0, "duration_s": 0.0, "error": error})
        say(f"[{name}] FAILED: {error} (traceback in logs/validate-{name}.txt)")
        return None


def reraise(error: Exception) -> None:
    """Raise `error` again (to log it as a failed step, traceback and all)."""
    raise error


def write_bare_report(run_dir: Path, log: StepLog, title: str, records: int) -> None:
    """A report.md and index.html without the renderer: what broke, the steps, where the data is."""
    import html

    rows = [f"| {s['step']} | {s.get('records', 0)} | {s.get('duration_s', 0)} | "
            f"{s.get('error') or s.get('skipped') or s.get('not_measured') or 'ok'} |"
            for s in log.steps]  # fmt: skip
    text = "\n".join([
        f"# {title}", "",
        f"The full report could not be rendered (see the report step below). All {records} "
        f"record(s) are in results.json; `sfperf report {run_dir}` renders them again.", "",
        "| step | records | seconds | outcome |", "|---|---|---|---|", *rows, "",
    ])  # fmt: skip
    atomic_write_text(run_dir / "report.md", text)
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
    atomic_write_text(run_dir / "index.html", f"{page}<pre>{html.escape(text)}</pre>\n")


def exit_status(log: StepLog) -> int:
    """0 when every step ran, or was skipped for a reason the report gives (a target that serves
    no model, a profiler missing from its interpreter: things measured as far as they can be);
    1 when a step failed (its error in steps.json, the report's title says PARTIAL)."""
    return 1 if log.failed else 0


def report_title(plan: ValidatePlan, log: StepLog) -> str:
    subject = "reference gateways" if plan.embedded else ", ".join(t.name for t in plan.targets)
    partial = f" (PARTIAL: {', '.join(log.failed)} failed)" if log.failed else ""
    if (log.skipped or log.unmeasured) and not log.failed:
        said = [f"{', '.join(names)} {word}" for names, word in
                ((log.skipped, "skipped"), (log.unmeasured, "not measured")) if names]  # fmt: skip
        partial = f" (PARTIAL: {'; '.join(said)})"
    if log.stopped:
        unfinished = ("error", "skipped", "not_measured")
        done = [str(s["step"]) for s in log.steps if not any(map(s.get, unfinished))]
        partial = f" (PARTIAL: {log.stopped}; completed: {', '.join(done) or 'none'})"
    return f"sfperf validate{' --quick' if plan.quick else ''}: {subject}{partial}"


def point_latest(run_dir: Path) -> None:
    """Make `<results>/latest` a symlink to `run_dir`, replaced atomically."""
    latest = run_dir.parent / "latest"
    temporary = run_dir.parent / f".latest.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(temporary, latest)


# -- the steps ---------------------------------------------------------------------------------


def discover_step(
    plan: ValidatePlan, run_dir: Path, log: StepLog, say: Callable[[str], None]
) -> ValidatePlan:
    """Ask each user target which model to send (`harness.targets.discovery`): the plan with
    its choices, and a `discover/models` record per target saying what was chosen and how."""
    from harness.card.discover import discover_journaled, discovery_record
    from harness.card.measures import journal_record
    from harness.findings.mock_faults import read_mock_faults

    if plan.mock_url and (faults := read_mock_faults(plan.mock_url)):
        say(f"[discover] {faults.notice()}")
    say("[discover] asking each target which model it serves")
    started_s = time.monotonic()
    choices: dict[str, ModelChoice] = {}
    records: list[RunRecord] = []
    for spec in plan.targets:
        choice, journal = discover_journaled(
            spec, run_dir / "discover" / spec.name, seed=plan.seed, mock_url=plan.mock_url,
            requested=plan.model, mock_profile=plan.mock_profile,
        )  # fmt: skip
        choices[spec.name] = choice
        chosen = f"model {choice.model!r} ({choice.source})" if choice.model else choice.reason
        flaw = f", but {choice.flaw}" if choice.flaw else ""
        say(f"[discover] {spec.name}: {chosen}{flaw}")
        records.append(discovery_record(spec.name, choice))
        # Its token sends are graded like a window's (a stale token on disk goes up here).
        if journal is not None:
            records.append(journal_record(journal, target=spec.name, window="discover"))
    append_records(run_dir, records)
    entry: dict[str, object] = {"step": "discover", "records": len(records),
                                "duration_s": round(time.monotonic() - started_s, 2)}  # fmt: skip
    if errors := [c.error for c in choices.values() if c.error]:
        entry["error"] = "; ".join(errors)
    log.steps.append(entry)
    return replace(plan, choices=choices)


def tagged(records: Sequence[RunRecord], choice: ModelChoice) -> list[RunRecord]:
    """Records made on a target, with the model sent and how it was chosen in their params."""
    return [replace(r, params={**r.params, **choice.as_params()}) for r in records]


def micro_step(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
    from harness.runners.micro import MicroPlan, run_micro

    return run_micro(
        MicroPlan(extractors=plan.extractors, quick=plan.quick, seed=plan.seed), run_dir
    )


def simulate_step(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
    from harness.runners.simulate import run_simulation
    from harness.runners.support.workloads import load_workload

    workload = load_workload("seed-report")
    return run_simulation(replace(workload, seed=plan.seed))


def load_step(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
    """Closed-loop `steady` on every target, plus `streaming` and an open loop on the lead one
    (the async reference, or the user's); one mock and target serve all of a target's runs."""
    lead = next((t for t in plan.targets if t.variant == "async"), plan.targets[0])
    records: list[RunRecord] = []
    for spec in plan.measurable:
        directory = run_dir / "load" / spec.name
        choice = plan.choice_for(spec)
        since = journal_position(plan.mock_url) if plan.mock_url else 0  # a fresh mock: all
        with serve_target(
            spec, directory, seed=plan.seed, mock_url=plan.mock_url, mock_profile=plan.mock_profile
        ) as target:
            # A user's target: its card counts per request, so its one-off work goes first.
            warm_s = 0.0
            if spec.kind != "variant":
                warm_s, warmed = warmed_up(target, str(choice.model), since)
                keep(warmed)
                records += warmed
            for load in load_plans(plan, lead=spec == lead):
                where = directory / f"{load.scenario}-{load.mode}"
                sent = replace(load, model=str(choice.model),
                               model_upstream=choice.upstream_of(str(choice.model)))  # fmt: skip
                run = partial(run_load, sent, target, where)
                finish = partial(made_on_target, directory=where, run_dir=run_dir, choice=choice,
                                 warm_s=warm_s)  # fmt: skip
                records += kept_in(keep, run, finish)
                if exited := exits_said(records):  # what came after would all be refused
                    raise RunFailed(exited[0])
    return records


def warmed_up(target: LoadTarget, model: str, since: int | None) -> tuple[float, list[RunRecord]]:
    """The warm-up before a user's target's first window (seconds), and the token sends of its
    start and warm-up as a `card` journal record (none without a mock to ask)."""
    from harness.card.measures import journal_record
    from harness.card.window import journal_since, warm_up

    warm_s = warm_up(target.url, model, headers=target.headers, tls=target.tls)
    journal, lost = journal_since(target.mock_url, since) if target.mock_url else (None, False)
    if journal is None:
        return warm_s, []
    return warm_s, [journal_record(journal, target=target.name, window="warm-up", partial=lost)]


def load_plans(plan: ValidatePlan, *, lead: bool) -> list[LoadPlan]:
    """`steady` for every target; the lead also gets `streaming` and a Poisson open loop, with
    users enough to keep its rate while each request takes as long as the client waits (the
    mock's own latency alone, ~1 s a chat call, outlasts a user per request per second)."""
    users = 5 if plan.quick else 20
    steady = LoadPlan("steady", users=users, spawn_rate=users, duration_s=plan.load_duration_s,
                      seed=plan.seed)  # fmt: skip
    if not lead:
        return [steady]
    rate_rps = 20.0 if plan.quick else 100.0
    open_users = users_for(rate_rps, min(plan.load_duration_s, OPEN_STALL_S), least=users * 4)
    windows = {
        "steady": steady,
        "streaming": replace(steady, scenario="streaming"),
        "open": replace(steady, users=open_users, spawn_rate=open_users, arrival="poisson",
                        rate_rps=rate_rps),
    }  # fmt: skip
    return [windows[name] for name in plan.lead_windows]


def rebase(records: Sequence[RunRecord], directory: Path, run_dir: Path) -> list[RunRecord]:
    """Records made in a subdirectory of the run, with their artifact paths made run-relative."""
    prefix = directory.relative_to(run_dir)
    return [replace(r, artifacts=tuple(str(prefix / a) for a in r.artifacts)) for r in records]


def kept_in(
    keep: Keep,
    run: Callable[[], list[RunRecord]],
    finish: Callable[[Sequence[RunRecord]], list[RunRecord]],
) -> list[RunRecord]:
    """`run()`'s records in their final form (`finish`), kept the moment the sub-run ends, even
    by an interrupt or a failure of its tool (`RunFailed`). They must be final when kept: a
    record is saved once (the first copy)."""
    try:
        records = finish(run())
    except (Interrupted, RunFailed) as stop:
        keep(finish(stop.records))
        raise
    keep(records)
    return records


def made_on_target(
    records: Sequence[RunRecord],
    *,
    directory: Path,
    run_dir: Path,
    choice: ModelChoice,
    warm_s: float = 0.0,
) -> list[RunRecord]:
    """Records made on a target in `directory`: rebased onto `run_dir`, tagged with the model
    sent, the card records with the seconds its warm-up took."""
    warmed = [replace(r, params={**r.params, "warm_up_s": round(warm_s, 3)})
              if r.runner == "card" else r for r in records]  # fmt: skip
    return tagged(rebase(warmed, directory, run_dir), choice)


def sweep_step(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
    """The concurrency sweep at 200 ms upstream: the reference clients and gateways, or the
    user's target with a threaded and an async reference gateway drawn beside it."""
    from harness.runners import sweep as runner
    from harness.runners.support.capacity import check_levels, client_capacity

    sweep, specs, chosen = sweep_setup(plan)
    check_levels(sweep.levels, client_capacity())
    with runner.sweep_services(specs, run_dir, seed=plan.seed, mock_url=plan.mock_url) as services:
        records = runner.run_sweep(sweep, services.mock_url, services.serve, keep=keep,
                                   chosen=chosen)  # fmt: skip
    if exited := exits_said(records):  # its points are kept; the step did not measure it all
        raise RunFailed(exited[0])
    return records


def sweep_setup(
    plan: ValidatePlan,
) -> tuple[SweepPlan, dict[str, TargetSpec], dict[str, ModelChoice]]:
    """What the sweep step measures: its plan, the user's targets by subject name, and the model
    discover chose for each, sent as it is: a second probe could be answered from a target's
    own reply cache and read as "never called the Models API" (R14)."""
    from harness.claims.ledger import compared_values, load_ledger
    from harness.runners import sweep as runner

    pairs = [] if plan.embedded else [(t, "target") for t in plan.measurable]
    targets = runner.sweep_targets(pairs, mock_given=bool(plan.mock_url))
    subjects = runner.DEFAULT_SUBJECTS if plan.embedded else runner.YARDSTICKS
    # Only the subjects the ledger compares take the further rounds: their verdicts need them.
    compared = compared_values(load_ledger(plan.ledger), "sweep", "subject") & set(subjects)
    sweep = runner.SweepPlan(
        levels=runner.QUICK_LEVELS if plan.quick else runner.DEFAULT_LEVELS,
        subjects=subjects,
        rounds=runner.ROUNDS if compared else 1,
        rounds_for=tuple(sorted(compared)),
        targets=tuple(target for _, target in targets.values()),
        duration_s=1.5 if plan.quick else 5.0,
        model=next((plan.choice_for(spec).model for spec, _ in pairs), None),
    )
    specs = {name: spec for name, (spec, _) in targets.items()}
    return sweep, specs, {name: plan.choice_for(spec) for name, spec in specs.items()}


def profiling_step(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
    """pyinstrument on the legacy and async references, or on a launched Python target."""
    from harness.runners.profiling import ProfilingPlan, run_profiling

    base = ProfilingPlan(seed=plan.seed)
    if plan.quick:
        base = replace(base, requests=400, max_duration_s=4.0)
    if plan.embedded:
        plans = [replace(base, variant=v) for v in ("sync-legacy", "async")]
    else:
        launched = [t for t in plan.measurable if t.kind == "launch"]
        if plan.measurable and not launched:
            raise Unavailable("a running target cannot be profiled (pyinstrument has to start "
                              "the program): give its command with --launch")  # fmt: skip
        plans = [replace(base, launch=t.command, target_url=t.url, headers=t.headers,
                         model=str(plan.choice_for(t).model), start_timeout_s=t.start_timeout_s)
                 for t in launched]  # fmt: skip
    if not plans:
        return []
    finish = partial(tagged_by_target, choices={t.name: plan.choice_for(t) for t in plan.targets})

    def keep_finished(records: Sequence[RunRecord]) -> None:
        keep(finish(records))

    return kept_in(keep, partial(run_profiling, plans, run_dir, keep=keep_finished), finish)


def tagged_by_target(
    records: Sequence[RunRecord], *, choices: Mapping[str, ModelChoice]
) -> list[RunRecord]:
    """Profile records with the model sent to their target (`variant` label) in their params."""
    return [tagged([r], choices[r.labels["variant"]])[0] if r.labels.get("variant") in choices
            else r for r in records]  # fmt: skip


def resilience_step(plan: ValidatePlan, run_dir: Path, keep: Keep) -> list[RunRecord]:
    """The `resilience` scenario against each target, graded by the mock behind it."""
    from harness.runners.resilience import run_resilience

    records: list[RunRecord] = []
    # Quick runs grade the two ends of the references: sync-legacy and async.
    quick_names = {"sync-legacy", "async"}
    targets = [t for t in plan.measurable if not (plan.quick and plan.embedded)
               or t.name in quick_names]  # fmt: skip
    for spec in targets:
        directory = run_dir / "resilience" / spec.name
        choice = plan.choice_for(spec)
        model = str(choice.model)
        run = partial(run_resilience, spec, directory, duration_s=plan.resilience_duration_s,
                      seed=plan.seed, mock_url=plan.mock_url, model=model,
                      model_upstream=choice.upstream_of(model))  # fmt: skip
        finish = partial(made_on_target, directory=directory, run_dir=run_dir, choice=choice)
        records += kept_in(keep, run, finish)
    return records


def stderr_say(message: str) -> None:
    """Progress lines for a person (stderr, so stdout stays clean)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)
