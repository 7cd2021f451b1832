"""The gateway's command-line options, shared by `sfperf gateway` and `python -m ...gateway`."""

from __future__ import annotations

import argparse

from harness.subjects.gateway.options import VARIANT_NAMES, GatewayOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every gateway option to `parser`."""
    parser.add_argument("--variant", default="async", help=", ".join(VARIANT_NAMES))
    parser.add_argument("--upstream", required=True, help="mock (or Salesforce) base URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--server", help="override the variant's server: flask or aiohttp")
    parser.add_argument("--extractor", help="legacy, priority or pkg.module:function")
    parser.add_argument("--token-provider", help="file or memory-ttl")
    parser.add_argument("--client", help="sync-wrapper, async or async-batching")
    parser.add_argument("--token-file", help="where the token is stored (default: temporary)")
    parser.add_argument("--token-ttl-s", type=float, help="memory-ttl: TTL (default: real life)")
    parser.add_argument("--token-refresh-buffer-s", type=float, default=300.0)
    parser.add_argument("--client-id", default="sfperf-client")
    parser.add_argument("--client-secret", default="sfperf-secret")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="per upstream attempt")
    parser.add_argument("--max-retries", type=int, default=2, help="on 429 and 5xx")
    parser.add_argument("--batch-window-s", type=float, default=0.002)
    parser.add_argument("--batch-max", type=int, default=16)


def options_from_args(args: argparse.Namespace) -> GatewayOptions:
    return GatewayOptions(
        upstream_url=args.upstream,
        variant=args.variant,
        host=args.host,
        port=args.port,
        server=args.server,
        extractor=args.extractor,
        token_provider=args.token_provider,
        client=args.client,
        token_file=args.token_file,
        token_ttl_s=args.token_ttl_s,
        token_refresh_buffer_s=args.token_refresh_buffer_s,
        client_id=args.client_id,
        client_secret=args.client_secret,
        timeout_s=args.timeout_s,
        max_retries=args.max_retries,
        batch_window_s=args.batch_window_s,
        batch_max=args.batch_max,
    )
