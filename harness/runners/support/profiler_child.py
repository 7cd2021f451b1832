"""The profiled child: run a Python program under pyinstrument and save the session on exit.

    python -m harness.runners.support.profiler_child --session FILE [--interval S] [--threads-only]
        [--ready-file FILE] -- (-m MODULE | SCRIPT) [ARGS...]

A user's gateway is profiled under its own interpreter, which knows nothing of sfperf: that
interpreter runs this file by its path, so it imports only the standard library and pyinstrument,
and runs on Python 3.8 and later.

Every thread the program starts gets its own profiler (pyinstrument samples one thread per
profiler, and gateways serve from worker threads); at exit the sessions are combined into one
and saved atomically. SIGTERM ends the program like Ctrl-C so the session is always written.
With `--ready-file`, the harness creates that file when the program is ready to serve, and
only what was sampled from then on is kept (imports and start-up are not the profile under
load); how much was cut goes beside the session (`<session>.ready.json`).

Servers that serve from worker processes (hypercorn, gunicorn, `uvicorn --workers`) are profiled
in every process: a forked child starts its own profilers, and a fresh interpreter of the tree
(a spawned worker) is started profiling by the launch shim, which finds this file and its
options in `SFPERF_PROFILE_TREE`; each descendant saves `<session stem>.<pid>.pyisession` at
exit. Only this module and `harness.runners.profiling` import pyinstrument.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import json
import os
import runpy
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from pyinstrument import Profiler
from pyinstrument.session import Session


class SessionBox:
    """The sessions of every profiled thread, collected under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: list[Session] = []

    def add(self, session: Session) -> None:
        with self._lock:
            self._sessions.append(session)

    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._sessions)

    def combined(self, since_s: float | None = None) -> Session | None:
        """All sessions as one (aggregate views hold; timelines of threads are not merged),
        each cut to what it sampled from `since_s` on (wall clock) when given."""
        sessions = [s for s in (sampled_since(s, since_s) for s in self.sessions()) if s]
        # Combine in pairs: a Flask gateway leaves one session per request thread, and folding
        # them one by one would copy the growing sample list every time.
        while len(sessions) > 1:
            odd = sessions[-1:] if len(sessions) % 2 else []
            # Pairs by index: zip(strict=) is Python 3.10+, and this runs in the target's Python.
            pairs = range(0, len(sessions) - 1, 2)
            sessions = [Session.combine(sessions[i], sessions[i + 1]) for i in pairs] + odd
        return sessions[0] if sessions else None


def sampled_since(session: Session, since_s: float | None) -> Session | None:
    """The part of one thread's `session` sampled from `since_s` on; None when nothing was.
    A sample's time is the time since the one before it, so their running sum is the clock."""
    cut_s = (since_s or 0.0) - session.start_time
    if since_s is None or cut_s <= 0:
        return session
    kept, elapsed_s = [], 0.0
    for stack, time_s in session.frame_records:
        elapsed_s += time_s
        if elapsed_s > cut_s:
            kept.append((stack, time_s))
    if not kept:
        return None
    trimmed = copy.copy(session)
    trimmed.frame_records = kept
    trimmed.start_time, trimmed.sample_count = since_s, len(kept)
    trimmed.duration = max(session.duration - cut_s, 0.0)
    return trimmed


def ready_at(path: Path | None) -> float | None:
    """When the harness found the program ready (the ready file's mtime); None: not told."""
    try:
        return os.stat(path).st_mtime if path is not None else None
    except OSError:
        return None


# The profiler sampling each thread of this process (by thread id), so a forked child can stop
# the one it inherits on its forking thread before it starts its own.
_RUNNING: dict[int, Profiler] = {}


@contextmanager
def profiled(box: SessionBox, interval_s: float) -> Iterator[None]:
    """Profile the current thread for the block; its session goes into `box` (unless a fork
    of this process stopped it: the parent keeps those samples)."""
    profiler = Profiler(interval=interval_s, async_mode="enabled")
    profiler.start()
    _RUNNING[threading.get_ident()] = profiler
    try:
        yield
    finally:
        if _RUNNING.pop(threading.get_ident(), None) is profiler:
            box.add(profiler.stop())


@contextmanager
def profile_new_threads(box: SessionBox, interval_s: float) -> Iterator[None]:
    """Every thread started inside the block runs under its own profiler."""
    original: Callable[[threading.Thread], None] = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        with profiled(box, interval_s):
            original(thread)

    threading.Thread.run = run  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        threading.Thread.run = original  # type: ignore[method-assign,assignment]


FOREIGN_LOOK_S = 0.1  # how often the foreign sampler looks for threads no profiler hooks
FOREIGN_INTERVAL_S = 0.002  # how often it samples them once there are some


