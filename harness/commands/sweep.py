"""`sfperf sweep`: sync versus async concurrency, beside Little's-law bound (concurrency / L)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from harness.commands._output import add_output_options, measure, run_dir
from harness.errors import UsageError
from harness.records import RunRecord

QUICK_DURATION_S = 1.5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="sync vs async: throughput and latency per concurrency level and upstream latency",
        description="Closed-loop sweep of the upstream clients and gateway variants over "
        "concurrency levels, against the mock at a fixed upstream latency.",
    )
    parser.add_argument("--levels", help="concurrency levels (default 1,2,4,...,256; quick 1,8,32)")
    parser.add_argument(
        "--upstream-latency",
        default="200ms",
        help="mock latency per call, e.g. 200ms or 50ms,200ms",
    )
    parser.add_argument(
        "--subjects",
        help="comma-separated clients sync-wrapper, async, async-batching and gateway variants "
        "gateway:sync-legacy, gateway:sync-optimized, gateway:async, gateway:async-batching "
        "(default: all; sync-legacy and sync-optimized may drop the prefix)",
    )
    parser.add_argument("--duration", help="window per point, e.g. 10s (default 10s; quick 1.5s)")
    parser.add_argument("--mock-profile", default="default", help="profile of the embedded mock")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.runners.support.progress import progress_bar
    from harness.runners.sweep import reference_gateways, run_sweep
    from harness.settings import load_settings
    from harness.targets import start_mock

    plan = plan_from_args(args)
    directory = run_dir(args.out)
    seed = load_settings().seed
    with (
        start_mock(directory, profile=args.mock_profile, seed=seed) as mock,
        progress_bar(plan.steps, "sweep") as advance,
    ):
        records = measure(
            directory,
            lambda: run_sweep(
                plan, mock.url, reference_gateways(mock.url, directory), advance=advance
            ),
        )
    print_summary(records)
    return 0


def plan_from_args(args: argparse.Namespace) -> Any:
    """The SweepPlan the options describe (quick mode shrinks what was not given)."""
    from harness.runners.support.workloads import parse_duration_s
    from harness.runners.sweep import (
        DEFAULT_LEVELS,
        QUICK_LEVELS,
        SweepPlan,
        sweep_levels,
        sweep_subjects,
    )

    levels = (
        sweep_levels(args.levels)
        if args.levels
        else (QUICK_LEVELS if args.quick else DEFAULT_LEVELS)
    )
    latencies_ms = tuple(
        1000.0 * parse_duration_s(part) for part in args.upstream_latency.split(",") if part.strip()
    )
    if args.duration is not None:
        duration_s = parse_duration_s(args.duration)
    else:
        duration_s = QUICK_DURATION_S if args.quick else 10.0
    plan_args: dict[str, Any] = {"levels": levels, "upstream_latencies_ms": latencies_ms}
    if args.subjects:
        plan_args["subjects"] = sweep_subjects(args.subjects)
    return SweepPlan(duration_s=duration_s, **plan_args)


def print_summary(records: Sequence[RunRecord]) -> None:
    """A table: subject, N, L, throughput against the bound, p50/p99 latency, errors."""
    if not records:
        raise UsageError("the sweep measured nothing")
    header = ("subject", "N", "L ms", "req/s", "bound", "p50 ms", "p99 ms", "err")
    print("{:<24}{:>5}{:>7}{:>10}{:>10}{:>9}{:>9}{:>6}".format(*header), file=sys.stdout)
    for r in records:
        latencies = sorted(r.get("latency_ms").values)
        p50 = latencies[len(latencies) // 2] if latencies else 0.0
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 0.0
        print(
            f"{r.labels['subject']:<24}{r.labels['concurrency']:>5}{r.labels['upstream_latency_ms']:>7}"
            f"{r.get('throughput_rps').values[0]:>10.1f}{r.get('littles_bound_rps').values[0]:>10.1f}"
            f"{p50:>9.1f}{p99:>9.1f}{int(r.get('errors').values[0]):>6}",
            file=sys.stdout,
        )
