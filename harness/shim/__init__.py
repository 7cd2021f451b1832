"""The start-up shim, host side: the environment that injects it into a child, and its io report.

The shim itself lives in `startup/` (a `sitecustomize` plus the stdlib-only `sfperf_shim`
package) because it runs inside the launched program, not in sfperf.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.records import Series
from harness.shim.startup.sfperf_shim import ENV_CONTROL, ENV_IO_REPORT, ENV_ROOT_PID, ENV_UPSTREAM
from harness.shim.startup.sfperf_shim.snapshots import snapshot_path
from harness.store import atomic_write_text

STARTUP_DIR = Path(__file__).resolve().parent / "startup"
ENV_MOCK_URL = "SFPERF_MOCK_URL"
SNAPSHOT_WAIT_S = 2.0  # the shim answers within its 50-150 ms poll; a busy machine gets slack
DESCENDANT_WAIT_S = 0.2  # after the root's snapshot, for the workers' to land too
# The additive fields of a process's `overhead` (see sfperf_shim.overhead.account).
OVERHEAD_FIELDS = ("shim_cpu_s", "process_cpu_s", "poller_cpu_s", "audit_events", "opens",
                   "host_checks", "url_checks")  # fmt: skip


def shim_env(
    upstream: str, io_report: Path | None, base: Mapping[str, str], control: Path | None = None
) -> dict[str, str]:
    """`base` plus the shim: its directory first on PYTHONPATH, the mock URL, the report path,
    and the directory where snapshots are asked for (`request_snapshot`)."""
    env = {k: v for k, v in base.items() if k not in (ENV_ROOT_PID, ENV_CONTROL)}
    if control is not None and io_report is not None:
        env[ENV_CONTROL] = str(control.resolve())
    existing = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(STARTUP_DIR), existing) if p)
    env[ENV_UPSTREAM] = upstream
    env[ENV_MOCK_URL] = upstream  # for programs that read their upstream from the environment
    env["NO_PROXY"] = env["no_proxy"] = no_proxy(upstream, env)
    if io_report is not None:
        env[ENV_IO_REPORT] = str(io_report.resolve())
    else:
        env.pop(ENV_IO_REPORT, None)
    return env


def no_proxy(upstream: str, env: Mapping[str, str]) -> str:
    """The environment's NO_PROXY (and no_proxy) plus the mock's host and the Salesforce
    domain: a gateway's HTTP client that honours HTTP(S)_PROXY (httpx, requests, aiohttp with
    trust_env, urllib) must not send the calls the shim redirects to the mock to a corporate
    proxy (R54), where loopback is not the mock."""
    given = [e.strip() for k in ("NO_PROXY", "no_proxy") for e in env.get(k, "").split(",")]
    ours = [urlsplit(upstream).hostname or "", "localhost", "127.0.0.1", "salesforce.com"]
    return ",".join(dict.fromkeys(e for e in (*given, *ours) if e))


def report_parts(path: Path) -> list[Path]:
    """The root report and those of descendant processes (`path.<pid>`), root first."""
    parts = sorted(path.parent.glob(f"{path.name}.*"))
    descendants = [p for p in parts if p.name[len(path.name) + 1 :].isdigit()]
    return ([path] if path.exists() else []) + descendants


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report for a process tree: counts summed over processes, per path and per host."""
    files: dict[str, dict[str, int]] = {}
    for report in reports:
        for path, entry in report.get("files", {}).items():
            into = files.setdefault(path, {"opens": 0, "reads": 0, "writes": 0})
            for key, value in entry.items():
                into[key] = into.get(key, 0) + int(value)
    first = reports[0]
    return {
        "pid": first.get("root_pid", first.get("pid")),
        "pids": [r.get("pid") for r in reports],
        "upstream_pids": [r.get("pid") for r in reports if _reached_upstream(r)],
        "cpu_s_by_pid": {str(r.get("pid")): _cpu_s(r) for r in reports},
        "argv": first.get("argv", []),
        "upstream": first.get("upstream"),
        "patched": sorted({lib for r in reports for lib in r.get("patched", [])}),
        "redirects": _summed(r.get("redirects") for r in reports),
        "other_hosts": _summed(r.get("other_hosts") for r in reports),
        "files": files,
        "module_opens": sum(int(r.get("module_opens", 0)) for r in reports),
        "overhead": merge_overheads([r.get("overhead") or {} for r in reports]),
    }


