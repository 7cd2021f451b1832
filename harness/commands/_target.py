"""The options every command that talks to a target shares: `--target-header` (and the
`OPENAI_API_KEY` it falls back to), resolved once here, at the edge; `--target-ca` and
`--target-insecure` (an https target's certificate); `--start-timeout`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.settings import load_settings
from harness.targets.headers import Headers, describe_headers, target_headers
from harness.targets.spec import START_TIMEOUT_S
from harness.targets.tls import TargetTls, target_tls


def add_target_header_option(group: Any) -> None:
    """`--target-header 'Name: value'`, repeatable, on an argument group or parser."""
    group.add_argument(
        "--target-header", action="append", default=[], metavar="'NAME: VALUE'",
        help="a header every request to the target carries, e.g. 'Authorization: Bearer KEY' "
        "(repeatable; default: OPENAI_API_KEY as a Bearer token, when set)",
    )  # fmt: skip


def add_target_tls_options(group: Any) -> None:
    """`--target-ca FILE` and `--target-insecure`: what sfperf's clients trust of an https
    target's certificate (default: the system's CAs)."""
    group.add_argument(
        "--target-ca", metavar="FILE",
        help="an https target's CA (or its self-signed certificate), PEM: every client sfperf "
        "runs against the target trusts it",
    )  # fmt: skip
    group.add_argument(
        "--target-insecure", action="store_true",
        help="do not check an https target's certificate (a loopback target only)",
    )  # fmt: skip


def tls_from_args(args: argparse.Namespace) -> TargetTls:
    """What the TLS options say (the default when a command has none of them)."""
    return target_tls(getattr(args, "target_ca", None), getattr(args, "target_insecure", False))


def add_start_timeout_option(group: Any) -> None:
    """`--start-timeout SECONDS`: how long a target sfperf starts has to get ready."""
    group.add_argument(
        "--start-timeout", type=float, default=START_TIMEOUT_S, metavar="SECONDS",
        help=f"how long a gateway sfperf starts (--launch) has to answer HTTP (default: "
        f"{START_TIMEOUT_S:g})",
    )  # fmt: skip


def headers_from_args(args: argparse.Namespace, *, users_target: bool = True) -> Headers:
    """The target's headers the options (and, for a user's target, the environment) name;
    says which on stderr (names only: the values are secrets)."""
    options = list(getattr(args, "target_header", None) or [])
    api_key = load_settings().openai_api_key if users_target else ""
    headers = target_headers(options, api_key)
    if line := describe_headers(headers, options):
        print(line, file=sys.stderr)
    return headers


def tell_mock_faults(mock_url: str) -> None:
    """Say on stderr, first, the faults a user's `--mock-url` injects on its own (R89)."""
    from harness.findings.mock_faults import read_mock_faults

    if mock_url and (faults := read_mock_faults(mock_url)):
        print(faults.notice(), file=sys.stderr)
