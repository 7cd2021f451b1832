"""How a locust child failed, in one line: its exit and the line of its log that says why.

A locust that exits non-zero by itself (an import error in its locustfile or in sfperf's plugin,
a dependency missing after a `git pull` into an editable install), or that leaves a traceback and
no request recorded, measured nothing of the target: the run failed, and the target is not to be
blamed for a "0% ok" (R94).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.targets.process import describe_exit, telling_line

TRACEBACK = "Traceback (most recent call last):"
IMPORT_ERRORS = ("ModuleNotFoundError", "ImportError")
REINSTALL_HINT = "sfperf's dependencies may have changed: run `pip install -e .` in its checkout"


def locust_failure(logs: Sequence[Path], returncode: int | None, recorded: int) -> str:
    """One line saying how locust failed, "" when it did not. `returncode`: the first locust
    process's, when it ended by itself (None: it ran until sfperf stopped it); `recorded`:
    the requests its rows hold. The line names the telling line of the log that has one."""
    exited = returncode not in (None, 0)
    broken = [log for log in logs if has_traceback(log)]
    if not exited and not (broken and not recorded):
        return ""
    log = (broken or [*logs])[0] if logs else None
    line = telling_line(log) if log is not None else ""
    how = describe_exit(returncode) if exited else "left a traceback in its log"
    when = f"after {recorded} request(s), kept" if recorded else "before recording a request"
    text = f"locust {how} {when}" + (f": {line}" if line else "")
    hint = f"; {REINSTALL_HINT}" if line.startswith(IMPORT_ERRORS) else ""
    return text + (f" (log: {log})" if log is not None else "") + hint


def has_traceback(log: Path) -> bool:
    """Whether `log` holds a Python traceback (False when it cannot be read)."""
    try:
        return TRACEBACK in log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
