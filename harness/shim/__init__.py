"""The start-up shim, host side: the environment that injects it into a child, and its io report.

The shim itself lives in `startup/` (a `sitecustomize` plus the stdlib-only `sfperf_shim`
package) because it runs inside the launched program, not in sfperf.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.records import Series
from harness.shim.startup.sfperf_shim import ENV_IO_REPORT, ENV_ROOT_PID, ENV_UPSTREAM
from harness.store import atomic_write_text

STARTUP_DIR = Path(__file__).resolve().parent / "startup"
ENV_MOCK_URL = "SFPERF_MOCK_URL"


def shim_env(upstream: str, io_report: Path | None, base: Mapping[str, str]) -> dict[str, str]:
    """`base` plus the shim: its directory first on PYTHONPATH, the mock URL, the report path."""
    env = {k: v for k, v in base.items() if k != ENV_ROOT_PID}
    existing = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(STARTUP_DIR), existing) if p)
    env[ENV_UPSTREAM] = upstream
    env[ENV_MOCK_URL] = upstream  # for programs that read their upstream from the environment
    if io_report is not None:
        env[ENV_IO_REPORT] = str(io_report.resolve())
    else:
        env.pop(ENV_IO_REPORT, None)
    return env


def report_parts(path: Path) -> list[Path]:
    """The root report and those of descendant processes (`path.<pid>`), root first."""
    parts = sorted(path.parent.glob(f"{path.name}.*"))
    descendants = [p for p in parts if p.name[len(path.name) + 1 :].isdigit()]
    return ([path] if path.exists() else []) + descendants


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report for a process tree: counts summed over processes, per path and per host."""
    files: dict[str, dict[str, int]] = {}
    redirects: dict[str, int] = {}
    for report in reports:
        for path, entry in report.get("files", {}).items():
            into = files.setdefault(path, {"opens": 0, "reads": 0, "writes": 0})
            for key, value in entry.items():
                into[key] = into.get(key, 0) + int(value)
        for host, count in report.get("redirects", {}).items():
            redirects[host] = redirects.get(host, 0) + int(count)
    first = reports[0]
    return {
        "pid": first.get("root_pid", first.get("pid")),
        "pids": [r.get("pid") for r in reports],
        "argv": first.get("argv", []),
        "upstream": first.get("upstream"),
        "patched": sorted({lib for r in reports for lib in r.get("patched", [])}),
        "redirects": redirects,
        "files": files,
        "module_opens": sum(int(r.get("module_opens", 0)) for r in reports),
    }


def read_io_report(path: Path) -> dict[str, Any] | None:
    """The merged io report of a launched process tree; None when no process wrote one."""
    reports = []
    for part in report_parts(path):
        try:
            reports.append(json.loads(part.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a process killed mid-run leaves no report: the others still count
    return merge_reports(reports) if reports else None


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