def _cpu_s(report: Mapping[str, Any]) -> float:
    """The CPU a process of the tree used, by its shim's account (0: not accounted)."""
    return float((report.get("overhead") or {}).get("process_cpu_s", 0.0))


def _reached_upstream(report: Mapping[str, Any]) -> bool:
    """Whether a process redirected a Salesforce call or connected to the mock (its token
    endpoint included): a worker, not a supervisor such as gunicorn's arbiter."""
    redirected = sum(int(n) for n in (report.get("redirects") or {}).values())
    return redirected > 0 or int(report.get("mock_connections") or 0) > 0


def target_processes(report: Mapping[str, Any] | None) -> int | None:
    """How many processes of a launched target reached the upstream, by the shim's merged report
    (all it saw when none did yet; None: not launched under the shim). A supervisor fetches no
    token and calls nothing: counting it halves a one-worker gateway's share (R79)."""
    pids = (report or {}).get("pids") or ()
    return len((report or {}).get("upstream_pids") or pids) or None


def _summed(counts: Iterable[Mapping[str, int] | None]) -> dict[str, int]:
    """Counts per key summed over processes (`redirects`, `other_hosts` per host)."""
    total: dict[str, int] = {}
    for part in counts:
        for key, count in (part or {}).items():
            total[key] = total.get(key, 0) + int(count)
    return total


