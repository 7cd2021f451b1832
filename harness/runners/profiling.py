"""The profiling runner (records with runner `profile`): pyinstrument on a gateway under a short,
bounded load on loopback.

The gateway (a reference variant, or a user's Python command) runs in a child process under
`harness.runners.support.profiler_child`; an aiohttp client sends a bounded number of chat
completions; when the child stops it saves the pyinstrument session, which becomes HTML and
text artifacts and a RunRecord holding the top functions' shares of the samples as
`share:<function>` series.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.blocking import PARAM as BLOCKING
from harness.blocking import client_calls
from harness.errors import UsageError
from harness.profile_packages import package_shares, show_pattern
from harness.records import (
    Environment,
    RunRecord,
    Series,
    capture_environment,
    make_series,
    now_iso,
)
from harness.runners.support.interrupted import Interrupted, Keep, keep_nothing
from harness.runners.support.profile_launch import env_prefix, python_program, target_interpreter
from harness.runners.support.profile_tree import (
    TreeProcess,
    per_request,
    scope_note,
    session_files,
    tree_processes,
)
from harness.runners.support.profiling_load import MODEL, LoadResult, drive_load
from harness.runners.support.progress import Advance, no_progress
from harness.shim import redirects_by_process
from harness.store import atomic_write_text
from harness.targets import TargetSpec, open_target, start_mock
from harness.targets.discovery import discover_model
from harness.targets.headers import Headers
from harness.targets.listening import connections_to, is_running
from harness.targets.process import Child, poll_until
from harness.targets.redaction import shown_command
from harness.targets.running import logs_dir, run_child, safe_name
from harness.targets.spec import START_TIMEOUT_S, gateway_packages
from harness.targets.tls import DEFAULT_TLS, TargetTls

PYINSTRUMENT_DIR = "profile"
PROFILER_CHILD = Path(__file__).resolve().parent / "support" / "profiler_child.py"
SUFFIXES = (".html", ".txt", ".pyisession")


@dataclass(frozen=True)
class ProfilingPlan:
    """What to profile (a reference `variant`, or `launch`: a Python command) and the load."""

    variant: str = "async"
    launch: str | None = None
    target_url: str | None = None  # where `launch` listens, if it prints no URL
    requests: int = 2000
    concurrency: int = 8
    max_duration_s: float = 10.0
    interval_s: float = 0.001
    mock_profile: str = "fast"
    top: int = 20
    seed: int = 1234
    # What the load asks the target for; "": MODEL for a reference variant, and for a launched
    # gateway the model discovery chooses on it (`--model` of validate and profile wins).
    model: str = ""
    # What every request to a launched target carries (`--target-header`): secrets, not shown.
    headers: Headers = field(default=(), repr=False)
    start_timeout_s: float = START_TIMEOUT_S  # a launched target's time to get ready
    tls: TargetTls = DEFAULT_TLS  # an https target's certificate checks (`--target-ca`...)

    @property
    def name(self) -> str:
        return TargetSpec(command=self.launch).name if self.launch else self.variant

    def as_params(self) -> dict[str, Any]:
        launch = shown_command(self.launch) if self.launch else self.launch  # (R143)
        return {"variant": self.variant, "launch": launch, "requests": self.requests,
                "concurrency": self.concurrency, "max_duration_s": self.max_duration_s,
                "interval_s": self.interval_s, "mock_profile": self.mock_profile,
                "top": self.top, "seed": self.seed, "model": self.model}  # fmt: skip


def profile_target(
    plan: ProfilingPlan,
    run_dir: Path,
    *,
    advance: Advance = no_progress,
    environment: Environment | None = None,
    mock_url: str | None = None,
) -> list[RunRecord]:
    """One `profile/gateway` record for the plan's target; Ctrl-C keeps it, marked partial.

    The target talks to a mock started for the run, or to `mock_url` when one is running.
    """
    if plan.launch:
        python_program(plan.launch)  # refuse a non-Python program before starting anything
    stem = safe_name(plan.name)
    session_path = run_dir / PYINSTRUMENT_DIR / f"{stem}.pyisession"
    session_path.parent.mkdir(parents=True, exist_ok=True)
    stale = [session_path, program_session(session_path), *ready_files(session_path),
             *session_files(session_path).values()]  # fmt: skip
    for path in stale:
        path.unlink(missing_ok=True)
    started_at = now_iso()
    with (
        upstream(plan, run_dir, mock_url) as mock,
        profiled_target(plan, mock, run_dir, session_path) as (url, io_report, pid),
    ):
        plan = replace(plan, model=model_for(plan, url, mock))
        load = drive_load(url, plan.requests, plan.concurrency, plan.max_duration_s, advance,
                          model=plan.model, headers=dict(plan.headers), tls=plan.tls)  # fmt: skip
        # Before it stops: which of its processes hold connections to the mock.
        port = urlsplit(mock).port
        held = connections_to(pid, port) if pid is not None and port is not None else {}
        if pid is not None:
            stop_workers_first(pid, held)
    record = make_record(plan, run_dir, session_path, load, environment or capture_environment(),
                         io_report=io_report, connections=held)  # fmt: skip
    record = replace(record, started_at=started_at, partial=record.partial or load.interrupted)
    if load.interrupted:
        raise Interrupted([record])
    return [record]


def model_for(plan: ProfilingPlan, url: str, mock_url: str) -> str:
    """The model to send: the plan's, MODEL to a reference variant, else the one discovery
    chooses on the launched gateway (its probes are a few requests of the profile); UsageError
    saying what each probe got when none works."""
    if plan.model or not plan.launch:
        return plan.model or MODEL
    choice = discover_model(url, mock_url=mock_url, headers=dict(plan.headers), tls=plan.tls)
    if choice.model is None:
        raise UsageError(f"{plan.name}: {choice.reason}; nothing profiled")
    return choice.model


def run_profiling(
    plans: Sequence[ProfilingPlan],
    run_dir: Path,
    *,
    advance: Advance = no_progress,
    environment: Environment | None = None,
    keep: Keep = keep_nothing,
) -> list[RunRecord]:
    """Profile several targets one after another against one mock (that of the first plan);
    each target's record goes to `keep` as soon as it is made.

    Ctrl-C raises `Interrupted` with every record made so far.
    """
    for plan in plans:
        if plan.launch:
            python_program(plan.launch)
    environment = environment or capture_environment()
    records: list[RunRecord] = []
    with upstream(plans[0], run_dir, None) as mock_url:
        for plan in plans:
            try:
                made = profile_target(
                    plan, run_dir, advance=advance, environment=environment, mock_url=mock_url
                )
            except Interrupted as stop:
                raise Interrupted(records + stop.records) from None
            keep(made)
            records += made
    return records


@contextmanager
def upstream(plan: ProfilingPlan, run_dir: Path, mock_url: str | None) -> Iterator[str]:
    """The mock's URL: the one given, or a mock started (and stopped) for this profile."""
    if mock_url:
        yield mock_url
        return
    with start_mock(run_dir, profile=plan.mock_profile, seed=plan.seed) as mock:
        yield mock.url


