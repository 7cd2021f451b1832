"""The `sfperf` console script: one parser, one subcommand per module in `harness.commands`
(`sfperf profile` lives in `profiling.py`: a module should not be named like the stdlib's).

Each command module has `register(subparsers)` (adds its parser, sets `handler`) and imports its
heavy dependencies inside the handler, so `sfperf --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from harness import __version__
from harness.errors import CheckFailed, RunFailed, UsageError
from harness.installation import check_installation
from harness.shutdown import Stopped, exit_status, stop_line, stopping_on_signals

COMMANDS = (
    "mock", "gateway", "launch", "micro", "simulate", "load", "sweep", "profiling",
    "claims", "verdict", "report", "gate", "validate",
)  # fmt: skip


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="sfperf",
        description="Measure OpenAI-compatible gateways in front of the Salesforce Models API.",
    )
    parser.add_argument("--version", action="version", version=f"sfperf {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the chosen command, map errors and stopping signals to exit codes."""
    try:  # before the parser: building it imports every command and their dependencies (R94)
        check_installation()
    except UsageError as exc:
        print(f"sfperf: error: {exc}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    with stopping_on_signals() as stop:
        try:
            return dispatch(args)
        except KeyboardInterrupt as interrupt:
            signum = stop.signum or signal.SIGINT
            if isinstance(interrupt, Stopped) and interrupt.signum is not None:
                signum = interrupt.signum
            print(stop_line(args.command, signum, interrupt), file=sys.stderr)
            return exit_status(signum)


def dispatch(args: argparse.Namespace) -> int:
    """Run the command; UsageError -> 2, CheckFailed and RunFailed -> 1, each with one line."""
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"sfperf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except CheckFailed as exc:
        print(f"sfperf {args.command}: {exc}", file=sys.stderr)
        return 1
    except RunFailed as exc:
        print(f"sfperf {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