def merge_overheads(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The shim's cost over a process tree: each additive field summed, the root's unit costs;
    {} when no process accounted for it (a shim from before the accounting)."""
    counted = [part for part in parts if "shim_cpu_s" in part]
    if not counted:
        return {}
    merged: dict[str, Any] = {k: sum(float(p.get(k, 0)) for p in counted) for k in OVERHEAD_FIELDS}
    return {**merged, "unit_ns": dict(counted[0].get("unit_ns", {}))}


def read_io_report(path: Path, ended: Path | None = None) -> dict[str, Any] | None:
    """The merged io report of a launched process tree; None when no process wrote one. With
    `ended` (the tree's io report, when `path` is a snapshot's), the final reports of the
    processes that ended without answering the snapshot count too: a process started for one
    request lives between two snapshots (R96)."""
    reports = _read_parts(path)
    if reports and ended is not None:
        answered = {report.get("pid") for report in reports}
        reports += [r for r in _read_parts(ended) if r.get("pid") not in answered]
    return merge_reports(reports) if reports else None


def _read_parts(path: Path) -> list[dict[str, Any]]:
    reports = []
    for part in report_parts(path):
        try:
            reports.append(json.loads(part.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a process killed mid-run leaves no report: the others still count
    return reports


def clear_io_report(path: Path) -> None:
    """Remove a tree's io report and its parts: a target launched again in one run (validate's
    steps) starts a report of its own, without the pids of the processes of its last start."""
    for part in report_parts(path):
        part.unlink(missing_ok=True)


def redirects_by_process(path: Path) -> tuple[int | None, dict[int, int]]:
    """(the root's pid, {pid: Salesforce requests or connections the shim redirected, or the
    connections made to the mock, redirected or not, if more}) of a launched tree, from its io
    report parts: the processes that called the upstream served."""
    root_pid: int | None = None
    calls: dict[int, int] = {}
    for part in report_parts(path):
        try:
            report = json.loads(part.read_text(encoding="utf-8"))
            pid = int(report["pid"])
            root_pid = int(report.get("root_pid") or root_pid or 0) or None
            redirected = sum(int(n) for n in (report.get("redirects") or {}).values())
            calls[pid] = max(redirected, int(report.get("mock_connections") or 0))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return root_pid, calls


def collect_io_report(path: Path) -> dict[str, Any] | None:
    """Merge the parts into `path` (atomically) and remove them; returns the merged report."""
    parts = report_parts(path)
    merged = read_io_report(path)
    if merged is None:
        return None
    if parts != [path]:
        atomic_write_text(path, json.dumps(merged, indent=1, sort_keys=True))
        for part in parts:
            if part != path:
                part.unlink(missing_ok=True)
    return merged


def io_series(report: Mapping[str, Any], paths: Sequence[str] | None = None) -> list[Series]:
    """Totals of an io report as count series (`file_opens`, `file_reads`, `file_writes`,
    `module_opens`, `salesforce_redirects`), over `paths` only when given (e.g. a token file)."""
    files = report.get("files", {})
    chosen = [files[p] for p in files if paths is None or p in paths]
    totals = {k: float(sum(int(e.get(k, 0)) for e in chosen)) for k in ("opens", "reads", "writes")}
    redirects = float(sum(int(n) for n in report.get("redirects", {}).values()))
    return [
        Series("file_opens", "count", (totals["opens"],)),
        Series("file_reads", "count", (totals["reads"],)),
        Series("file_writes", "count", (totals["writes"],)),
        Series("module_opens", "count", (float(report.get("module_opens", 0)),)),
        Series("salesforce_redirects", "count", (redirects,)),
    ]


def request_snapshot(
    control: Path,
    io_report: Path,
    label: str,
    *,
    timeout_s: float = SNAPSHOT_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any] | None:
    """Ask every shimmed process of a launched target for its counts now; the merged report, or
    None when no process answered within `timeout_s` (not Python, or the shim did not load)."""
    control.mkdir(parents=True, exist_ok=True)
    (control / label).touch()
    root = Path(snapshot_path(str(io_report), label))
    deadline_s = clock() + timeout_s
    while not root.exists() and clock() < deadline_s:
        sleep(0.02)
    if root.exists():
        sleep(DESCENDANT_WAIT_S)
    return read_io_report(root, ended=io_report)


def io_delta(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    """The counts of `after` minus those of `before` (per path, per host): what a window did."""
    earlier = before or {}
    files: dict[str, dict[str, int]] = {}
    for path, entry in after.get("files", {}).items():
        old = earlier.get("files", {}).get(path, {})
        diff = {k: int(v) - int(old.get(k, 0)) for k, v in entry.items()}
        if any(diff.values()):
            files[path] = diff
    redirects = {host: int(n) - int(earlier.get("redirects", {}).get(host, 0))
                 for host, n in after.get("redirects", {}).items()}  # fmt: skip
    module_opens = int(after.get("module_opens", 0)) - int(earlier.get("module_opens", 0))
    overhead = dict(after.get("overhead") or {})
    if overhead:
        old = earlier.get("overhead") or {}
        # A process that ended inside the window takes its counts with it: never below zero.
        overhead.update({k: max(float(overhead.get(k, 0)) - float(old.get(k, 0)), 0.0)
                         for k in OVERHEAD_FIELDS})  # fmt: skip
    known = set(earlier.get("pids") or ())
    started = [pid for pid in after.get("pids") or () if pid not in known]
    return {**after, "files": files, "redirects": redirects, "module_opens": module_opens,
            "overhead": overhead, "started_pids": started}  # fmt: skip


def shim_cost(
    io: Mapping[str, Any], requests: int, window_s: float | None = None
) -> dict[str, Any] | None:
    """What the shim cost a launched target over a window (an `io_delta`) of `window_s` in
    which the client made `requests`, beside the target's own CPU: in all (`shim_cpu_ms`,
    `cpu_share`), and apart the work it did on the target's requests (`work_*`: events, opens
    and checks at their unit costs) and its snapshot pollers' background CPU (`poller_*`), which
    is paid per second whatever the requests. None when the shim kept no account."""
    overhead = io.get("overhead") or {}
    if "shim_cpu_s" not in overhead:
        return None
    shim_ms, target_ms = 1000 * overhead["shim_cpu_s"], 1000 * overhead["process_cpu_s"]
    counts = {k: int(overhead[k]) for k in ("audit_events", "opens", "host_checks", "url_checks")}
    poller_ms = min(1000 * float(overhead.get("poller_cpu_s", 0.0)), shim_ms)
    work_ms = shim_ms - poller_ms
    share = shim_ms / target_ms if target_ms > 0 else None
    return {
        "requests": requests,
        "shim_cpu_ms": round(shim_ms, 3),
        "target_cpu_ms": round(target_ms, 3),
        "cpu_share": share,
        # What CPU per request would be without the shim over what it was with it.
        "cpu_ratio": 1 - share if share is not None else None,
        "shim_us_per_request": 1000 * shim_ms / requests if requests else None,
        "target_cpu_ms_per_request": target_ms / requests if requests else None,
        "work_cpu_ms": round(work_ms, 3),
        "work_us_per_request": 1000 * work_ms / requests if requests else None,
        "work_share": work_ms / target_ms if target_ms > 0 else None,
        "poller_cpu_ms": round(poller_ms, 3),
        "poller_ms_per_s": poller_ms / window_s if window_s else None,
        "processes": len(io.get("pids") or ()) or 1,
        "window_s": window_s,
        **counts,
        "unit_ns": dict(overhead.get("unit_ns", {})),
    }
