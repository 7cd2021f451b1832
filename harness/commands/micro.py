"""`sfperf micro`: extraction and token-validation microbenchmarks (pytest-benchmark)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.commands._output import add_output_options, run_dir, save
from harness.records import RunRecord

if TYPE_CHECKING:  # the runners import numpy, aiohttp...: only when a command runs
    from harness.runners.micro import MicroPlan


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "micro",
        help="extraction time per shape and mix, path hit rates, token validation cost and I/O",
        description="Run the pytest-benchmark suites in scenarios/micro/ in a child process.",
    )
    parser.add_argument(
        "--extractor", action="append", default=[], metavar="SPEC",
        help="extractor to measure: legacy, priority or pkg.mod:func (repeat; default: legacy "
        "and priority; a pkg.mod:func is measured beside them)",
    )  # fmt: skip
    parser.add_argument(
        "--token-provider", action="append", default=[], metavar="SPEC",
        help="token provider: file, memory-ttl or pkg.mod:Class(store=, fetch=, clock=) (repeat)",
    )  # fmt: skip
    parser.add_argument(
        "--shape", action="append", default=[], metavar="NAME",
        help="response shape to time extraction on (repeat; default: every text shape)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="append", default=[], metavar="NAME",
        help="mock profile whose shape mix to measure (repeat; default: default, mixed-shapes)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="seed of the mock's replies")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.runners._progress import progress_bar
    from harness.runners.interrupted import Interrupted
    from harness.runners.micro import run_micro
    from harness.settings import load_settings

    plan = make_plan(args, load_settings().seed)
    directory = run_dir(args.out)
    with progress_bar(plan.benchmark_count, "micro benchmarks") as advance:
        try:
            records = run_micro(plan, directory, advance=advance)
        except Interrupted as stop:
            save(directory, stop.records)
            raise
    save(directory, records)
    print_summary(records)
    return 0


def make_plan(args: argparse.Namespace, default_seed: int) -> MicroPlan:
    """The MicroPlan the options ask for; user extractors are measured beside the references."""
    from harness.runners.micro import MicroPlan

    base = MicroPlan()
    extractors = tuple(args.extractor)
    if extractors and all(":" in spec for spec in extractors):
        extractors = base.extractors + extractors
    return MicroPlan(
        extractors=tuple(dict.fromkeys(extractors)) or base.extractors,
        shapes=tuple(args.shape),
        profiles=tuple(args.profile) or base.profiles,
        providers=tuple(args.token_provider) or base.providers,
        quick=args.quick,
        seed=default_seed if args.seed is None else args.seed,
    )


def print_summary(records: Sequence[RunRecord]) -> None:
    """Median time per call and, for path records, the first-path hit rate."""
    import statistics

    for record in records:
        labels = " ".join(f"{k}={v}" for k, v in record.labels.items())
        if "time_s" in record.series_names:
            median_us = statistics.median(record.get("time_s").values) * 1e6
            print(f"{record.scenario:15} {labels:55} median {median_us:9.3f} us/call")
        if record.scenario == "extract-paths":
            ranks = record.get("path_rank").values
            first = sum(1 for rank in ranks if rank == 1) / len(ranks)
            fallback = statistics.fmean(record.get("fallback").values)
            print(f"{record.scenario:15} {labels:55} first path {first:6.1%}  "
                  f"fallback {fallback:6.1%}")  # fmt: skip
