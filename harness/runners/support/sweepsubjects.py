"""The subjects of the sweep, each measured closed loop for one window at one concurrency.

Upstream clients (`harness.subjects.clients`) call the mock directly: `sync-wrapper` from a
thread pool (it blocks), `async` and `async-batching` from tasks on one event loop. Gateways
(reference variants and users' targets) are called over HTTP by an aiohttp client with one
connection per worker, which also calls the mock directly to measure its own ceiling; replies
are kept and checked after the window, so checking costs the client nothing while it measures.
A 429 or 503 with a `Retry-After` holds that worker's next request back as long (up to
`closedloop.MAX_WAIT_S`), as the OpenAI client does: a rate limit is measured, not stormed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from harness.runners.support.closedloop import (
    OVERTIME_WINDOWS,
    Outcome,
    Window,
    drive_async,
    drive_threads,
)
from harness.subjects.clients import AsyncClient, BatchingClient, SyncWrapperClient
from harness.subjects.token_providers import MemoryTokenStore, MemoryTtlTokenProvider, TokenProvider
from harness.subjects.upstream import (
    ClientSettings,
    UpstreamResult,
    fetch_grant,
    models_url,
    request_headers,
)
from harness.targets.endpoints import CHAT_PATH, endpoint_url
from harness.targets.tls import DEFAULT_TLS, TargetTls
from mock_salesforce.markers import PREFIX as MARKER_PREFIX

CLIENTS = ("sync-wrapper", "async", "async-batching")
UPSTREAM_MODEL = "sfdc_ai__DefaultOpenAIGPT4OmniMini"
GATEWAY_MODEL = "gpt-4o-mini"
HTTP_TIMEOUT_S = 60.0
AUTH_MARGIN_S = 5.0  # a token is fetched again unless it outlives a window by this much
# Replies kept per window for the fidelity check: bounds memory (~1 KB each), and past some
# thousands more checks say nothing new.
MAX_EXCHANGES = 20_000
WAIT_STATUSES = frozenset({429, 503})  # a Retry-After on these asks the client to wait
_CUSTOMERS = ("Café Müller GmbH", "東京支店 🚀", "Beyonce\u0301")  # named by every third prompt


def retry_after_s(status: int, value: str | None, now_s: float) -> float:
    """The seconds a `Retry-After` header (delay seconds or an HTTP date) asks a client to wait
    after a 429 or 503 (0: none, unreadable, or another status); `now_s`: epoch seconds."""
    if status not in WAIT_STATUSES or not value:
        return 0.0
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, when.timestamp() - now_s) if when.tzinfo else 0.0


def messages(n: int) -> list[dict[str, str]]:
    """A varied user message (the mock's reply depends on the content) that carries its marker,
    so the journal names the upstream calls a gateway made for it (`harness.join`); every third
    names a customer beyond ASCII, as CRM text does (R77)."""
    customer = f" for {_CUSTOMERS[n // 3 % len(_CUSTOMERS)]}" if n % 3 == 0 else ""
    content = f"Summarise the status of account #{n}{customer}. ({marker_of(n)})"
    return [{"role": "user", "content": content}]


def marker_of(n: int) -> str:
    """The marker of prompt number `n` (`mock_salesforce.markers`): unique as the numbers are."""
    return f"{MARKER_PREFIX}{n % (1 << 64):016x}"


def token_provider(settings: ClientSettings) -> TokenProvider:
    """The optimized provider: one OAuth grant kept in memory for the whole measurement."""
    return MemoryTtlTokenProvider(
        MemoryTokenStore(), lambda: fetch_grant(settings, time.time), time.time
    )


def succeeded(result: UpstreamResult) -> bool:
    return result.ok and result.status == 200


def measure_client(
    subject: str, mock_url: str, concurrency: int, duration_s: float, pool_size: int
) -> Window:
    """Drive one upstream client against the mock for `duration_s` with `concurrency` callers."""
    settings = ClientSettings(upstream_url=mock_url, pool_size=max(pool_size, concurrency))
    provider = token_provider(settings)
    if subject == "sync-wrapper":
        client = SyncWrapperClient(settings, provider)
        counter = itertools.count()

        def call() -> bool:
            return succeeded(client.chat(UPSTREAM_MODEL, messages(next(counter))))

        call()  # warm up: the OAuth grant is fetched outside the window
        return drive_threads(call, concurrency, duration_s)
    return asyncio.run(_measure_async_client(subject, settings, provider, concurrency, duration_s))


async def _measure_async_client(
    subject: str,
    settings: ClientSettings,
    provider: TokenProvider,
    concurrency: int,
    duration_s: float,
) -> Window:
    inner = AsyncClient(settings, provider)
    client: AsyncClient | BatchingClient = inner if subject == "async" else BatchingClient(inner)
    counter = itertools.count()

    async def call() -> bool:
        return succeeded(await client.chat(UPSTREAM_MODEL, messages(next(counter))))

    try:
        return await _warm_and_drive(call, concurrency, duration_s)
    finally:
        await client.close()


@dataclass(frozen=True)
class HttpSubject:
    """Where the sweep's HTTP client posts and what: `body(n)` is the n-th request body;
    `auth(life_s)`, when given, the headers of a credential that lives `life_s` more."""

    url: str
    body: Callable[[int], dict[str, Any]]
    headers: Mapping[str, str] = field(default_factory=dict)
    tls: TargetTls = DEFAULT_TLS  # an https target's certificate checks (`--target-ca`...)
    auth: Callable[[float], Mapping[str, str]] | None = None


@dataclass(frozen=True)
class Exchange:
    """One request and the reply it got, kept so the reply can be checked after the window."""

    request: Mapping[str, Any]
    status: int
    body: bytes
    retry_after_s: float = 0.0  # the wait its reply asked for (Retry-After)


@dataclass(frozen=True)
class HttpWindow:
    """A closed-loop window over HTTP, the exchanges it kept (at most `MAX_EXCHANGES`), and how
    many requests were answered in all (warm-ups and those past the window included)."""

    window: Window
    exchanges: tuple[Exchange, ...]
    answered: int = 0


def chat_subject(
    base_url: str,
    model: str,
    prompts: Iterator[int],
    headers: Mapping[str, str] | None = None,
    tls: TargetTls = DEFAULT_TLS,
) -> HttpSubject:
    """A gateway's `POST /v1/chat/completions`, one new prompt per request (with `headers`:
    the target's `--target-header`s; `tls`: its certificate checks)."""
    return HttpSubject(
        endpoint_url(base_url, CHAT_PATH),
        lambda _: {"model": model, "messages": messages(next(prompts))},
        dict(headers or {}),
        tls,
    )


def mock_subject(mock_url: str, prompts: Iterator[int]) -> HttpSubject:
    """The mock's chat-generations endpoint called directly, as a gateway would call it: what
    the sweep's client reaches with nothing in between (its ceiling)."""
    bearer = Bearer(ClientSettings(upstream_url=mock_url))
    return HttpSubject(
        models_url(bearer.grant, bearer.settings, UPSTREAM_MODEL, "chat-generations"),
        lambda _: {"messages": messages(next(prompts))},
        auth=bearer.headers,
    )


class Bearer:
    """The ceiling client's token, fetched again when it would not outlive a window: a user's
    mock may give tokens of seconds (R130: one kept past its 20 s got 9,532 x 401 expired, and
    the subject was held to that 'ceiling')."""

    def __init__(self, settings: ClientSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self.grant = fetch_grant(settings, clock)

    def headers(self, life_s: float) -> dict[str, str]:
        """The headers of a token that lives `life_s` more (a new one when this one would not)."""
        if self.grant.expires_at_s - self._clock() < life_s:
            self.grant = fetch_grant(self.settings, self._clock)
        return request_headers(self.grant.access_token)


def measure_http(subject: HttpSubject, concurrency: int, duration_s: float) -> HttpWindow:
    """Drive `subject` with `concurrency` callers, one connection each, for `duration_s`."""
    return asyncio.run(_measure_http(subject, concurrency, duration_s))


async def _measure_http(subject: HttpSubject, concurrency: int, duration_s: float) -> HttpWindow:
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=subject.tls.aiohttp_ssl())
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    exchanges: list[Exchange] = []
    answered = itertools.count()
    counter = itertools.count()
    # A window can run into overtime: the credential must outlive all of it (and a margin).
    auth = subject.auth((1 + OVERTIME_WINDOWS) * duration_s + AUTH_MARGIN_S) if subject.auth else {}
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={**subject.headers, **auth}
    ) as session:

        async def call() -> tuple[int, int, float]:
            body = subject.body(next(counter))
            async with session.post(subject.url, json=body) as response:
                reply = await response.read()
            next(answered)
            status = response.status
            wait_s = retry_after_s(status, response.headers.get("Retry-After"), time.time())
            if len(exchanges) >= MAX_EXCHANGES:
                return status, -1, wait_s
            exchanges.append(Exchange(body, status, reply, wait_s))
            return status, len(exchanges) - 1, wait_s  # the sample finds its reply again

        window = await _warm_and_drive(call, concurrency, duration_s)
    return HttpWindow(window, tuple(exchanges), next(answered))


async def _warm_and_drive(
    call: Callable[[], Awaitable[Outcome]], concurrency: int, duration_s: float
) -> Window:
    """One call first (token fetch, first connection), then the measured window."""
    with contextlib.suppress(Exception):  # the window will show a subject that keeps failing
        await call()
    return await drive_async(call, concurrency, duration_s)