class ForeignSampler(threading.Thread):
    """Samples, from a thread of its own, the Python stacks of the threads that no profiler here
    hooks: threads a native runtime started and runs Python on (granian's WSGI workers, uWSGI's
    threads), which pyinstrument's per-thread hook never sees (R112). Wall-clock samples; it
    looks for such threads every `FOREIGN_LOOK_S` and samples every `FOREIGN_INTERVAL_S` while
    there are some. Overrides `run`, so the thread hook does not profile the sampler itself."""

    def __init__(self) -> None:
        super().__init__(name="sfperf-foreign-sampler", daemon=True)
        self.records: list[tuple[list[str], float, float]] = []  # stack, time, taken at
        self.started_s = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        from pyinstrument.low_level.stat_profile import get_frame_info

        self.started_s = wall_s = time.time()
        interval_s, me = FOREIGN_LOOK_S, threading.get_ident()
        while not self._done.wait(interval_s):
            now_s = time.time()
            elapsed_s, wall_s = min(now_s - wall_s, FOREIGN_INTERVAL_S), now_s
            known = python_threads() | _RUNNING.keys() | {me}
            foreign = {ident: frame for ident, frame in sys._current_frames().items()
                       if ident not in known}  # fmt: skip
            for ident, frame in foreign.items():
                self.records.append((native_stack(ident, frame, get_frame_info), elapsed_s, now_s))
            interval_s = FOREIGN_INTERVAL_S if foreign else FOREIGN_LOOK_S

    def session(self, since_s: float | None = None) -> Session | None:
        """Stop sampling; what it sampled from `since_s` on (wall clock; None: all) as a
        pyinstrument session (None: nothing). Several threads share a tick, so the cut is
        made here, by each record's time, not by summing their times."""
        self._done.set()
        if self.is_alive():
            self.join(1.0)
        kept = [(stack, time_s) for stack, time_s, taken_s in self.records
                if since_s is None or taken_s >= since_s]  # fmt: skip
        if not kept:
            return None
        session: Session = Session.from_json({
            "frame_records": kept, "start_time": max(self.started_s, since_s or 0.0),
            "duration": sum(time_s for _, time_s in kept),
            "min_interval": FOREIGN_INTERVAL_S, "max_interval": FOREIGN_INTERVAL_S,
            "sample_count": len(kept), "start_call_stack": [],
            "target_description": "threads started outside Python", "cpu_time": 0.0,
        })  # fmt: skip
        return session


def python_threads() -> set[int]:
    """The threads Python started (its main thread, `threading.Thread`s), profiled or not on
    purpose; a thread a native runtime started shows as a `_DummyThread`, if at all."""
    return {t.ident for t in threading.enumerate()
            if t.ident is not None and not isinstance(t, threading._DummyThread)}  # fmt: skip


def native_stack(ident: int, frame: FrameType, frame_info: Callable[[Any], str]) -> list[str]:
    """A thread's stack as pyinstrument writes one: its thread, then its frames, root first."""
    stack = []
    walked: FrameType | None = frame
    while walked is not None:
        stack.append(frame_info(walked))
        walked = walked.f_back
    return [f"native thread\x00<thread>\x00{ident}", *reversed(stack)]


def add_foreign(box: SessionBox, sampler: ForeignSampler | None, since_s: float | None) -> None:
    """Stop `sampler` and put what it sampled from `since_s` on in `box`."""
    session = sampler.session(since_s) if sampler is not None else None
    if session is not None:
        box.add(session)


def start_foreign_sampler() -> ForeignSampler | None:
    """A running `ForeignSampler`, or None when this pyinstrument cannot name frames."""
    try:
        from pyinstrument.low_level.stat_profile import get_frame_info  # noqa: F401
    except ImportError:
        return None
    sampler = ForeignSampler()
    sampler.start()
    return sampler


TREE_VARIABLE = "SFPERF_PROFILE_TREE"  # read by the launch shim in the tree's processes
_THREAD_RUN = threading.Thread.run  # as it was before any profiler hooked it


def descendant_session(session: Path, pid: int) -> Path:
    """Where a descendant process of the profiled program saves its session."""
    return session.with_name(f"{session.stem}.{pid}{session.suffix}")


def profile_tree(session: Path, interval_s: float, ready_file: Path | None) -> None:
    """Have every process the program starts profile itself: forks here, fresh interpreters
    through the launch shim (the environment says how)."""
    config = {"session": str(session), "interval_s": interval_s,
              "ready_file": str(ready_file) if ready_file else "", "child": __file__}  # fmt: skip
    os.environ[TREE_VARIABLE] = json.dumps(config)
    os.register_at_fork(after_in_child=lambda: profile_fork(config))


def profile_fork(config: Any) -> None:
    """In a forked child: stop the profiler it inherited on its forking thread (pyinstrument
    runs one a thread) and profile it as a descendant."""
    inherited = _RUNNING.pop(threading.get_ident(), None)
    if inherited is not None:
        inherited.stop()
    profile_descendant(config)


