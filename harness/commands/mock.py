"""`sfperf mock`: serve the mock Salesforce (or record an upstream); see `mock_salesforce.cli`."""

from __future__ import annotations

import argparse
from typing import Any

from harness.errors import UsageError
from harness.shutdown import Stopped


def register(subparsers: Any) -> None:
    from mock_salesforce.cli import EXAMPLES, add_arguments

    parser = subparsers.add_parser(
        "mock",
        help="serve the mock Salesforce Models API (prints its URL when ready)",
        description="Serve the mock Salesforce OAuth + Models API until SIGINT/SIGTERM.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mock_salesforce.cli import run as run_mock
    from mock_salesforce.errors import ConfigError

    try:
        status = run_mock(args)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot serve: {exc.strerror or exc}") from None
    if status > 128:  # stopped cleanly by a signal, which the mock's own handler caught
        raise Stopped(signum=status - 128)
    return status
