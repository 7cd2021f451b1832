"""`sfperf mock` (under construction: the owning issue replaces this module)."""

from __future__ import annotations

import argparse
from typing import Any

from harness.errors import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("mock", help="(not built yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise UsageError("'mock' is not built yet")
