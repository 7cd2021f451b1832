"""Gateway variants: which server, extractor, token provider and client make up each one.

`assemble(options)` builds a ready `Gateway` and the client its server calls; every component can
be overridden one by one, so "what if only the token provider changed?" is one flag away.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.subjects.clients import CLIENTS, AsyncClient, BatchingClient, SyncWrapperClient
from harness.subjects.extractors import load_extractor
from harness.subjects.gateway.bridges import LoopThreadClient, ThreadPoolClient
from harness.subjects.gateway.core import Gateway
from harness.subjects.gateway.options import GatewayConfigError, GatewayOptions, check_options
from harness.subjects.token_providers import (
    TOKEN_PROVIDERS,
    FileTokenProvider,
    FileTokenStore,
    MemoryTtlTokenProvider,
    TokenProvider,
    TokenStore,
)
from harness.subjects.upstream import ClientSettings, fetch_grant

SERVERS = ("flask", "aiohttp")


@dataclass(frozen=True)
class VariantSpec:
    """The four components of a gateway variant, by registry name."""

    server: str
    extractor: str
    token_provider: str
    client: str


VARIANTS: Mapping[str, VariantSpec] = {
    "sync-legacy": VariantSpec("flask", "legacy", "file", "sync-wrapper"),
    "sync-optimized": VariantSpec("flask", "priority", "memory-ttl", "sync-wrapper"),
    "async": VariantSpec("aiohttp", "priority", "memory-ttl", "async"),
    "async-batching": VariantSpec("aiohttp", "priority", "memory-ttl", "async-batching"),
}


def _choose(value: str | None, default: str, known: tuple[str, ...], what: str) -> str:
    chosen = value or default
    if chosen not in known:
        raise GatewayConfigError(f"unknown {what} {chosen!r} (known: {', '.join(known)})")
    return chosen


def resolve_spec(options: GatewayOptions) -> VariantSpec:
    """The variant's components with the options' overrides applied and checked."""
    check_options(options)
    base = VARIANTS[options.variant]
    return VariantSpec(
        _choose(options.server, base.server, SERVERS, "server"),
        options.extractor or base.extractor,  # checked when loaded (may be pkg.mod:func)
        _choose(options.token_provider, base.token_provider, TOKEN_PROVIDERS, "token provider"),
        _choose(options.client, base.client, CLIENTS, "client"),
    )


@dataclass
class Assembly:
    """A built gateway: its spec, core, the server-facing client and what to clean up."""

    spec: VariantSpec
    gateway: Gateway
    client: object
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def cleanup(self) -> None:
        for step in reversed(self.cleanups):
            step()


def _store(options: GatewayOptions, cleanups: list[Callable[[], None]]) -> TokenStore:
    """A real token file for either provider, as in the gateways the seed report describes
    (so a shim counting file opens sees what each provider really does); temporary by default."""
    if options.token_file:
        return FileTokenStore(options.token_file)
    folder = tempfile.mkdtemp(prefix="sfperf-token-")
    cleanups.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    return FileTokenStore(Path(folder) / "token.json")


def _provider(
    options: GatewayOptions, spec: VariantSpec, cleanups: list[Callable[[], None]]
) -> TokenProvider:
    store = _store(options, cleanups)
    clock = time.time  # grants are stored across runs, so issue times are wall-clock seconds
    fetch = functools.partial(fetch_grant, _settings(options), clock)
    buffer_s = options.token_refresh_buffer_s
    if spec.token_provider == "file":
        return FileTokenProvider(store, fetch, clock, buffer_s)
    return MemoryTtlTokenProvider(store, fetch, clock, options.token_ttl_s, buffer_s)


def _settings(options: GatewayOptions) -> ClientSettings:
    return ClientSettings(
        upstream_url=options.upstream_url,
        client_id=options.client_id,
        client_secret=options.client_secret,
        timeout_s=options.timeout_s,
        max_retries=options.max_retries,
        pool_size=options.upstream_connections,
    )


def _client(options: GatewayOptions, spec: VariantSpec, provider: TokenProvider) -> object:
    """The client in the form its server needs (bridged when server and client differ)."""
    settings = _settings(options)
    if spec.client == "sync-wrapper":
        sync_client = SyncWrapperClient(settings, provider)
        return sync_client if spec.server == "flask" else ThreadPoolClient(sync_client)
    async_client: AsyncClient | BatchingClient = AsyncClient(settings, provider)
    if spec.client == "async-batching":
        window_s, size = options.batch_window_s, options.batch_max
        async_client = BatchingClient(AsyncClient(settings, provider), window_s, size)
    return async_client if spec.server == "aiohttp" else LoopThreadClient(async_client)


def assemble(options: GatewayOptions) -> Assembly:
    """Build the gateway core and its client from options (no sockets opened yet)."""
    spec = resolve_spec(options)
    try:
        extractor = load_extractor(spec.extractor)
    except ValueError as exc:
        raise GatewayConfigError(str(exc)) from exc
    cleanups: list[Callable[[], None]] = []
    provider = _provider(options, spec, cleanups)
    client = _client(options, spec, provider)
    counters = client.counters  # type: ignore[attr-defined]
    gateway = Gateway(_name(options, spec), extractor, provider, counters)
    return Assembly(spec, gateway, client, cleanups)


def _name(options: GatewayOptions, spec: VariantSpec) -> str:
    return options.variant if VARIANTS[options.variant] == spec else f"{options.variant}*"
