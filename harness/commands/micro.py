"""`sfperf micro`: extraction and token-validation microbenchmarks (pytest-benchmark)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.commands._output import add_output_options, measure, run_dir
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
    from harness.runners.micro import run_micro
    from harness.runners.support.progress import progress_bar
    from harness.settings import load_settings

    plan = make_plan(args, load_settings().seed)
    directory = run_dir(args.out, append=args.append)
    with progress_bar(plan.benchmark_count, "micro benchmarks") as advance:
        records = measure(directory, lambda keep: run_micro(plan, directory, advance=advance))
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
    """Extraction medians side by side per shape (ratio to the first extractor), path hit rates
    per profile, token validation cost and file I/O per provider."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a pipe or a CI log: do not squeeze the tables to 80
    for table in (extract_table(records), paths_table(records), tokens_table(records)):
        if table.row_count:
            console.print(table)
    for record in (r for r in records if r.scenario == "extract-paths"):
        if says := (record.params.get("raised") or {}).get("says"):
            console.print(says, markup=False, highlight=False)


def _median_us(record: RunRecord) -> float:
    import statistics

    return statistics.median(record.get("time_s").values) * 1e6


def extract_table(records: Sequence[RunRecord]) -> Any:
    """Rows: shapes; columns: median us per call of each extractor, then its ratio to the first
    ("raised": a user's extractor was timed raising on that shape)."""
    from rich.table import Table

    timed = [r for r in records if r.scenario == "extract" and "time_s" in r.series_names]
    extractors = list(dict.fromkeys(r.labels["extractor"] for r in timed))
    table = Table(
        title="extraction: median us per call (ratio to " + (extractors or ["-"])[0] + ")"
    )
    table.add_column("shape")
    for name in extractors:
        table.add_column(name, justify="right")
    for shape in dict.fromkeys(r.labels["shape"] for r in timed):
        of_shape = [r for r in timed if r.labels["shape"] == shape]
        medians = {r.labels["extractor"]: _median_us(r) for r in of_shape}
        raised = {r.labels["extractor"] for r in of_shape if r.params.get("raised")}
        base = medians.get(extractors[0])
        # A raise timed is no extraction: no speed ratio beside it.
        cells = [f"{medians[name]:.3f} raised" if name in raised else _cell(medians.get(name), base)
                 for name in extractors]  # fmt: skip
        table.add_row(shape, *cells)
    return table


def _cell(median_us: float | None, base_us: float | None) -> str:
    if median_us is None:
        return "-"
    ratio = f" ({median_us / base_us:.2f}x)" if base_us else ""
    return f"{median_us:.3f}{ratio}"


def paths_table(records: Sequence[RunRecord]) -> Any:
    """First-path hit rate, fallback rate, mean lookups and correct text, per extractor/profile."""
    import statistics

    from rich.table import Table

    table = Table(title="extraction paths over each profile's shape mix")
    columns = ("extractor", "profile", "first path", "fallback", "lookups", "right text", "raised")
    for column in columns:
        table.add_column(column, justify="left" if column in ("extractor", "profile") else "right")
    for record in (r for r in records if r.scenario == "extract-paths"):
        ranks = record.get("path_rank").values
        first = sum(1 for rank in ranks if rank == 1) / len(ranks)
        fallback, lookups, matched = (statistics.fmean(record.get(n).values)
                                      for n in ("fallback", "lookups", "matched"))  # fmt: skip
        raised = (f"{statistics.fmean(record.get('raised').values):.1%}"
                  if "raised" in record.series_names else "-")  # fmt: skip
        table.add_row(record.labels["extractor"], record.labels["profile"], f"{first:.1%}",
                      f"{fallback:.1%}", f"{lookups:.2f}", f"{matched:.1%}", raised)  # fmt: skip
    return table


def tokens_table(records: Sequence[RunRecord]) -> Any:
    """Median validation cost and file reads/writes per validation, per provider."""
    import statistics

    from rich.table import Table

    table = Table(title="token validation")
    for column in ("provider", "median us", "file reads/validation", "file writes/validation"):
        table.add_column(column, justify="left" if column == "provider" else "right")
    for record in (r for r in records if r.scenario == "token-validate"):
        names = record.series_names
        median = f"{_median_us(record):.3f}" if "time_s" in names else "-"
        per_call = [f"{statistics.fmean(record.get(n).values):.4f}" if n in names else "-"
                    for n in ("file_reads", "file_writes")]  # fmt: skip
        table.add_row(record.labels["provider"], median, *per_call)
    return table
