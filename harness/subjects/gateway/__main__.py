"""`python -m harness.subjects.gateway --variant NAME --upstream URL`: print the URL, serve."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from harness.subjects.gateway.arguments import add_arguments, options_from_args
from harness.subjects.gateway.options import GatewayConfigError, check_options


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _OneLineParser(prog="python -m harness.subjects.gateway")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
        check_options(options)  # before the servers are imported: bad input fails fast
        from harness.subjects.gateway.serve import serve

        return serve(options, lambda url: print(url, flush=True))
    except GatewayConfigError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
