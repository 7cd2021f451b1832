"""`sfperf gateway`: serve a reference gateway variant in front of a (mock) Salesforce."""

from __future__ import annotations

import argparse
from typing import Any

from harness.errors import UsageError
from harness.shutdown import Stopped


def register(subparsers: Any) -> None:
    from harness.subjects.gateway.arguments import add_arguments

    parser = subparsers.add_parser(
        "gateway",
        help="serve a reference gateway variant (prints its URL when ready)",
        description="Serve a reference OpenAI-compatible gateway; prints its base URL on stdout.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.subjects.gateway.arguments import options_from_args
    from harness.subjects.gateway.options import GatewayConfigError, check_options

    try:
        options = options_from_args(args)
        check_options(options)  # before the servers are imported: bad input fails fast
        from harness.subjects.gateway.serve import serve

        status = serve(options, lambda url: print(url, flush=True))
    except GatewayConfigError as exc:
        raise UsageError(str(exc)) from exc
    raise Stopped(signum=status - 128)  # serve() returns only once a signal stopped it
