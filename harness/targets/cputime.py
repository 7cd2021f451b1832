"""CPU time a started target uses: every live process of its group, read from `/proc` (Linux).

The harness starts each target in its own process group (`harness.targets.process`), so a
gateway's worker processes are counted with it. CPU per request and the busiest process's share
of a core tell a CPU-bound gateway (one busy core: the GIL, a slow parser) from one that waits
on a pool or a lock while its core idles. On a shared machine a process may also be ready to run
with no core free: that wait (`/proc/PID/task/*/schedstat`) is counted beside its CPU time, so
a gateway starved of a core is not taken for one that waits on a lock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# CPU seconds (user + system) per process id, at one moment
CpuSnapshot = Mapping[int, float]


def group_cpu_s(pgid: int, proc: Path = PROC) -> dict[int, float]:
    """{pid: user + system CPU seconds} of each live process in group `pgid`; {} where
    `/proc` cannot be read (not Linux)."""
    found: dict[int, float] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces and parentheses: split after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if len(fields) > 12 and fields[2] == str(pgid):
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / _TICKS_PER_S
    return found


def ready_wait_s(pid: int, proc: Path = PROC) -> float:
    """Seconds the threads of `pid` spent ready to run with no core free (0 when unknown)."""
    waited_ns = 0
    for schedstat in (proc / str(pid) / "task").glob("*/schedstat"):
        try:
            waited_ns += int(schedstat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended while we looked
    return waited_ns / 1e9


@dataclass(frozen=True)
class GroupSnapshot:
    """CPU and ready-to-run wait seconds per process of a group, at one moment."""

    cpu_s: CpuSnapshot
    wait_s: Mapping[int, float]


def snapshot(pgid: int, proc: Path = PROC) -> GroupSnapshot:
    """The CPU and wait of every live process of group `pgid`."""
    cpu_s = group_cpu_s(pgid, proc)
    return GroupSnapshot(cpu_s, {pid: ready_wait_s(pid, proc) for pid in cpu_s})


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds a group used between two snapshots, in all and by its busiest process, and
    how long that process waited, ready to run, for a core."""

    total_s: float
    busiest_s: float
    busiest_wait_s: float = 0.0


def cpu_used(before: GroupSnapshot, after: GroupSnapshot) -> CpuUse:
    """What each process used from `before` to `after` (a process started since counts whole)."""
    used = {pid: cpu - before.cpu_s.get(pid, 0.0) for pid, cpu in after.cpu_s.items()}
    if not used:
        return CpuUse(0.0, 0.0)
    busiest = max(used, key=lambda pid: used[pid])
    waited = after.wait_s.get(busiest, 0.0) - before.wait_s.get(busiest, 0.0)
    return CpuUse(sum(used.values()), used[busiest], max(waited, 0.0))
