"""The gateway's command-line options, shared by `sfperf gateway` and `python -m ...gateway`.

Defaults come from `GatewayOptions`, so the CLI and the Python API cannot drift apart.
"""

from __future__ import annotations

import argparse

from harness.subjects.gateway.options import LOOPS, VARIANT_NAMES, GatewayOptions

_DEFAULTS = GatewayOptions(upstream_url="")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every gateway option to `parser`."""
    d = _DEFAULTS
    add = parser.add_argument
    add("--variant", default=d.variant, metavar="NAME", help=", ".join(VARIANT_NAMES))
    add("--upstream", required=True, metavar="URL", help="mock (or Salesforce) base URL")
    add("--host", default=d.host, help="bind address (default: %(default)s, loopback)")
    add("--port", type=int, default=d.port, help="0 (default) picks a free port")
    add("--server", metavar="KIND", help="override the variant's server: flask or aiohttp")
    add("--extractor", metavar="X", help="legacy, priority or pkg.module:function")
    add("--token-provider", metavar="Y", help="file or memory-ttl")
    add("--client", metavar="Z", help="sync-wrapper, async or async-batching")
    add("--token-file", metavar="PATH", help="where the grant is kept (default: a temp file)")
    add("--token-ttl-s", type=float, metavar="S", help="memory-ttl TTL (default: real life)")
    add(
        "--token-refresh-buffer-s",
        type=float,
        default=d.token_refresh_buffer_s,
        metavar="S",
        help="refresh this long before expiry (default: %(default)s)",
    )
    add("--client-id", default=d.client_id, metavar="ID")
    add("--client-secret", default=d.client_secret, metavar="SECRET")
    add("--timeout-s", type=float, default=d.timeout_s, metavar="S", help="per upstream try")
    add("--max-retries", type=int, default=d.max_retries, metavar="N", help="on 429 and 5xx")
    add("--batch-window-s", type=float, default=d.batch_window_s, metavar="S")
    add("--batch-max", type=int, default=d.batch_max, metavar="N", help="calls per batch")
    add(
        "--upstream-connections",
        type=int,
        default=d.upstream_connections,
        metavar="N",
        help="async clients: most upstream connections at once (default: 0, no limit)",
    )
    add(
        "--loop",
        default=d.loop,
        choices=LOOPS,
        help="aiohttp server's event loop (default: %(default)s; auto: uvloop if installed)",
    )


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
        upstream_connections=args.upstream_connections,
        loop=args.loop,
    )
