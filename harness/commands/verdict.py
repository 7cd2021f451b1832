"""`sfperf verdict`: grade how a target treats its upstream (retries, tokens, protocol).

Either grade the journal of a running mock (`--mock URL`), or run a scenario that provokes every
mistake (`--scenario resilience`: its own mock and target, unless `--target-url` with `--mock`)
and grade that. Prints the findings, appends the records to the run directory and, with
`--fail-on`, exits 1 when a finding is at least that severe.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.commands._output import add_output_options, measure, run_dir
from harness.commands._target import (
    add_start_timeout_option,
    add_target_header_option,
    add_target_tls_options,
    headers_from_args,
    tls_from_args,
)
from harness.errors import UsageError
from harness.records import RunRecord

SEVERITIES = ("FAIL", "WARN")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verdict",
        help="grade how a target treats its upstream, from the mock's request journal",
        description="Findings on retries, tokens and protocol from what the mock saw.",
    )
    parser.add_argument("--mock", metavar="URL", help="the mock whose journal is graded")
    parser.add_argument(
        "--scenario", choices=("resilience",), help="first run this scenario against a target"
    )
    parser.add_argument(
        "--since",
        type=int,
        default=0,
        metavar="SEQ",
        help="grade only entries after this journal seq",
    )
    parser.add_argument("--target", default="", help="name of the graded target (record label)")
    parser.add_argument(
        "--fail-on", type=str.upper, choices=SEVERITIES, help="exit 1 on a finding this severe"
    )
    parser.add_argument("--admin-token", help="bearer token of the mock's admin API")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--max-attempts", type=int, default=5, help="attempts per call allowed")
    parser.add_argument("--hang-wait", type=float, default=35.0, metavar="SECONDS",
                        help="waiting longer on a hung request means no read timeout")  # fmt: skip
    target = parser.add_argument_group("scenario target (default: the reference 'async' gateway)")
    target.add_argument("--variant", help="a reference gateway variant, e.g. async, sync-legacy")
    target.add_argument("--target-url", help="a gateway already running in front of --mock")
    target.add_argument("--launch", metavar="CMD", help="start this gateway command (shimmed)")
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback URL")
    target.add_argument("--duration", help="scenario run time, e.g. 10m (default 10m; quick 10s)")
    target.add_argument("--users", type=int, default=4, help="concurrent users of the scenario")
    target.add_argument(
        "--model", default="",
        help="model name sent to the target (default: gpt-4o-mini to a reference variant; to "
        "your gateway, the first one GET /v1/models lists that answers a probe request)",
    )  # fmt: skip
    add_target_header_option(target)
    add_target_tls_options(target)
    add_start_timeout_option(target)
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Grade (after running the scenario, if asked), save, print; 1 when `--fail-on` is met."""
    from harness.findings import findings_from_record
    from harness.targets.spec import check_mock_url

    if args.max_attempts < 1 or args.hang_wait <= 0:
        raise UsageError("--max-attempts must be >= 1 and --hang-wait > 0")
    if args.mock:  # the mock is held to the targets' loopback rule
        check_mock_url(args.mock, allow_remote=args.allow_remote, option="--mock")

    directory = run_dir(args.out, append=args.append)
    records = measure(
        directory,
        lambda keep: (
            run_scenario(args, directory) if args.scenario else [grade_mock(args, directory)]
        ),
    )
    verdict = records[-1]
    findings = findings_from_record(verdict)
    show(verdict, findings, as_json=args.json)
    return 1 if fails(findings, args.fail_on) else 0


def grade_mock(args: argparse.Namespace, directory: Path) -> RunRecord:
    """The verdict record of the journal of the running mock `--mock` (kept beside it)."""
    from harness.findings import findings_record, grade_journal
    from harness.findings.journal import fetch_journal, save_journal
    from harness.records import now_iso

    if not args.mock:
        raise UsageError("give --mock URL (a running mock) or --scenario resilience")
    started_at, t0 = now_iso(), time.monotonic()
    journal = fetch_journal(args.mock, args.since, args.admin_token)
    policy = policy_from_args(args)
    params = {"mock": args.mock, "since": args.since, "last_seq": journal.last_seq,
              "entries": len(journal.entries), "policy": policy.as_dict()}  # fmt: skip
    target = args.target or "unknown"
    saved = save_journal(directory, target, journal.entries)
    return findings_record(
        grade_journal(journal.entries, policy), target, params=params, started_at=started_at,
        duration_s=time.monotonic() - t0, partial=journal.lost, artifacts=[saved],
    )  # fmt: skip


