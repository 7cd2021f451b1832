"""How a command stops on SIGINT, SIGTERM or SIGHUP: the same way, whichever comes.

The first signal raises KeyboardInterrupt in the main thread (between asyncio tasks when a loop
runs there), where every runner already keeps what it measured and every child is stopped on the
way out. A later signal must not interrupt that cleanup (it would orphan children and lose
records), so it only cuts the children's grace period short. The command then exits 128 + the
signal's number, as a shell reports it.

Python swallows an exception raised where nothing can catch it (an at-fork hook such as
logging's, run as `subprocess` forks with a `preexec_fn`; a `__del__`), and only reports it. A
first signal landing there would be lost and the command would run to its end, so while a
command runs, such a swallowed interrupt of its own is delivered again to the main thread.

Signal dispositions belong to the process, so the state of the stop lives in the installed
handler itself: `active()` finds it through `signal.getsignal`.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A command stopped by a signal, saying what it `kept`; `signum` when the command caught
    the signal itself (a server's own handler) rather than through `SignalStop`."""

    def __init__(self, kept: str = "", signum: int | None = None) -> None:
        super().__init__(kept or "stopped")
        self.kept = kept
        self.signum = signum


class SignalStop:
    """The handler installed while a command runs: the first signal interrupts, later ones hurry."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._hurry = threading.Event()
        self._swallowed = False  # the first interrupt was lost: the next call delivers it

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None or self._swallowed:
            self.signum = self.signum or signum
            self._swallowed = False
            interrupt_main()
            return
        if not self._hurry.is_set():
            self._hurry.set()
            # os.write, not print: the main thread may be inside a write to stderr right now.
            note = f"{signal_name(signum)} again: stopping children now, still saving results\n"
            with contextlib.suppress(OSError):
                os.write(2, note.encode())

    def redeliver(self, unraisable: sys.UnraisableHookArgs) -> bool:
        """Deliver the first signal's interrupt again if Python swallowed it (`unraisable`, as
        `sys.unraisablehook` gets it); True when the exception was that interrupt."""
        if self.signum is None or self._swallowed or not _raised_here(unraisable.exc_traceback):
            return False
        self._swallowed = True
        # From a new thread, not waited for (as threading.Thread.start would): tripped here,
        # `handle` would run inside this hook and be swallowed again. Tripped there, it runs at
        # the main thread's next check for signals; landing in such a place again only brings
        # it back here.
        _thread.start_new_thread(_thread.interrupt_main, (signal.Signals(self.signum),))
        return True

    @property
    def hurried(self) -> bool:
        """True once a second signal asked to skip the grace periods."""
        return self._hurry.is_set()


def interrupt_main() -> None:
    """Raise KeyboardInterrupt where the main thread is, unless that is inside an asyncio task
    step: the task would keep the interrupt as its own exception, which nobody retrieves, and
    asyncio prints "Task exception was never retrieved" as the process exits. There the loop
    raises it from a callback of its own instead, before any other task runs."""
    asyncio = sys.modules.get("asyncio")  # never imported: no loop can be running
    loop = asyncio._get_running_loop() if asyncio is not None else None
    if loop is None or asyncio is None or asyncio.current_task(loop) is None:
        raise KeyboardInterrupt
    loop.call_soon_threadsafe(_raise_interrupt)


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


def _raised_here(trace: TracebackType | None) -> bool:
    """True when `trace` ends in `interrupt_main`: the exception is a first signal's interrupt."""
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    return trace is not None and trace.tb_frame.f_code is interrupt_main.__code__


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[SignalStop]:
    """Install a SignalStop for the block and restore the previous handlers after it, unless a
    signal stopped the block: the process is then on its way out, and a later signal must not
    kill it with a traceback (or the wrong exit status) while it exits, so stopping signals are
    ignored from then on (a Python handler would be reset to the default as the interpreter
    finalizes; SIG_IGN is not).

    A signal already ignored (SIGHUP under `nohup`, SIGINT in a shell's background job) stays
    ignored. Only the main thread can install handlers; elsewhere the block runs without them.
    """
    stop = SignalStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    watched = [s for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {signum: signal.signal(signum, stop.handle) for signum in watched}
    reporting = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: stop.redeliver(unraisable) or reporting(unraisable)
    try:
        yield stop
    finally:
        sys.unraisablehook = reporting
        restore(previous if stop.signum is None else dict.fromkeys(previous, signal.SIG_IGN))


def restore(handlers: Mapping[signal.Signals, Any]) -> None:
    """Put back signal handlers saved from `signal.signal`."""
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def active() -> SignalStop | None:
    """The SignalStop in force in this process, if a command installed one."""
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return owner if isinstance(owner, SignalStop) else None


def hurried() -> bool:
    """True when a second signal asked the command to stop its children without grace."""
    stop = active()
    return stop is not None and stop.hurried


def signal_name(signum: int) -> str:
    """`SIGTERM` for 15 (the number itself when it names no signal)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def stopped_by() -> signal.Signals:
    """The signal that stopped this command (SIGINT, as for Ctrl-C, when none was seen)."""
    stop = active()
    return signal.Signals(stop.signum) if stop and stop.signum else signal.SIGINT


def stop_reason() -> str:
    """`stopped by SIGTERM`: the signal that stopped this command, in words."""
    return f"stopped by {stopped_by().name}"


def exit_status(signum: int) -> int:
    """The status a shell reports for a process stopped by `signum`: 128 + its number."""
    return 128 + signum


def stop_line(command: str, signum: int, interrupt: BaseException) -> str:
    """The one line a stopped command prints: which signal, and what it kept."""
    kept = interrupt.kept if isinstance(interrupt, Stopped) else ""
    return f"sfperf {command}: stopped by {signal_name(signum)}" + (f"; {kept}" if kept else "")
