"""`sfperf report DIR [DIR2]`: render a run's report, or compare two runs side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render report.md, index.html, CSV and PNG for a run (or compare two runs)",
        description="With one DIR: write the report into it again (its title kept). With DIR "
        "and DIR2: write compare.md/compare.html (baseline DIR, candidate DIR2) into --out "
        "(default DIR2).",
    )
    parser.add_argument("run_dir", type=Path, metavar="DIR")
    parser.add_argument("candidate_dir", type=Path, nargs="?", metavar="DIR2")
    parser.add_argument(
        "--out", type=Path, help="where a comparison goes (default: DIR2); a comparison only"
    )
    parser.add_argument(
        "--title", help="the report's title (default: the one its report has, else sfperf report)"
    )
    parser.add_argument(
        "--rules",
        type=Path,
        help="gate rules TOML giving each metric's minimum effect for a comparison's verdicts "
        "(default: scenarios/gate/default.toml)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.commands._output import writable_dir
    from harness.store import load_records

    if args.candidate_dir is not None:
        from harness.gate import load_rules
        from reports.compare import write_comparison

        rules = load_rules(args.rules) if args.rules else None
        out = args.out or args.candidate_dir
        if args.out is not None or out.is_dir():  # a missing candidate is reported as such
            writable_dir(out, "--out" if args.out else "the candidate directory")
        written = write_comparison(out, args.run_dir, args.candidate_dir, rules)
    else:
        from reports.render import kept_title, write_report

        if args.rules is not None:
            raise UsageError("--rules applies to a comparison: give DIR and DIR2")
        if args.out is not None:  # its links and tables belong beside its records (R140)
            raise UsageError(
                "--out applies to a comparison: with one DIR the report is written into DIR "
                "again (copy the run directory to render it elsewhere)"
            )
        records = load_records(args.run_dir)
        writable_dir(args.run_dir, "the run directory")
        title = args.title or kept_title(args.run_dir)
        written = write_report(args.run_dir, records, title=title)
    print(written[-1])
    return 0
