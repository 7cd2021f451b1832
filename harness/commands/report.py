"""`sfperf report DIR [DIR2]`: render a run's report, or compare two runs side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render report.md, index.html, CSV and PNG for a run (or compare two runs)",
        description="With one DIR: write the report into it. With DIR and DIR2: write "
        "compare.md/compare.html (baseline DIR, candidate DIR2) into --out (default DIR2).",
    )
    parser.add_argument("run_dir", type=Path, metavar="DIR")
    parser.add_argument("candidate_dir", type=Path, nargs="?", metavar="DIR2")
    parser.add_argument("--out", type=Path, help="where a comparison goes (default: DIR2)")
    parser.add_argument("--title", default="sfperf report")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.store import load_records

    if args.candidate_dir is not None:
        from reports.compare import write_comparison

        written = write_comparison(args.out or args.candidate_dir, args.run_dir, args.candidate_dir)
    else:
        from reports.render import write_report

        written = write_report(args.run_dir, load_records(args.run_dir), title=args.title)
    print(written[-1])
    return 0
