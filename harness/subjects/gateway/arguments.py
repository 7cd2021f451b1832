"""The gateway's command-line options, shared by `sfperf gateway` and `python -m ...gateway`.

Defaults come from `GatewayOptions`, so the CLI and the Python API cannot drift apart.
"""

from __future__ import annotations

import argparse

from harness.subjects.gateway.options import VARIANT_NAMES, GatewayOptions

_DEFAULTS = GatewayOptions(upstream_url="")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every gateway option to `parser`."""
    d = _DEFAULTS
    parser.add_argument("--variant", default=d.variant, help=", ".join(VARIANT_NAMES))
    parser.add_argument("--upstream", required=True, help="mock (or Salesforce) base URL")
    parser.add_argument("--host", default=d.host)
    parser.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    parser.add_argument("--server", help="override the variant's server: flask or aiohttp")
    parser.add_argument("--extractor", help="legacy, priority or pkg.module:function")
    parser.add_argument("--token-provider", help="file or memory-ttl")
    parser.add_argument("--client", help="sync-wrapper, async or async-batching")
    parser.add_argument("--token-file", help="where the grant is kept (default: a temp file)")
    parser.add_argument("--token-ttl-s", type=float, help="memory-ttl TTL (default: real life)")
    parser.add_argument("--token-refresh-buffer-s", type=float, default=d.token_refresh_buffer_s)
    parser.add_argument("--client-id", default=d.client_id)
    parser.add_argument("--client-secret", default=d.client_secret)
    parser.add_argument("--timeout-s", type=float, default=d.timeout_s, help="per attempt")
    parser.add_argument("--max-retries", type=int, default=d.max_retries, help="429 and 5xx")
    parser.add_argument("--batch-window-s", type=float, default=d.batch_window_s)
    parser.add_argument("--batch-max", type=int, default=d.batch_max)


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
