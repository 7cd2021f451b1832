"""`sfperf claims [LEDGER.toml] --results DIR`: verdicts on a claim ledger from a run's records."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import CheckFailed

FAIL_ON = ("refuted", "inconclusive")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "claims",
        help="check a claim ledger against measured results",
        description="Evaluate every claim of LEDGER (default: the seed report's) against the "
        "records in --results; writes claims.json there. Refuted claims are findings: exit 0 "
        "unless --fail-on says otherwise.",
    )
    parser.add_argument("ledger", nargs="?", type=Path, help="TOML ledger (default: seed.toml)")
    parser.add_argument("--results", type=Path, required=True, help="run directory (results.json)")
    parser.add_argument(
        "--fail-on", choices=FAIL_ON, help="exit 1 when a claim is refuted (or not proven)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.claims import CLAIMS_FILE, count_verdicts, evaluate_run
    from harness.store import load_records

    records = load_records(args.results)
    # --results may name results.json itself; the verdicts go beside it either way.
    run_dir = args.results if args.results.is_dir() else args.results.parent
    verdicts = evaluate_run(run_dir, records, args.ledger)
    print_verdicts(verdicts)
    counts = count_verdicts(verdicts)
    print(f"{counts} -> {run_dir / CLAIMS_FILE}")
    failing = _failing(counts, args.fail_on)
    if failing:
        raise CheckFailed(f"{failing} claim(s) failed --fail-on {args.fail_on}")
    return 0


def _failing(counts: dict[str, int], fail_on: str | None) -> int:
    if fail_on == "refuted":
        return counts["refuted"]
    if fail_on == "inconclusive":
        return counts["refuted"] + counts["inconclusive"]
    return 0


def print_verdicts(verdicts: Any) -> None:
    """A rich table: claim, verdict, measured value and interval, reason."""
    from rich.console import Console
    from rich.table import Table

    from harness.claims import format_value

    styles = {"holds": "green", "refuted": "red", "inconclusive": "yellow"}
    table = Table(title="Claim verdicts", show_lines=False)
    for column in ("claim", "verdict", "value", "expected", "why"):
        table.add_column(column, overflow="fold")
    for v in verdicts:
        style = styles.get(v.verdict, "")
        value = format_value(v.value, v.unit)
        table.add_row(v.claim_id, f"[{style}]{v.verdict}[/]", value, v.expected, v.reason)
    Console(width=160).print(table)
