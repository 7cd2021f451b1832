"""Gateway options as plain data (no server imports, so the CLI can build its parser cheaply)."""

from __future__ import annotations

from dataclasses import dataclass

VARIANT_NAMES = ("sync-legacy", "sync-optimized", "async", "async-batching")


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
