"""Processes a child left behind outside its process group (a daemon's double fork, as
`gunicorn --daemon` does), found by the mark sfperf put in the child's environment (R76).

Every `Child` gets its own `SFPERF_CHILD` value; its descendants inherit it, whatever process
group or session they move to, so once the group is stopped, any process still carrying the
mark is one the child left behind, and is stopped too (Linux: /proc/PID/environ).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

MARK_VARIABLE = "SFPERF_CHILD"
PROC = Path("/proc")


def marked_pids(mark: str, proc: Path = PROC) -> list[int]:
    """The processes (not this one) whose environment has `SFPERF_CHILD=mark`, by pid."""
    return sorted(p for p in _pids(proc) if p != os.getpid() and is_marked(p, mark, proc))


def is_marked(pid: int, mark: str, proc: Path = PROC) -> bool:
    """Whether process `pid` is there and has `SFPERF_CHILD=mark` in its environment."""
    try:
        environment = (proc / str(pid) / "environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return False
    return f"{MARK_VARIABLE}={mark}".encode() in environment.split(b"\0")


def stop_strays(
    mark: str,
    grace_s: float = 3.0,
    *,
    proc: Path = PROC,
    sleep: Callable[[float], None] = time.sleep,
) -> list[int]:
    """SIGTERM every process marked `mark`, SIGKILL those still there after `grace_s`; returns
    the pids that were found."""
    strays = marked_pids(mark, proc)
    _signal(strays, signal.SIGTERM)
    deadline_s = time.monotonic() + grace_s
    while any(is_marked(p, mark, proc) for p in strays) and time.monotonic() < deadline_s:
        sleep(0.05)
    # Checked again just before: a pid that ended meanwhile may belong to a stranger now.
    _signal([p for p in strays if is_marked(p, mark, proc)], signal.SIGKILL)
    return strays


def _signal(pids: Sequence[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _pids(proc: Path) -> list[int]:
    try:
        return [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []
