"""Processes as /proc shows them: who descends from whom, and waiting for them to be gone."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    state: str
    command: str


def processes() -> dict[int, Proc]:
    """Every live process (zombies excluded: they hold no resources and run nothing)."""
    found: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it exited while we looked
            continue
        # `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            pid = int(entry.name)
            found[pid] = Proc(pid, int(fields[1]), int(fields[2]), fields[0], command.strip())
    return found


def descendants(pid: int) -> dict[int, Proc]:
    """The processes below `pid` (children, grandchildren, ...), as of now."""
    table = processes()
    found: dict[int, Proc] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for proc in table.values():
            if proc.ppid == parent and proc.pid not in found:
                found[proc.pid] = proc
                frontier.append(proc.pid)
    return found


def tagged(name: str, value: str) -> list[Proc]:
    """Live processes whose environment holds `name=value` (inherited by every descendant that
    was not given a new environment: children, grandchildren, double-forked daemons)."""
    marker = f"{name}={value}".encode()
    found = []
    for proc in processes().values():
        try:
            environment = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environment:
            found.append(proc)
    return found


def wait_until_tagged(name: str, value: str, at_least: int, timeout_s: float = 60.0) -> list[Proc]:
    """Those tagged `name=value` once there are `at_least` of them (or `timeout_s` passed).

    Counting once is a race: a child whose exec has begun but not finished reads as having an
    empty /proc/PID/environ (the kernel sets a new program's environment last), although the
    `Popen` that started it has already returned (its close-on-exec pipe closed earlier in the
    exec). So a just-started process is seen tagged only a moment later.
    """
    deadline_s = time.monotonic() + timeout_s
    while len(found := tagged(name, value)) < at_least and time.monotonic() < deadline_s:
        time.sleep(0.05)
    return found


def wait_until_none_tagged(name: str, value: str, timeout_s: float = 15.0) -> list[Proc]:
    """Those tagged `name=value` still alive after polling up to `timeout_s`; [] once none."""
    deadline_s = time.monotonic() + timeout_s
    while (alive := tagged(name, value)) and time.monotonic() < deadline_s:
        time.sleep(0.05)
    return alive


def survivors(watched: dict[int, Proc], timeout_s: float = 10.0) -> list[Proc]:
    """Those of `watched` (or anything in their process groups) still alive after polling for
    up to `timeout_s`; [] as soon as all are gone."""
    groups = {proc.pgid for proc in watched.values()} - {os.getpgrp()}
    deadline_s = time.monotonic() + timeout_s
    while True:
        alive = [
            proc
            for proc in processes().values()
            if (proc.pid in watched and proc.command == watched[proc.pid].command)
            or proc.pgid in groups
        ]
        if not alive or time.monotonic() > deadline_s:
            return alive
        time.sleep(0.05)
