"""Gateway options as plain data (no server imports, so the CLI can build its parser cheaply)."""

from __future__ import annotations

from dataclasses import dataclass

VARIANT_NAMES = ("sync-legacy", "sync-optimized", "async", "async-batching")
LOOPS = ("auto", "asyncio", "uvloop")  # the aiohttp server's event loop; auto: uvloop if installed


class GatewayConfigError(ValueError):
    """Options that cannot make a gateway; the message is one line for the user."""


@dataclass(frozen=True)
class GatewayOptions:
    """Everything `sfperf gateway` accepts; `None` components come from the variant."""

    upstream_url: str
    variant: str = "async"
    host: str = "127.0.0.1"
    port: int = 0
    server: str | None = None
    extractor: str | None = None
    token_provider: str | None = None
    client: str | None = None
    token_file: str | None = None
    token_ttl_s: float | None = None
    token_refresh_buffer_s: float = 300.0
    client_id: str = "sfperf-client"
    client_secret: str = "sfperf-secret"
    timeout_s: float = 30.0
    max_retries: int = 2
    batch_window_s: float = 0.002
    batch_max: int = 16
    upstream_connections: int = 0  # the async client's pool; 0: no limit (see ClientSettings)
    # asyncio by default: uvloop saves ~13% of the instructions per request, but at saturation its
    # p99 was 100-250 ms against ~60 ms on asyncio (unexplained), and the reference gateway's
    # figures should stay comparable with earlier runs. `auto` or `uvloop` opt in.
    loop: str = "asyncio"


def check_options(options: GatewayOptions) -> None:
    """Refuse what no gateway can run with, cheaply (before any server module is imported).

    Component names are checked when the variant is assembled; the token TTL and refresh buffer
    are obeyed as given, on purpose, so a setting that cannot work shows in the counters.
    """
    if options.variant not in VARIANT_NAMES:
        known = ", ".join(VARIANT_NAMES)
        raise GatewayConfigError(f"unknown variant {options.variant!r} (known: {known})")
    if not options.upstream_url.startswith(("http://", "https://")):
        raise GatewayConfigError(f"upstream must be an http(s) URL, got {options.upstream_url!r}")
    if options.timeout_s <= 0:
        raise GatewayConfigError(f"timeout must be > 0 s, got {options.timeout_s}")
    if options.max_retries < 0:
        raise GatewayConfigError(f"max retries must be >= 0, got {options.max_retries}")
    if options.upstream_connections < 0:
        raise GatewayConfigError(
            f"upstream connections must be >= 0 (0: no limit), got {options.upstream_connections}"
        )
    if options.batch_max < 1 or options.batch_window_s < 0:
        raise GatewayConfigError("batch size must be >= 1 and batch window >= 0 s")
    if options.loop not in LOOPS:
        raise GatewayConfigError(f"unknown loop {options.loop!r} (known: {', '.join(LOOPS)})")