WORKER_SAVE_S = 5.0  # how long the workers that served get to save their sessions


def stop_workers_first(
    leader: int,
    workers: Iterable[int],
    *,
    grace_s: float = WORKER_SAVE_S,
    send: Callable[[int, int], None] = os.kill,
    running: Callable[[int], bool] = is_running,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[int]:
    """SIGTERM the processes that served (`workers`, the program's own `leader` aside) and wait
    until they are gone, `grace_s` at most; returns those still running. A reloader that kills
    its child when it is stopped itself (Django's runserver: `subprocess.run` kills on any
    exception) would otherwise cut the child's profile save short (R86)."""
    pids = [p for p in workers if p != leader]
    for worker in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            send(worker, signal.SIGTERM)
    poll_until(lambda: not any(map(running, pids)), timeout_s=grace_s, alive=lambda: True,
               clock=clock, sleep=sleep)  # fmt: skip
    return [p for p in pids if running(p)]


@contextmanager
def profiled_target(
    plan: ProfilingPlan, mock_url: str, run_dir: Path, session_path: Path
) -> Iterator[tuple[str, Path | None, int | None]]:
    """Start the target under the profiler child; yield its URL once ready (from then on the
    child keeps its samples), where the launch shim reports on its processes and the pid (the
    process group) of a launched one; stop it (saving the sessions). A launched program runs
    under its own interpreter (the one its command names)."""
    ready, _ = ready_files(session_path)
    options = ["--session", str(session_path), "--interval", str(plan.interval_s),
               "--ready-file", str(ready)]  # fmt: skip
    if plan.launch:
        interpreter = target_interpreter(plan.launch)
        wrapper = [interpreter, str(PROFILER_CHILD), *options]
        # `env X=1 python app.py`: env still runs it, now wrapped (its settings kept, R44).
        env_words = env_prefix(shlex.split(plan.launch))[0]
        command = shlex.join([*env_words, *wrapper, "--", *python_program(plan.launch)])
        spec = TargetSpec(command=command, url=plan.target_url, name=plan.name,
                          headers=plan.headers, start_timeout_s=plan.start_timeout_s,
                          tls=plan.tls)  # fmt: skip
        with open_target(spec, mock_url=mock_url, run_dir=run_dir) as target:
            ready.touch()
            yield target.url, target.io_report_path, target.pid
        return
    wrapper = [sys.executable, "-m", "harness.runners.support.profiler_child", *options]
    # The reference gateway waits for signals on its main thread and serves from others.
    program = ["-m", "harness.subjects.gateway", "--variant", plan.variant, "--upstream",
               mock_url, "--host", "127.0.0.1", "--port", "0"]  # fmt: skip
    log_path = logs_dir(run_dir) / f"gateway-{safe_name(plan.name)}.log"
    argv = [*wrapper, "--threads-only", "--", *program]
    child = Child(f"profiled gateway {plan.variant!r}", argv, log_path)
    with run_child(child) as url:
        ready.touch()
        yield url, None, None


def ready_files(session_path: Path) -> tuple[Path, Path]:
    """Where the harness says the target is ready, and where the child says what it cut."""
    return session_path.with_suffix(".ready"), session_path.with_suffix(".ready.json")


def start_up_params(session_path: Path) -> dict[str, Any]:
    """Whether the profile starts at readiness (`sampled_from`) and how much start-up was cut."""
    try:
        note = json.loads(ready_files(session_path)[1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        note = None
    if not isinstance(note, dict):
        return {"sampled_from": "start (start-up included)"}
    return {"sampled_from": "ready", "start_up_cut_s": float(note.get("start_up_cut_s", 0.0))}


def make_record(
    plan: ProfilingPlan,
    run_dir: Path,
    session_path: Path,
    load: LoadResult,
    env: Environment,
    *,
    io_report: Path | None = None,
    connections: Mapping[int, int] | None = None,
) -> RunRecord:
    """Render the saved sessions of the processes that served (`profile_tree`; `io_report`:
    the launch shim's, which says which called the upstream) and turn their top functions
    into `share:` series.

    A target that died without leaving a session, or whose serving processes left none, still
    yields its load measurements, in a record marked partial that says why it has no shares.
    """
    series = [
        make_series("latency_ms", "ms", load.latencies_ms),
        make_series("ok", "count", load.oks),
    ]
    params = plan.as_params() | {"requests_sent": len(load.oks), "load_duration_s": load.duration_s}
    params |= start_up_params(session_path)
    record = RunRecord(runner="profile", scenario="gateway", params=params, environment=env,
                       series=tuple(series), labels={"variant": plan.name},
                       duration_s=load.duration_s)  # fmt: skip
    try:
        processes = served_session(session_path, io_report, connections, len(load.oks))
        if not any(p.profiled for p in processes):
            raise ValueError(scope_note(processes, len(load.oks)))
        gateway = gateway_packages(python_program(plan.launch)) if plan.launch else []
        shares, profile_params = render_session(session_path, gateway)
    except (OSError, ValueError, KeyError) as exc:
        why = f"the profiled target left no profile ({exc}); see its log in {logs_dir(run_dir)}"
        return replace(record, params=params | {"profile_error": why}, partial=True)
    params |= {"processes": [p.as_params() for p in processes],
               "profiled_processes": scope_note(processes, len(load.oks)),
               "per_request_processes": per_request(processes, len(load.oks))}  # fmt: skip
    # The top list names where the work is; waiting is summed up once, as `idle_share`.
    busy = [(name, share) for name, share in shares if not is_idle(name)][: plan.top]
    stem = session_path.with_suffix("")
    artifacts = tuple(str(stem.with_suffix(s).relative_to(run_dir)) for s in SUFFIXES)
    share_series = tuple(Series(f"share:{name}", "ratio", (share,)) for name, share in busy)
    return replace(
        record,
        series=share_series + record.series,
        params=params | profile_params | {"idle_share": idle_share(shares)},
        artifacts=artifacts,
    )


def served_session(
    session_path: Path,
    io_report: Path | None,
    connections: Mapping[int, int] | None = None,
    requests: int = 0,
) -> list[TreeProcess]:
    """The tree's processes; when the profile is not the program's own session alone, the
    sessions of the processes that served combined into `session_path` (the program's own
    kept as `program_session`). A process served when the shim saw it call the upstream or,
    at the load's end, it held connections to the mock (`connections`, by pid); a program
    that started one for each of the `requests` served too (`profile_tree.per_request`)."""
    from pyinstrument.session import Session

    files = session_files(session_path)
    if not files:
        raise FileNotFoundError(session_path)
    sessions = {key: Session.from_json(json.loads(path.read_text(encoding="utf-8")))
                for key, path in files.items()}  # fmt: skip
    root_pid, calls = redirects_by_process(io_report) if io_report else (None, {})
    held = connections or {}
    calls = {pid: max(calls.get(pid, 0), held.get(pid, 0)) for pid in {*calls, *held}}
    helpers = [key for key, session in sessions.items() if is_helper(session.frame_records)]
    samples = {key: session.sample_count for key, session in sessions.items()}
    processes = tree_processes(samples, root_pid, calls, helpers, requests)
    keys = [None if p.role == "program" else p.pid for p in processes if p.profiled]
    if keys and keys != [None]:
        if None in sessions:
            shutil.copyfile(session_path, program_session(session_path))
        combined = functools.reduce(Session.combine, [sessions[key] for key in keys])
        atomic_write_text(session_path, json.dumps(combined.to_json()))
    return processes


# Modules of the processes multiprocessing starts for itself, which serve no request: a session
# spent in one of them alone is a helper's (one blocked sample of the resource tracker carried
# 27% of a merged Sanic profile's wall time: R80).
HELPER_MODULES = ("multiprocessing/resource_tracker.py", "multiprocessing/forkserver.py",
                  "multiprocessing/semaphore_tracker.py")  # fmt: skip


def is_helper(frame_records: Sequence[tuple[Sequence[str], float]]) -> bool:
    """True when every sample of a session is inside a multiprocessing helper."""
    return bool(frame_records) and all(
        any(module in frame for frame in stack for module in HELPER_MODULES)
        for stack, _ in frame_records
    )


def program_session(session_path: Path) -> Path:
    """Where the program's own session is kept when the profile is made of other processes."""
    return session_path.with_name(f"{session_path.stem}.program{session_path.suffix}")


def render_session(
    session_path: Path, gateway: Sequence[str] = ()
) -> tuple[list[tuple[str, float]], dict[str, Any]]:
    """Write the session's HTML and text beside it, the `gateway`'s packages shown though
    installed (pyinstrument hides site-packages as library code: R103); every function's
    share, and session facts: whose thread ran a synchronous HTTP client among them
    (`harness.blocking`), the working samples' shares by package."""
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
    from pyinstrument.session import Session

    session = Session.from_json(json.loads(session_path.read_text(encoding="utf-8")))
    stem = session_path.with_suffix("")
    pattern = show_pattern(gateway)
    options = {"show_regex": pattern} if pattern else None
    # The HTML page has its own view options (library code shown or not), the text has none.
    atomic_write_text(stem.with_suffix(".html"), HTMLRenderer().render(session))
    text = ConsoleRenderer(unicode=True, color=False, show_all=False,
                           processor_options=options).render(session)  # fmt: skip
    atomic_write_text(stem.with_suffix(".txt"), text)
    shares = top_shares(session.frame_records, session.shorten_path, top=None)
    name = functools.lru_cache(maxsize=None)(
        functools.partial(function_name, shorten=session.shorten_path)
    )
    calls = client_calls(([name(f) for f in stack], time_s) for stack, time_s
                         in session.frame_records)  # fmt: skip
    packages = package_shares(session.frame_records, idle=lambda leaf: is_idle(name(leaf)))
    return shares, {"sample_count": session.sample_count, "profile_duration_s": session.duration,
                    BLOCKING: calls.as_params(), "package_shares": packages,
                    "gateway_packages": list(gateway)}  # fmt: skip


def top_shares(
    frame_records: Sequence[tuple[Sequence[str], float]],
    shorten: Callable[[str], str],
    top: int | None,
) -> list[tuple[str, float]]:
    """The `top` functions (None: all) by self time, each with its share of all sampled time."""
    self_s: dict[str, float] = {}
    for stack, time_s in frame_records:
        if stack:
            name = function_name(stack[-1], shorten)
            self_s[name] = self_s.get(name, 0.0) + time_s
    total_s = sum(self_s.values())
    if total_s <= 0:
        return []
    ranked = sorted(self_s.items(), key=lambda item: item[1], reverse=True)[:top]
    return [(name, time_s / total_s) for name, time_s in ranked]


# Where a server thread waits for work rather than doing it (samples are wall time).
IDLE_FUNCTIONS = frozenset(
    {"epoll.poll", "poll.poll", "select.select", "kqueue.control", "lock.acquire", "sleep",
     "SimpleQueue.get", "socket.accept"}
)  # fmt: skip


def is_idle(name: str) -> bool:
    """True for a built-in that waits: an event loop's poll, a lock, a worker's queue, a sleep."""
    where, _, function = name.partition(":")
    return where == "<built-in>" and function in IDLE_FUNCTIONS


def idle_share(shares: Sequence[tuple[str, float]]) -> float:
    """The share of samples spent waiting rather than working."""
    return sum(share for name, share in shares if is_idle(name))


def function_name(identifier: str, shorten: Callable[[str], str]) -> str:
    """pyinstrument's frame identifier -> `short/path.py:Class.function` (`<built-in>:f`)."""
    head, *attributes = identifier.split("\x01")
    parts = head.split("\x00")
    if len(parts) < 2:
        return head
    function, path = parts[0], parts[1]
    owner = next((a[1:] for a in attributes if a.startswith("c")), "")
    where = path if path.startswith("<") else _relative(shorten(path))
    return f"{where}:{owner + '.' if owner else ''}{function}"


def _relative(path: str) -> str:
    """Paths inside this checkout relative to it (an editable install is not on sys.path)."""
    root = Path(__file__).resolve().parent.parent.parent
    candidate = Path(path)
    return str(candidate.relative_to(root)) if candidate.is_relative_to(root) else path
