"""Which processes of a profiled program's tree its profile covers.

A server may serve from worker processes (hypercorn, gunicorn, `uvicorn --workers`) while the
program's own process only supervises them. Every process of the tree saves its own session
(`profiler_child`: `<stem>.pyisession` for the program, `<stem>.<pid>.pyisession` for the
others), and the profile is made of those that served: the processes that called the upstream
(the launch shim counts each process's redirected Salesforce calls), or all of them when the
shim could not tell. Pure: no pyinstrument here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TreeProcess:
    """One process of the tree: its samples (0: it left no session), the Salesforce requests or
    connections the shim redirected in it (None: not known; > 0: it called the upstream) and
    whether the profile covers it."""

    pid: int | None  # None: the program's own process, its pid unknown
    # "program" (the command sfperf started), "worker" (a process it started) or "helper" (one
    # that only ran a multiprocessing helper: the resource tracker, the forkserver)
    role: str
    samples: int
    upstream_redirects: int | None
    profiled: bool = False

    def as_params(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        calls = {None: "", 0: ", no upstream call"}.get(
            self.upstream_redirects, ", called the upstream"
        )
        return f"{self.role} pid {self.pid or '?'} ({self.samples} samples{calls})"


def session_files(session_path: Path) -> dict[int | None, Path]:
    """The program's session (key None) and those of the other processes of its tree."""
    found: dict[int | None, Path] = {None: session_path} if session_path.exists() else {}
    stem, suffix = session_path.stem, session_path.suffix
    for path in session_path.parent.glob(f"{stem}.*{suffix}"):
        middle = path.name[len(stem) + 1 : -len(suffix)]
        if middle.isdigit():
            found[int(middle)] = path
    return found


def tree_processes(
    samples: Mapping[int | None, int],
    root_pid: int | None,
    calls: Mapping[int, int],
    helpers: Collection[int | None] = (),
    requests: int = 0,
) -> list[TreeProcess]:
    """Every process that left a session or called the upstream (`samples` and `helpers`, the
    sessions spent wholly in a multiprocessing helper, keyed as `session_files`; `calls` by
    pid), program first, each marked whether the profile covers it (never a helper: R80). When
    the program started a process for each of the `requests` (`per_request`), it is profiled
    beside them: it takes the requests, and they are its one-shot helpers (R96)."""
    by_pid = {(root_pid if key is None else key): count for key, count in samples.items()}
    helper_pids = {root_pid if key is None else key for key in helpers}
    pids = [root_pid, *sorted(p for p in {*by_pid, *calls} if p is not None and p != root_pid)]
    known = bool(calls)

    def role(pid: int | None) -> str:
        return "helper" if pid in helper_pids else "program" if pid == root_pid else "worker"

    processes = [TreeProcess(pid, role(pid), by_pid.get(pid, 0),
                             calls.get(pid, 0) if known and pid is not None else None)
                 for pid in pids if pid in by_pid or pid in calls]  # fmt: skip
    served = [p for p in processes if p.samples and p.upstream_redirects]
    sampled = [p for p in processes if p.samples and p.role != "helper"]
    chosen = served or ([] if _served_unprofiled(processes) else sampled)
    if served and per_request(processes, requests):
        chosen += [p for p in processes if p.role == "program" and p.samples]
    return [replace(p, profiled=p in chosen) for p in processes]


# A process per request: at least this many workers called the upstream, for at least this share
# of the requests sent (a pool of workers is far fewer than the requests of a profile, R96).
PER_REQUEST = (8, 0.5)


def per_request(processes: Sequence[TreeProcess], requests: int) -> bool:
    """True when the program started a process for (about) each of the `requests`: as many
    workers called the upstream (a script or CLI run per call, a fork per connection)."""
    callers = sum(1 for p in processes if p.role == "worker" and p.upstream_redirects)
    least, share = PER_REQUEST
    return requests > 0 and callers >= least and callers >= share * requests


def _served_unprofiled(processes: Sequence[TreeProcess]) -> bool:
    return any(p.upstream_redirects and not p.samples for p in processes)


# Said when the processes sampled served nothing that reached the upstream (R86).
SUPERVISOR = "a supervisor or reloader? (Django's runserver: add --noreload)"
# Said when a process that served left no samples (R86, R112).
UNSAVED = (f"{SUPERVISOR}, or a kill; to profile it, run it as one process, without workers "
           "or a reloader")  # fmt: skip


def scope_note(processes: Sequence[TreeProcess], requests: int = 0) -> str:
    """Which processes the profile covers and which it leaves out, in words."""
    if per_request(processes, requests) and any(p.profiled for p in processes):
        return one_shot_note(processes, requests)
    kept = [p.describe() for p in processes if p.profiled]
    left = [p.describe() for p in processes if not p.profiled]
    if not kept:
        note = f"no process that served left a profile: {'; '.join(left)}"
        unsaved = "; one that called the upstream was stopped before it saved its profile, by "
        return note + unsaved + UNSAVED if _served_unprofiled(processes) else note
    note = f"profiled {_why_these(processes)}: {'; '.join(kept)}"
    return f"{note}; left out: {'; '.join(left)}" if left else note


def one_shot_note(processes: Sequence[TreeProcess], requests: int) -> str:
    """The profile of a program that starts a process for each request: said first, the
    one-shot processes summed up rather than listed (R96)."""
    shots = [p for p in processes if p.role == "worker" and p.upstream_redirects]
    program = [p.describe() for p in processes if p.role == "program" and p.profiled]
    others = [p.describe() for p in processes if p not in shots and p.role != "program"]
    pids = sorted(p.pid for p in shots if p.pid is not None)
    samples = sorted(p.samples for p in shots)
    summary = (f"{len(shots)} one-shot processes (pids {pids[0]}-{pids[-1]}, "
               f"{samples[len(samples) // 2]} samples each at the median, each called the "
               "upstream)")  # fmt: skip
    left = f"; left out: {'; '.join(others)}" if others else ""
    return (f"it starts a process for each request: {len(shots)} processes called the upstream "
            f"for {requests} requests; profiled the program, which takes the requests, and the "
            "processes it started, their start-ups included (that is what each request pays): "
            f"{'; '.join([*program, summary])}{left}")  # fmt: skip


def _why_these(processes: Sequence[TreeProcess]) -> str:
    profiled = [p for p in processes if p.profiled]
    if any(p.upstream_redirects for p in profiled):
        return "the processes that called the upstream"
    if served_nothing(processes):
        return ("the processes sampled, which served nothing: none made an upstream call, "
                f"so the gateway's work is not here; {SUPERVISOR}")  # fmt: skip
    return "every process that left samples (which served is not known)"


def served_nothing(processes: Sequence[TreeProcess]) -> bool:
    """True when the shim counted upstream calls for the tree and no profiled process made
    one: what was sampled is a supervisor's or reloader's wait, not the gateway serving."""
    profiled = [p for p in processes if p.profiled]
    return bool(profiled) and all(p.upstream_redirects == 0 for p in profiled)
