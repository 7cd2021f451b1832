"""`python -m mock_salesforce` / `sfperf mock`: serve the mock, or record an upstream.

Prints the base URL alone on one stdout line once listening; SIGINT/SIGTERM stop it cleanly.
Bad specs or profiles: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.corpus import load_corpus
from mock_salesforce.errors import ConfigError
from mock_salesforce.quotas import parse_quotas
from mock_salesforce.server import FRONTS
from mock_salesforce.state import build_runtime


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
        help="e.g. fixed:200ms, or chat-generations=lognormal:median=800ms,sigma=0.5",
    )
    add("--fault", action="append", default=[], metavar="SPEC", help="e.g. 429:p=0.1,retry_after=2")
    add("--quota", action="append", default=[], metavar="ENDPOINT=RPM", help="requests per minute")
    add("--token-lifetime", type=float, default=None, metavar="SECONDS")
    add("--credentials", default=None, metavar="CLIENT_ID:SECRET", help="accept only these")
    add("--lax-headers", action="store_true", help="do not require the x-sfdc-*/x-client-* headers")
    add("--admin-token", default=None, help="require this bearer on /__admin/")
    add("--no-admin", action="store_true", help="disable the admin API")
    add("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    add(
        "--front",
        choices=FRONTS,
        default="fast",
        help="fast (default): the hot path skips aiohttp's web layer; aiohttp: all through it",
    )
    add("--record-from", default=None, metavar="URL", help="proxy to this upstream and record")
    add("--record-to", default=None, metavar="FILE", help="where record mode writes")
    add("--keep-text", action="store_true", help="record prompt/completion text unredacted")
    add("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    add("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # fmt: skip


def build_config(args: argparse.Namespace) -> MockConfig:
    """The profile with the command-line overrides applied, every spec checked."""
    config = load_profile(args.profile)
    changes: dict[str, Any] = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.latency:
        changes["latency"] = {**config.latency, **dict(_latency_item(s) for s in args.latency)}
    if args.fault:
        changes["faults"] = (*config.faults, *args.fault)
    if args.quota:
        quotas = dict(config.quotas_rpm)
        for spec in args.quota:
            quotas.update(parse_quotas(spec))
        changes["quotas_rpm"] = quotas
    changes.update(_plain_overrides(args))
    config = dataclasses.replace(config, **changes)
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
    if args.admin_token is not None:
        changes["admin_token"] = args.admin_token
    if args.no_admin:
        changes["admin_enabled"] = False
    return changes


def _latency_item(spec: str) -> tuple[str, str]:
    """`SELECTOR=SPEC` or a bare `SPEC` (selector `*`): a selector holds no `:`."""
    head, sep, tail = spec.partition("=")
    if sep and ":" not in head:
        return head.strip(), tail.strip()
    return "*", spec.strip()


def run(args: argparse.Namespace) -> int:
    """Serve (or record) until interrupted; raises ConfigError on bad input."""
    if args.port < 0 or args.port > 65535 or args.workers < 1:
        raise ConfigError("--port must be 0..65535 and --workers >= 1")
    if args.record_from or args.record_to:
        return _record(args)
    config = build_config(args)
    if args.workers > 1:
        from mock_salesforce.workers import run_workers

        return run_workers(args, config)
    from mock_salesforce.server import serve

    asyncio.run(
        serve(
            config, args.host, args.port, _print_url, reuse_port=args.reuse_port, front=args.front
        )
    )
    return 0


def _record(args: argparse.Namespace) -> int:
    if not (args.record_from and args.record_to):
        raise ConfigError("record mode needs both --record-from URL and --record-to FILE")
    from mock_salesforce.recorder import record

    asyncio.run(record(args.record_from, args.record_to, args.host, args.port, _print_url,
                       keep_text=args.keep_text))  # fmt: skip
    return 0


def _print_url(url: str) -> None:
    from mock_salesforce.server import tune_gc_for_serving

    tune_gc_for_serving()  # this process only serves from now on
    print(url, flush=True)


class _OneLineParser(argparse.ArgumentParser):
    """Bad usage in one line (exit 2) instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m mock_salesforce`."""
    parser = _OneLineParser(
        prog="python -m mock_salesforce", description="Serve the mock Salesforce Models API."
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
