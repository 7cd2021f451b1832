"""`sfperf verdict`: grade how a target treated the mock (retries, tokens, protocol).

Reads the mock's request journal, prints the findings as a table, appends a `verdict` RunRecord
to the run directory and, with `--fail-on`, exits 1 when a finding is at least that severe.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import Any

from harness.errors import UsageError

SEVERITIES = ("FAIL", "WARN")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verdict", help="grade how a target treats its upstream, from the mock's request journal"
    )
    parser.add_argument("--mock", required=True, metavar="URL", help="base URL of the mock")
    parser.add_argument("--since", type=int, default=0, metavar="SEQ", help="journal seq to skip")
    parser.add_argument("--target", default="unknown", help="name of the graded target (label)")
    parser.add_argument(
        "--fail-on",
        type=str.upper,
        choices=SEVERITIES,
        default=None,
        help="exit 1 when a finding is at least this severe",
    )
    parser.add_argument("--out", type=Path, default=None, help="run directory for results.json")
    parser.add_argument("--admin-token", default=None, help="bearer token of the mock's admin API")
    parser.add_argument("--max-attempts", type=int, default=5, help="attempts per call allowed")
    parser.add_argument(
        "--hang-wait",
        type=float,
        default=35.0,
        metavar="SECONDS",
        help="waiting this long on a hung request means no read timeout",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the journal, grade it, save and print the findings; 1 when `--fail-on` is met."""
    from harness.findings import GradingPolicy, Severity, findings_record, grade_journal, worst
    from harness.findings.journal import fetch_journal
    from harness.records import now_iso
    from harness.settings import load_settings
    from harness.store import append_records

    if args.max_attempts < 1 or args.hang_wait <= 0:
        raise UsageError("--max-attempts must be >= 1 and --hang-wait > 0")
    started_at, t0 = now_iso(), time.monotonic()
    journal = fetch_journal(args.mock, args.since, args.admin_token)
    policy = GradingPolicy(max_attempts=args.max_attempts, hang_wait_s=args.hang_wait)
    findings = grade_journal(journal.entries, policy)
    params = {
        "mock": args.mock,
        "since": args.since,
        "last_seq": journal.last_seq,
        "entries": len(journal.entries),
        "policy": policy.as_dict(),
    }
    record = findings_record(
        findings,
        args.target,
        params=params,
        started_at=started_at,
        duration_s=time.monotonic() - t0,
        partial=journal.lost,
    )
    out = args.out or load_settings().results_dir / _stamp()
    path = append_records(out, [record])
    print_findings(findings, args.target, len(journal.entries), journal.lost)
    print(f"findings saved to {path}")
    threshold = Severity(args.fail_on) if args.fail_on else None
    severity = worst(findings)
    failed = threshold is not None and severity is not None and severity.rank >= threshold.rank
    return 1 if failed else 0


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-verdict"


def print_findings(findings: Any, target: str, entries: int, lost: bool) -> None:
    """The findings as a rich table (or one line when the target is clean)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = f"verdict for {target}: {entries} journal entries"
    if lost:
        title += " (the journal ring dropped older entries: partial)"
    if not findings:
        console.print(f"{title}: no findings")
        return
    table = Table(title=title)
    for column in ("severity", "finding", "count", "examples", "why"):
        table.add_column(column, overflow="fold")
    colours = {"FAIL": "red", "WARN": "yellow", "INFO": "cyan"}
    for f in findings:
        severity = str(f.severity)
        table.add_row(
            f"[{colours[severity]}]{severity}[/]",
            f.name,
            str(f.count),
            " ".join(f.examples[:3]),
            f.explanation,
        )
    console.print(table)
