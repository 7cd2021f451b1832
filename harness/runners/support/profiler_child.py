"""The profiled child: run a Python program under pyinstrument and save the session on exit.

    python -m harness.runners.support.profiler_child --session FILE [--interval S] [--threads-only]
        -- (-m MODULE | SCRIPT) [ARGS...]

A user's gateway is profiled under its own interpreter, which knows nothing of sfperf: that
interpreter runs this file by its path, so it imports only the standard library and pyinstrument.

Every thread the program starts gets its own profiler (pyinstrument samples one thread per
profiler, and gateways serve from worker threads); at exit the sessions are combined into one
and saved atomically. SIGTERM ends the program like Ctrl-C so the session is always written.
Only this module and `harness.runners.profiling` import pyinstrument.
"""

from __future__ import annotations

import argparse
import runpy
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

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

    def combined(self) -> Session | None:
        """All sessions as one (aggregate views hold; timelines of threads are not merged)."""
        sessions = self.sessions()
        # Combine in pairs: a Flask gateway leaves one session per request thread, and folding
        # them one by one would copy the growing sample list every time.
        while len(sessions) > 1:
            pairs = zip(sessions[::2], sessions[1::2], strict=False)
            odd = sessions[-1:] if len(sessions) % 2 else []
            sessions = [Session.combine(a, b) for a, b in pairs] + odd
        return sessions[0] if sessions else None


@contextmanager
def profiled(box: SessionBox, interval_s: float) -> Iterator[None]:
    """Profile the current thread for the block; its session goes into `box`."""
    profiler = Profiler(interval=interval_s, async_mode="enabled")
    profiler.start()
    try:
        yield
    finally:
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
    parser.add_argument("program", nargs=argparse.REMAINDER, help="-- (-m MODULE | SCRIPT) ARGS")
    args = parser.parse_args(argv)
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program or program == ["-m"]:
        parser.error("give the program to profile after --: -m MODULE ARGS or SCRIPT ARGS")
    signal.signal(signal.SIGTERM, _terminate)
    box = SessionBox()
    try:
        with profile_new_threads(box, args.interval):
            if args.threads_only:
                return run_program(program)
            with profiled(box, args.interval):
                return run_program(program)
    finally:
        save_session(box.combined(), args.session)


def save_session(session: Session | None, path: Path) -> None:
    """Write the session as pyinstrument's JSON (nothing when no thread was sampled)."""
    if session is None:
        return
    import json
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(session.to_json(), handle)
    os.replace(temporary, path)


if __name__ == "__main__":
    # Run by path, this file's directory heads sys.path: it must not shadow the program's imports.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    sys.exit(main())
