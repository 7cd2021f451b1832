"""Memory and open file descriptors of a started target: every live process of its group, read
from `/proc` (Linux).

A gateway that keeps something per request (a reply in a global list, a file it never closes)
grows without bound and dies in production, an OOM kill or `ulimit -n` away, while every reply
it gives is right. Read at each window's start and end, the growth per request served names it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.targets.listening import PROC, group_pids

_PAGE_KB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) // 1024


@dataclass(frozen=True)
class GroupResources:
    """Resident memory (KB) and open file descriptors summed over a process group's live
    processes, and how many there were."""

    rss_kb: int
    open_fds: int
    processes: int


def group_resources(pgid: int, proc: Path = PROC) -> GroupResources | None:
    """What group `pgid` holds now (None: no process of it could be read, or not Linux)."""
    rss_kb = fds = read = 0
    for pid in group_pids(pgid, proc):
        try:
            resident_pages = int((proc / str(pid) / "statm").read_text().split()[1])
            open_fds = len(os.listdir(proc / str(pid) / "fd"))
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked, or is not ours to read
        rss_kb, fds, read = rss_kb + resident_pages * _PAGE_KB, fds + open_fds, read + 1
    return GroupResources(rss_kb, fds, read) if read else None


def process_identity(pid: int, proc: Path = PROC) -> str:
    """`pid@starttime` (clock ticks after boot, /proc/PID/stat's 22nd field): one launch of a
    target apart from another, even should a pid come round again; `pid` alone when unread."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        # The command name (2nd field) may hold spaces: count from the ')' that ends it.
        return f"{pid}@{stat.rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return str(pid)


def no_resources() -> GroupResources | None:
    """For targets the harness did not start: their processes are not ours to read."""
    return None