def policy_from_args(args: argparse.Namespace) -> Any:
    """The GradingPolicy the options describe."""
    from harness.findings import GradingPolicy

    return GradingPolicy(max_attempts=args.max_attempts, hang_wait_s=args.hang_wait)


def run_scenario(args: argparse.Namespace, directory: Path) -> list[RunRecord]:
    """Run the resilience scenario against the chosen target and grade it."""
    from harness.runners.resilience import DEFAULT_DURATION_S, QUICK_DURATION_S, run_resilience
    from harness.runners.support.progress import progress_bar
    from harness.runners.support.workloads import parse_duration_s
    from harness.settings import load_settings
    from harness.targets import target_from_args

    if args.mock and not args.target_url:
        raise UsageError("--mock with --scenario names the mock behind --target-url")
    users = bool(args.target_url or args.launch)
    spec = target_from_args(args.variant, args.target_url, args.launch, name=args.target,
                            allow_remote=args.allow_remote, start_timeout_s=args.start_timeout,
                            headers=headers_from_args(args, users_target=users),
                            tls=tls_from_args(args))  # fmt: skip
    quick_or_full_s = QUICK_DURATION_S if args.quick else DEFAULT_DURATION_S
    duration_s = parse_duration_s(args.duration) if args.duration else quick_or_full_s
    if args.users < 1:
        raise UsageError("--users must be >= 1")
    with progress_bar(duration_s, f"verdict resilience -> {spec.name}") as advance:
        return run_resilience(
            spec, directory, duration_s=duration_s, users=args.users,
            seed=load_settings().seed, mock_url=args.mock or "", admin_token=args.admin_token,
            policy=policy_from_args(args), advance=advance, model=scenario_model(args, spec),
        )  # fmt: skip


def scenario_model(args: argparse.Namespace, spec: Any) -> str | None:
    """The model the scenario sends: `--model`, the default to a reference variant, else None
    (discovered on the target, as `sfperf load` does: R138)."""
    from harness.targets.discovery import DEFAULT_MODEL

    return args.model or (DEFAULT_MODEL if spec.kind == "variant" else None)


def fails(findings: Sequence[Any], fail_on: str | None) -> bool:
    """Whether a finding is at least as severe as `fail_on` (never, without it)."""
    from harness.findings import Severity, worst

    severity = worst(findings)
    return bool(fail_on) and severity is not None and severity.rank >= Severity(fail_on).rank


def show(verdict: RunRecord, findings: Sequence[Any], *, as_json: bool) -> None:
    """The findings as JSON (for tools) or as a table with a note on what the run could not see."""
    if as_json:
        print(json.dumps([f.as_dict() for f in findings], indent=2))
        return
    params = verdict.params
    print_findings(findings, verdict.labels["target"], params["entries"], verdict.partial)
    if params.get("proves_read_timeout") is False:
        print("note: this run's hangs are too short to catch a missing read timeout (run >= 2m)")


def print_findings(findings: Sequence[Any], target: str, entries: int, partial: bool) -> None:
    """The findings as a rich table (or one line when the target is clean)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # CI logs: wide enough that the explanations stay readable
        console = Console(width=160)
    title = f"verdict for {target}: {entries} journal entries"
    if partial:
        title += " (partial: the run was cut short or the journal dropped entries)"
    if not findings:
        console.print(f"{title}: no findings")
        return
    table = Table(title=title)
    for column in ("severity", "finding", "count", "examples", "why"):
        table.add_column(column, overflow="fold")
    colours = {"FAIL": "red", "WARN": "yellow", "INFO": "cyan"}
    for f in findings:
        severity = str(f.severity)
        table.add_row(f"[{colours[severity]}]{severity}[/]", f.name, str(f.count),
                      " ".join(f.examples[:2]), f.explanation)  # fmt: skip
    console.print(table)