def profile_descendant(config: Any) -> None:
    """Profile this process (a descendant of the program) from now until it exits, and save
    its session beside the program's (`config`: the `SFPERF_PROFILE_TREE` settings)."""
    session, interval_s = Path(config["session"]), float(config["interval_s"])
    ready_file = Path(config["ready_file"]) if config.get("ready_file") else None
    box, pid = SessionBox(), os.getpid()
    profiler = Profiler(interval=interval_s, async_mode="enabled")
    profiler.start()
    _RUNNING[threading.get_ident()] = profiler  # a fork of this thread stops it in the child
    foreign = start_foreign_sampler()

    def run(thread: threading.Thread) -> None:
        with profiled(box, interval_s):
            _THREAD_RUN(thread)  # not the parent's hook a fork inherits: one profiler a thread

    threading.Thread.run = run  # type: ignore[method-assign,assignment]
    saved: list[bool] = []

    def save() -> None:
        if os.getpid() == pid and not saved:  # not in a fork of this process: it saves its own
            saved.append(True)
            ignore_sigterm()
            box.add(profiler.stop())
            add_foreign(box, foreign, ready_at(ready_file))
            save_session(box.combined(ready_at(ready_file)), descendant_session(session, pid))

    atexit.register(save)
    save_at_os_exit(save)


def save_at_os_exit(save: Callable[[], None]) -> None:
    """Run `save` also when this process ends by `os._exit`, which skips atexit: multiprocessing's
    forked workers end so (granian's), and their profile would be lost (R112). The hook is
    inherited by forks; `save` itself tells whether it is in the process that registered it."""
    previous = os._exit

    def exit_saving(status: int) -> NoReturn:
        with contextlib.suppress(Exception):  # the process must end whatever the save does
            save()
        previous(status)

    os._exit = exit_saving


def ignore_sigterm() -> None:
    """While a session is saved at exit: a second SIGTERM (a supervisor's, after the harness's)
    would otherwise cut the save short through an exit handler (the shim's, the program's)."""
    with contextlib.suppress(ValueError):  # not the main thread: nothing to change there
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run_program(program: Sequence[str]) -> int:
    """Run `-m MODULE ARGS` or `SCRIPT ARGS` as `__main__`; its exit code."""
    if program[0] == "-m":
        sys.argv = [program[1], *program[2:]]
        runner: Callable[[], Any] = lambda: runpy.run_module(  # noqa: E731
            program[1], run_name="__main__", alter_sys=True
        )
    else:
        sys.argv = list(program)
        sys.path.insert(0, str(Path(program[0]).resolve().parent))
        runner = lambda: runpy.run_path(program[0], run_name="__main__")  # noqa: E731
    try:
        runner()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.runners.support.profiler_child")
    parser.add_argument("--session", type=Path, required=True, help="where to save the session")
    parser.add_argument("--interval", type=float, default=0.001, help="sampling interval (s)")
    parser.add_argument("--threads-only", action="store_true", help="skip the main thread")
    parser.add_argument("--ready-file", type=Path, help="keep only samples from its creation on")
    parser.add_argument("program", nargs=argparse.REMAINDER, help="-- (-m MODULE | SCRIPT) ARGS")
    args = parser.parse_args(argv)
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program or program == ["-m"]:
        parser.error("give the program to profile after --: -m MODULE ARGS or SCRIPT ARGS")
    signal.signal(signal.SIGTERM, _terminate)
    profile_tree(args.session, args.interval, args.ready_file)
    box, pid = SessionBox(), os.getpid()
    foreign = start_foreign_sampler()
    try:
        with profile_new_threads(box, args.interval):
            if args.threads_only:
                return run_program(program)
            with profiled(box, args.interval):
                return run_program(program)
    finally:
        if os.getpid() == pid:  # a forked worker returning here saves its own, as a descendant
            ignore_sigterm()
            add_foreign(box, foreign, ready_at(args.ready_file))
            save_profile(box, args.session, ready_at(args.ready_file))


def save_profile(box: SessionBox, path: Path, since_s: float | None) -> None:
    """Save the combined session, from readiness on when known, and say how much was cut."""
    if since_s is not None:
        started_s = min((s.start_time for s in box.sessions()), default=since_s)
        note = {"sampled_from": "ready", "start_up_cut_s": round(max(since_s - started_s, 0), 3)}
        write_atomic(path.with_suffix(".ready.json"), json.dumps(note))
    save_session(box.combined(since_s), path)


def save_session(session: Session | None, path: Path) -> None:
    """Write the session as pyinstrument's JSON (nothing when no thread was sampled)."""
    if session is not None:
        write_atomic(path, json.dumps(session.to_json()))


def write_atomic(path: Path, text: str) -> None:
    """Write `text` through a temp file and a rename, with a plain file's mode (0666 less the
    umask; mkstemp's 0600 would outlive the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


if __name__ == "__main__":
    # Run by path, this file's directory heads sys.path: it must not shadow the program's imports.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    sys.exit(main())
