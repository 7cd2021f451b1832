"""`sfperf profile`: pyinstrument on a gateway under a short load (HTML, text, session files)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.commands._output import add_output_options, measure, run_dir
from harness.commands._target import (
    add_start_timeout_option,
    add_target_header_option,
    add_target_tls_options,
    headers_from_args,
    tls_from_args,
)
from harness.profile_packages import shares_text
from harness.records import RunRecord

if TYPE_CHECKING:  # the runners import numpy, aiohttp...: only when a command runs
    from harness.runners.profiling import ProfilingPlan

QUICK_REQUESTS = 300
QUICK_DURATION_S = 5.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="profile a reference gateway variant (or a launched Python gateway) under load",
        description="Run the target under pyinstrument against the mock and drive a short load.",
    )
    parser.add_argument(
        "--variant", action="append", default=[],
        help="reference gateway variant (repeat to profile several; default: async)",
    )  # fmt: skip
    parser.add_argument(
        "--launch", metavar="CMD",
        help="profile this Python program instead: 'python app.py ...' or 'python -m pkg ...'",
    )  # fmt: skip
    parser.add_argument("--target-url", help="where --launch listens, if it prints no URL")
    parser.add_argument(
        "--model", default="",
        help="model name sent to --launch (default: the first one GET /v1/models lists that "
        "answers a probe request; gpt-4o-mini to a variant)",
    )  # fmt: skip
    add_target_header_option(parser)
    add_target_tls_options(parser)
    add_start_timeout_option(parser)
    parser.add_argument("--requests", type=int, default=None, help="requests to send (2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--duration", type=float, default=None, help="load time cap, s (10)")
    parser.add_argument("--interval", type=float, default=0.001, help="sampling interval, s")
    parser.add_argument("--mock-profile", default="fast", help="mock profile (default: fast)")
    parser.add_argument("--top", type=int, default=20, help="functions kept as share: series")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.runners.profiling import run_profiling
    from harness.runners.support.progress import progress_bar

    plans = make_plans(args)
    directory = run_dir(args.out, append=args.append)
    names = ", ".join(plan.name for plan in plans)
    with progress_bar(sum(p.requests for p in plans), f"profile {names}") as advance:
        records = measure(
            directory, lambda keep: run_profiling(plans, directory, advance=advance, keep=keep)
        )
    print_summary(records)
    return 0


def make_plans(args: argparse.Namespace) -> list[ProfilingPlan]:
    """One ProfilingPlan per target the options name; UsageError on nonsense."""
    from dataclasses import replace

    from harness.errors import UsageError
    from harness.runners.profiling import ProfilingPlan
    from harness.targets.spec import check_start_timeout, check_url, check_variant

    if args.launch and args.variant:
        raise UsageError("give --variant or --launch, not both")
    if args.target_url and not args.launch:
        raise UsageError("--target-url goes with --launch (the command that listens there)")
    quick = args.quick
    requests = args.requests or (QUICK_REQUESTS if quick else ProfilingPlan.requests)
    duration_s = args.duration or (QUICK_DURATION_S if quick else ProfilingPlan.max_duration_s)
    if requests < 1 or args.concurrency < 1 or duration_s <= 0 or args.top < 1:
        raise UsageError("--requests, --concurrency, --duration and --top must be positive")
    if not 0 < args.interval <= 1:
        raise UsageError(f"--interval must be in (0, 1] seconds, not {args.interval}")
    base = ProfilingPlan(
        launch=args.launch,
        target_url=check_url(args.target_url) if args.target_url else None,  # loopback only
        requests=requests,
        concurrency=args.concurrency,
        max_duration_s=duration_s,
        interval_s=args.interval,
        mock_profile=args.mock_profile,
        top=args.top,
        headers=headers_from_args(args, users_target=bool(args.launch)),
        tls=tls_from_args(args),
        model=args.model,
        start_timeout_s=check_start_timeout(args.start_timeout),
    )
    variants = dict.fromkeys(args.variant or [base.variant])
    return [replace(base, variant=check_variant(variant)) for variant in variants]


def print_summary(records: Sequence[RunRecord]) -> None:
    """The top functions and where the profile files are."""
    for record in records:
        ok = record.get("ok").values
        if "profile_error" in record.params:
            print(f"profile of {record.labels['variant']}: {record.params['profile_error']}")
            continue
        idle = record.params.get("idle_share", 0.0)
        print(f"profile of {record.labels['variant']}: {len(ok)} requests, {sum(ok):.0f} ok; "
              f"{idle:.1%} of samples waiting (poll, locks, idle workers); busiest:")  # fmt: skip
        packages = record.params.get("package_shares") or {}
        if packages:
            gateway = record.params.get("gateway_packages") or ()
            print(f"  by package (working samples): {shares_text(packages, gateway)}")
        processes = record.params.get("processes") or ()
        if len(processes) > 1 or any(
            p.get("profiled") and p.get("upstream_redirects") == 0 for p in processes
        ):
            print(f"  {record.params['profiled_processes']}")
        for series in record.series:
            if series.name.startswith("share:"):
                print(f"  {series.values[0]:6.1%}  {series.name[len('share:') :]}")
        for artifact in record.artifacts:
            print(f"  file: {artifact}")
