"""CPU time a started target uses: every live process of its group, read from `/proc` (Linux).

The harness starts each target in its own process group (`harness.targets.process`), so a
gateway's worker processes are counted with it. CPU per request and the busiest process's share
of a core tell a CPU-bound gateway (one busy core: the GIL, a slow parser) from one that waits
on a pool or a lock while its core idles.
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


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds a group used between two snapshots: in all, and by its busiest process."""

    total_s: float
    busiest_s: float


def cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> CpuUse:
    """What each process used from `before` to `after` (a process started since counts whole)."""
    used = [after[pid] - before.get(pid, 0.0) for pid in after]
    return CpuUse(sum(used), max(used, default=0.0))
