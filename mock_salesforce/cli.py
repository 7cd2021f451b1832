"""`python -m mock_salesforce` / `sfperf mock`: serve the mock, or record an upstream.

Once listening, prints the base URL alone on the first stdout line (tools read it), then one line
per endpoint with the latency, faults and quota in force (`--quiet`: the URL alone).
SIGINT/SIGTERM stop it cleanly, with exit status 130/143 (128 + the signal's number, as a shell
reports a process so stopped). Bad specs or profiles: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.corpus import load_corpus
from mock_salesforce.effective import endpoint_views
from mock_salesforce.errors import ConfigError
from mock_salesforce.overrides import ALL, apply_overrides
from mock_salesforce.quotas import parse_quotas
from mock_salesforce.server import FRONTS, LOOPS
from mock_salesforce.state import build_runtime

V = TypeVar("V")
ADMIN_TOKEN_VARIABLE = "SFPERF_ADMIN_TOKEN"  # the admin token, kept out of argv (and ps)
# Shown by --help; tests/integration/test_mock_docs_functional.py runs every one of them.
EXAMPLES = """\
examples (what you name replaces the profile's values wherever its selector reaches):
  %(prog)s --latency fixed:200ms             # every endpoint waits 200 ms
  %(prog)s --latency fixed:0ms --latency chat-generations=fixed:50ms
  %(prog)s --profile fast --fault 500:every=4 --fault 429:p=0.5,retry_after=1s,endpoint=embeddings
  %(prog)s --profile salesforce-prod --quota 20 --quota embeddings=5
  %(prog)s --quiet                           # the URL line alone
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The mock's options (shared by `python -m mock_salesforce` and `sfperf mock`)."""
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    add("--port", type=int, default=0, help="port (default 0: a free port)")
    add("--profile", default="default", help="shipped profile name or a TOML/JSON/recording file")
    add("--seed", type=int, default=None, help="seed for replies, latency and faults")
    add(
        "--latency",
        action="append",
        default=[],
        metavar="[SELECTOR=]SPEC",
        help="SELECTOR: *, an endpoint, a model or ENDPOINT/MODEL (default *); e.g. fixed:200ms, "
        "or chat-generations=lognormal:median=800ms,sigma=0.5",
    )
    add("--fault", action="append", default=[], metavar="SPEC", help="e.g. 429:p=0.1,retry_after=2")
    add(
        "--quota",
        action="append",
        default=[],
        metavar="[ENDPOINT=]RPM",
        help="requests per minute (default endpoint *: each endpoint without its own)",
    )
    add("--token-lifetime", type=float, default=None, metavar="SECONDS")
    add("--credentials", default=None, metavar="CLIENT_ID:SECRET", help="accept only these")
    add("--lax-headers", action="store_true", help="do not require the x-sfdc-*/x-client-* headers")
    add(
        "--header-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="refuse (408) a request head that takes longer to arrive (default 10)",
    )
    add(
        "--admin-token",
        default=None,
        help=f"require this bearer on /__admin/ (or set {ADMIN_TOKEN_VARIABLE}: ps shows argv)",
    )
    add("--no-admin", action="store_true", help="disable the admin API")
    add("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    add(
        "--front",
        choices=FRONTS,
        default="fast",
        help="fast (default): the hot path skips aiohttp's web layer; aiohttp: all through it",
    )
    add(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="event loop: auto (default: uvloop when installed), uvloop, asyncio",
    )
    add("--record-from", default=None, metavar="URL", help="proxy to this upstream and record")
    add("--record-to", default=None, metavar="FILE", help="where record mode writes")
    add("--keep-text", action="store_true", help="record prompt/completion text unredacted")
    add("--quiet", action="store_true", help="print the URL alone, not what each endpoint does")
    add("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    add("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # fmt: skip


def build_config(args: argparse.Namespace) -> MockConfig:
    """The profile with the command line laid over it (`overrides.py`), every spec checked."""
    config = load_profile(args.profile)
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    config = apply_overrides(
        config,
        latency=_by_selector((_latency_item(s) for s in args.latency), "--latency"),
        faults=args.fault,
        quotas_rpm=_by_selector(
            (item for spec in args.quota for item in parse_quotas(spec).items()), "--quota"
        ),
    )
    config = dataclasses.replace(config, **_plain_overrides(args))
    build_runtime(config, load_corpus())  # raises ConfigError on any bad spec
    return config


def _plain_overrides(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if args.token_lifetime is not None:
        if args.token_lifetime <= 0:
            raise ConfigError("--token-lifetime must be > 0 seconds")
        changes["token_lifetime_s"] = args.token_lifetime
    if args.credentials is not None:
        client_id, sep, secret = args.credentials.partition(":")
        if not (sep and client_id and secret):
            raise ConfigError("--credentials must be CLIENT_ID:SECRET")
        changes["credentials"] = (client_id, secret)
    if args.lax_headers:
        changes["strict_headers"] = False
    if args.header_timeout is not None:
        if not args.header_timeout > 0:  # (NaN too)
            raise ConfigError("--header-timeout must be > 0 seconds")
        changes["header_timeout_s"] = args.header_timeout
    return {**changes, **_admin_overrides(args)}


def _admin_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The admin API's settings: the token from argv, else from the environment (the mock's
    only read of it: this is its command-line edge)."""
    changes: dict[str, Any] = {}
    token = args.admin_token or os.environ.get(ADMIN_TOKEN_VARIABLE)
    if token:
        changes["admin_token"] = token
    if args.no_admin:
        changes["admin_enabled"] = False
    return changes


def _latency_item(spec: str) -> tuple[str, str]:
    """`SELECTOR=SPEC` or a bare `SPEC` (selector `*`): a selector holds no `:`."""
    head, sep, tail = spec.partition("=")
    if sep and ":" not in head:
        return head.strip(), tail.strip()
    return ALL, spec.strip()


def _by_selector(items: Iterable[tuple[str, V]], option: str) -> dict[str, V]:
    """`{selector: value}`; ConfigError when one selector is given twice (which would win?)."""
    named: dict[str, V] = {}
    for selector, value in items:
        if selector in named:
            raise ConfigError(f"{option} for {selector} given twice")
        named[selector] = value
    return named


def start_up_lines(config: MockConfig, workers: int = 1) -> list[str]:
    """The lines printed under the URL: per endpoint, the latency, faults and quota in force."""
    lines = [view.line() for view in endpoint_views(build_runtime(config, load_corpus()))]
    if workers > 1:
        lines.append(
            f"({workers} workers: each keeps its own quota windows, fault counts and journal)"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """Serve (or record) until SIGINT or SIGTERM; returns 128 + the signal's number (130 or
    143) once stopped cleanly; raises ConfigError on bad input."""
    if args.port < 0 or args.port > 65535 or args.workers < 1:
        raise ConfigError("--port must be 0..65535 and --workers >= 1")
    if args.record_from or args.record_to:
        return _record(args)
    config = build_config(args)
    lines = [] if args.quiet else start_up_lines(config, args.workers)
    announce = _announcer(lines)
    if args.workers > 1:
        from mock_salesforce.workers import run_workers

        return run_workers(args, config, announce)
    from mock_salesforce.server import run_serving, serve

    signum = run_serving(
        lambda: serve(
            config, args.host, args.port, announce, reuse_port=args.reuse_port, front=args.front
        ),
        args.loop,
    )
    return 128 + signum  # stopped cleanly by that signal: the status a shell would report


def _record(args: argparse.Namespace) -> int:
    if not (args.record_from and args.record_to):
        raise ConfigError("record mode needs both --record-from URL and --record-to FILE")
    from mock_salesforce.recorder import record

    announce = _announcer(())  # record mode injects no latency, faults or quotas
    signum = asyncio.run(
        record(
            args.record_from,
            args.record_to,
            args.host,
            args.port,
            announce,
            keep_text=args.keep_text,
        )
    )
    return 128 + signum  # stopped cleanly by that signal: the status a shell would report


def _announcer(lines: Sequence[str]) -> Callable[[str], None]:
    """Prints the URL, then `lines`, once the mock listens."""

    def announce(url: str) -> None:
        from mock_salesforce.process import tune_gc_for_serving

        tune_gc_for_serving()  # this process only serves from now on
        try:
            print("\n".join([url, *lines]), flush=True)
        except BrokenPipeError:  # the reader left (maybe with the URL line): keep serving
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    return announce


class _OneLineParser(argparse.ArgumentParser):
    """Bad usage in one line (exit 2) instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m mock_salesforce`."""
    parser = _OneLineParser(
        prog="python -m mock_salesforce",
        description="Serve the mock Salesforce Models API.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as exc:
        print(f"mock_salesforce: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mock_salesforce: error: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
