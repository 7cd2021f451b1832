"""The sfperf start-up shim, run inside a launched child by `sitecustomize`.

Configured by the environment `sfperf launch` sets (the child's only channel from the harness):
SFPERF_SHIM_UPSTREAM (mock base URL: Salesforce hosts are redirected there) and
SFPERF_SHIM_IO_REPORT (where the io report goes at exit) and SFPERF_SHIM_CONTROL (a directory
where the harness asks for snapshots of the report, see `snapshots`). Stdlib only; Python >= 3.8.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import signal
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, NoReturn

from .iocount import FileCounter, write_json_atomic
from .overhead import UnitCosts, account, install_hook
from .patches import PostImportPatcher
from .redirect import Redirector
from .snapshots import SnapshotPoller, snapshot_path

ENV_UPSTREAM = "SFPERF_SHIM_UPSTREAM"
ENV_IO_REPORT = "SFPERF_SHIM_IO_REPORT"
ENV_ROOT_PID = "SFPERF_SHIM_ROOT_PID"
ENV_CONTROL = "SFPERF_SHIM_CONTROL"
# Set by the profiler child (harness/runners/support/profiler_child.py) for its program's tree.
ENV_PROFILE_TREE = "SFPERF_PROFILE_TREE"


def report_path(base: str, pid: int, root_pid: int) -> str:
    """The root process writes `base`; its descendants (workers, forks) write `base.<pid>`."""
    return base if pid == root_pid else f"{base}.{pid}"


class Shim:
    """Everything the shim does in one process: redirects, file counts, the report at exit,
    and what all that cost the process (`overhead`, once the counting hook is installed)."""

    def __init__(self, upstream: str | None, io_report: str | None, root_pid: int) -> None:
        self.redirector = Redirector(upstream) if upstream else None
        self.io_report = io_report
        self.root_pid = root_pid
        self.counter = FileCounter()
        self.patched: list[str] = []
        self.units: UnitCosts | None = None
        self.poller: SnapshotPoller | None = None
        self._written = False

    def forget(self) -> None:
        """Count from zero: in a forked child, whatever came before is in its parent's report."""
        self.counter.reset()
        if self.redirector is not None:
            self.redirector.reset()

    def report(self) -> dict[str, Any]:
        files, module_opens = self.counter.snapshot()
        overhead = {}
        if self.units is not None:
            poller_cpu_s = self.poller.cpu_s if self.poller else 0.0
            overhead = account(self.units, self.counter, self.redirector, poller_cpu_s)
        return {
            "pid": os.getpid(),
            "root_pid": self.root_pid,
            "argv": list(sys.argv),
            "upstream": self.redirector.upstream if self.redirector else None,
            "patched": sorted(self.patched),
            "redirects": self.redirector.snapshot() if self.redirector else {},
            "other_hosts": self.redirector.others() if self.redirector else {},
            "mock_connections": self.redirector.mock_connections if self.redirector else 0,
            "files": files,
            "module_opens": module_opens,
            "overhead": overhead,
        }

    def write_snapshot(self, label: str) -> None:
        """Write the report as it stands as snapshot `label` (from the poller thread, whose own
        file operations the counter ignores)."""
        if self.io_report is None:
            return
        base = snapshot_path(self.io_report, label)
        write_json_atomic(report_path(base, os.getpid(), self.root_pid), self.report())

    def write_report(self) -> None:
        """Write the io report once (at exit or SIGTERM); its own write is not counted."""
        if self.io_report is None or self._written:
            return
        self._written = True
        self.counter.paused = True
        write_json_atomic(report_path(self.io_report, os.getpid(), self.root_pid), self.report())


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    # A default SIGTERM kills without running atexit; exiting this way keeps the report.
    sys.exit(128 + signum)


def write_at_os_exit(shim: Shim) -> None:
    """Write the report also when a process ends by `os._exit`, which skips atexit:
    multiprocessing's forked workers end so (granian's), and what they did would be lost
    (R112). Forks inherit the hook, and each writes its own report (`forget` at the fork)."""
    previous = os._exit

    def exit_writing(status: int) -> NoReturn:
        with contextlib.suppress(Exception):  # the process must end whatever the report does
            shim.write_report()
        previous(status)

    os._exit = exit_writing


def install(environ: MutableMapping[str, str] | Mapping[str, str]) -> Shim:
    """Install the shim in this process as `environ` says; returns it (tests inspect it)."""
    root_pid = int(environ.get(ENV_ROOT_PID) or os.getpid())
    if isinstance(environ, MutableMapping):
        environ.setdefault(ENV_ROOT_PID, str(root_pid))  # children learn who the root is
    shim = Shim(environ.get(ENV_UPSTREAM), environ.get(ENV_IO_REPORT), root_pid)
    if shim.redirector is not None:
        PostImportPatcher(shim.redirector, shim.patched.append).install()
    if shim.io_report is not None:
        shim.units = install_hook(shim.counter)
        os.register_at_fork(after_in_child=shim.forget)
        atexit.register(shim.write_report)
        write_at_os_exit(shim)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        if environ.get(ENV_CONTROL):
            start_snapshots(shim, environ[ENV_CONTROL])
    if environ.get(ENV_PROFILE_TREE) and os.getpid() != root_pid:
        start_profile(environ[ENV_PROFILE_TREE])
    return shim


def start_profile(setting: str) -> None:
    """In a fresh interpreter of a profiled program's tree (a spawned worker): profile it too,
    with the profiler child's own code, loaded by its path (it needs pyinstrument, which the
    target has when it is profiled). A process that cannot is left unprofiled, and says so."""
    try:
        config = json.loads(setting)
        spec = importlib.util.spec_from_file_location("_sfperf_profiler_child", config["child"])
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {config['child']}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.profile_descendant(config)
    except Exception as exc:  # the worker must serve even if it cannot be profiled
        sys.stderr.write(f"sfperf shim: process {os.getpid()} not profiled: {exc!r}\n")


def start_snapshots(shim: Shim, control_dir: str) -> SnapshotPoller:
    """Answer snapshot requests from a thread whose file operations are not counted; a forked
    child (a pre-forking server's worker) starts its own."""
    poller = shim.poller = SnapshotPoller(control_dir, shim.write_snapshot)

    def start() -> None:
        poller.start()
        assert poller.thread is not None
        shim.counter.ignored_thread = poller.thread.ident

    def restart_in_child() -> None:
        poller.answered = set(poller.requested())
        start()

    start()
    os.register_at_fork(after_in_child=restart_in_child)
    return poller
