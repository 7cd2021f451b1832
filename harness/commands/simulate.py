"""`sfperf simulate`: the token cache in virtual time (a day of requests in seconds)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands._output import add_output_options, measure, run_dir
from harness.records import RunRecord

if TYPE_CHECKING:  # the runners import numpy, aiohttp...: only when a command runs
    from harness.runners.support.workloads import Workload

QUICK_HOURS = 6.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="token cache hit rates, refreshes and file I/O over hours of virtual time",
        description="Run the real token providers against a fake OAuth upstream in virtual time.",
    )
    parser.add_argument(
        "workload", nargs="?", default="seed-report",
        help="a workload name from scenarios/workloads/ (default seed-report) or a TOML path",
    )  # fmt: skip
    parser.add_argument(
        "--provider", action="append", default=[], metavar="SPEC",
        help="replace the workload's providers (repeat): file[:buffer=5m], "
        "memory-ttl[:ttl=25m,buffer=5m] or class:pkg.mod:Class[,ttl=..,buffer=..]",
    )  # fmt: skip
    parser.add_argument("--arrivals", choices=("poisson", "fixed"), help="arrival process")
    parser.add_argument("--recording", type=Path, help="replay arrival times from this file")
    parser.add_argument("--rate-rpm", type=float, help="requests per minute (poisson, fixed)")
    parser.add_argument("--hours", type=float, help="virtual duration in hours")
    parser.add_argument("--token-lifetime", help="upstream token lifetime, e.g. 1800s or 30m")
    parser.add_argument(
        "--mock-profile", metavar="NAME",
        help="take the token lifetime from this mock profile (name or file)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, help="seed of the Poisson arrivals")
    parser.add_argument(
        "--on-expired", choices=("ignore", "refresh"),
        help="when a token was expired: only count it (ignore), or also invalidate the provider "
        "and resend, as a client does after a 401 (refresh)",
    )  # fmt: skip
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.runners.simulate import run_simulation
    from harness.runners.support.progress import progress_bar

    workload = resolve_workload(args)
    directory = run_dir(args.out, append=args.append)
    steps = len(workload.providers) * max(1, int(workload.duration_h + 0.999))
    with progress_bar(steps, f"simulate {workload.name}") as advance:
        records = measure(directory, lambda keep: run_simulation(workload, advance=advance))
    print_summary(records)
    return 0


def resolve_workload(args: argparse.Namespace) -> Workload:
    """The workload named on the command line with every override applied."""
    from harness.errors import UsageError
    from harness.runners.support.workloads import (
        Arrivals,
        check_arrivals,
        load_workload,
        parse_provider,
    )

    workload = load_workload(args.workload)
    base = workload.arrivals
    arrivals = Arrivals(
        kind="recorded" if args.recording else (args.arrivals or base.kind),
        rate_rpm=base.rate_rpm if args.rate_rpm is None else args.rate_rpm,
        path=args.recording or base.path,
    )
    if args.hours is not None and not args.hours > 0:
        raise UsageError(f"--hours must be > 0, not {args.hours}")
    hours = args.hours or workload.duration_h
    return workload.with_overrides(
        arrivals=check_arrivals(arrivals),
        duration_h=min(hours, QUICK_HOURS) if args.quick else hours,
        providers=tuple(parse_provider(p) for p in args.provider) or None,
        token_lifetime_s=token_lifetime_s(args),
        seed=args.seed,
        on_expired=args.on_expired,
    )


def token_lifetime_s(args: argparse.Namespace) -> float | None:
    """`--token-lifetime`, or the lifetime of the tokens `--mock-profile` issues, or None."""
    from harness.errors import UsageError
    from harness.runners.support.workloads import parse_duration_s

    if args.token_lifetime and args.mock_profile:
        raise UsageError("give --token-lifetime or --mock-profile, not both")
    if args.token_lifetime:
        return parse_duration_s(args.token_lifetime)
    if not args.mock_profile:
        return None
    from mock_salesforce.config import load_profile
    from mock_salesforce.errors import ConfigError

    try:
        return load_profile(args.mock_profile).token_lifetime_s
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def print_summary(records: Sequence[RunRecord]) -> None:
    """One line per provider config: requests, hit rate with its 95% interval (batch means over
    virtual hours), per-hour refreshes and file I/O, requests sent with an expired token."""
    from rich.console import Console
    from rich.table import Table

    from harness.runners.simulate import hit_rate_interval

    table = Table(title="token cache in virtual time")
    for column in ("config", "requests", "hit rate [95% CI]", "refreshes/h", "file reads/h",
                   "file writes/h", "expired sends"):  # fmt: skip
        table.add_column(column, justify="left" if column == "config" else "right")
    for record in records:
        totals = {s.name: sum(s.values) for s in record.series}
        hours = max(1, len(record.get("requests").values))
        requests = totals["requests"]
        rate = "-"
        if requests:
            low, high = hit_rate_interval(record)
            rate = f"{totals['hits'] / requests:.2%} [{low:.2%}, {high:.2%}]"
        per_hour = (f"{totals[k] / hours:,.1f}" for k in ("refreshes", "file_reads", "file_writes"))
        name = record.labels.get("config", "") + (" (partial)" if record.partial else "")
        table.add_row(name, f"{requests:,.0f}", rate, *per_hour, f"{totals['expired_sends']:,.0f}")
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a pipe or a CI log: do not squeeze the table to 80
    console.print(table)
