"""Upstream clients for the Models API, in the three forms the seed report compares.

- `SyncWrapperClient`: a sync facade that calls `asyncio.run` per request, so every request gets
  a new event loop and a new aiohttp session (no pooled connections), as the report describes.
- `AsyncClient`: one event loop, one shared aiohttp session with pooled keep-alive connections.
- `BatchingClient`: gathers requests that arrive within a short window and sends them together.

All three share `Retrier.call`: bearer token from the provider, backoff with jitter on 429
(honouring `Retry-After`) and 5xx, a timeout per attempt, one token refresh and retry on 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from harness.subjects.tally import Tally
from harness.subjects.token_providers import TokenFetchError, TokenGrant, TokenProvider
from harness.subjects.upstream import (
    Backoff,
    ClientSettings,
    UpstreamResult,
    error_kind_for,
    is_retryable,
    models_url,
    parse_retry_after,
    request_headers,
)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
SessionFactory = Callable[[], aiohttp.ClientSession]  # injectable: tests pass a fake session
_MAX_URLS = 256


def _token_failure(exc: TokenFetchError) -> UpstreamResult:
    if exc.status in (400, 401, 403):
        return UpstreamResult(401, None, error_kind="auth", message=str(exc))
    return UpstreamResult(502, None, error_kind="connection", message=str(exc))


async def _attempt(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    body: bytes,
    timeout: aiohttp.ClientTimeout,
) -> UpstreamResult:
    """One POST; transport failures become results, never exceptions."""
    try:
        async with session.post(
            url, data=body, headers=request_headers(token), timeout=timeout
        ) as response:
            raw = await response.read()
            return result_of(response.status, response.headers, raw)
    except TimeoutError:
        return UpstreamResult(504, None, error_kind="timeout", message="upstream timed out")
    except aiohttp.ClientPayloadError as exc:  # a reply cut short: not retried (may be billed)
        return UpstreamResult(502, None, error_kind="bad_response", message=str(exc))
    except aiohttp.ClientError as exc:
        return UpstreamResult(502, None, error_kind="connection", message=str(exc))


def result_of(status: int, headers: Mapping[str, str], raw: bytes) -> UpstreamResult:
    """Classify one complete HTTP reply from the Models API."""
    try:
        payload = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return UpstreamResult(502, None, error_kind="bad_response", message="invalid JSON")
    kind = error_kind_for(status)
    return UpstreamResult(
        status,
        payload if isinstance(payload, dict) else None,
        request_id=headers.get("x-request-id"),
        error_kind=kind,
        retry_after_s=parse_retry_after(headers.get("Retry-After")),
        message=_upstream_message(payload) if kind else "",
    )


def _upstream_message(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("error_description") or "")
    return ""


class Retrier:
    """The retry loop every client shares; counts attempts, retries and 401 refreshes."""

    def __init__(self, settings: ClientSettings, sleep: Sleep, clock: Clock) -> None:
        self.settings = settings
        self.backoff = Backoff(settings.backoff_base_s, settings.backoff_max_s)
        self.timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        self.sleep = sleep
        self.clock = clock
        self.tally = Tally()
        self._urls: dict[tuple[str | None, str, str], str] = {}

    def _url(self, grant: TokenGrant, model: str, endpoint: str) -> str:
        """`models_url`, remembered: the same few model URLs are built for every request."""
        key = (grant.api_instance_url, model, endpoint)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= _MAX_URLS:  # passed-through model names are the caller's
                self._urls.clear()
            url = self._urls[key] = models_url(grant, self.settings, model, endpoint)
        return url

    def _should_retry(self, result: UpstreamResult, retries: int) -> bool:
        if result.error_kind not in ("rate_limited", "upstream_error", "connection"):
            return False
        if not is_retryable(result.status) or retries >= self.settings.max_retries:
            return False
        wait = result.retry_after_s
        return wait is None or wait <= self.settings.retry_after_max_s

    async def _try_once(
        self,
        session: aiohttp.ClientSession,
        provider: TokenProvider,
        route: tuple[str, str],
        body: bytes,
    ) -> UpstreamResult:
        """Get a token, then POST once; a failed token fetch is a result like any other.
        A refresh (a blocking OAuth call) runs in a worker thread, off the event loop."""
        try:
            if provider.needs_refresh():
                grant = await asyncio.to_thread(provider.get_grant)
            else:
                grant = provider.get_grant()
        except TokenFetchError as exc:
            return _token_failure(exc)
        url = self._url(grant, *route)
        return await _attempt(session, url, grant.access_token, body, self.timeout)

    async def call(
        self,
        session: aiohttp.ClientSession,
        provider: TokenProvider,
        endpoint: str,
        model: str,
        payload: Mapping[str, Any],
    ) -> UpstreamResult:
        """POST `payload` to `model`'s `endpoint`, retrying as the settings allow."""
        started_s = self.clock()
        body = orjson.dumps(payload)
        attempts = retries = 0
        refreshed = False
        while True:
            attempts += 1
            result = await self._try_once(session, provider, (model, endpoint), body)
            if result.status == 401 and not refreshed:
                refreshed = True  # one refresh: the token may have been revoked or expired early
                provider.invalidate()
                self.tally.add("auth_retries")
            elif self._should_retry(result, retries):
                retries += 1
                await self.sleep(self.backoff.delay_s(retries, result.retry_after_s))
            else:
                break
        latency_s = self.clock() - started_s
        self.tally.add_many(
            {"calls": 1, "attempts": attempts, "retries": retries, "latency_s": latency_s}
        )
        return _finished(result, attempts, latency_s)


def _finished(result: UpstreamResult, attempts: int, latency_s: float) -> UpstreamResult:
    """The last attempt's result with the call's totals (`dataclasses.replace`, without its
    per-call field introspection)."""
    return UpstreamResult(
        result.status,
        result.json,
        result.request_id,
        attempts,
        result.error_kind,
        result.retry_after_s,
        latency_s,
        result.message,
    )


class SyncWrapperClient:
    """A sync facade over async code: `asyncio.run` and a fresh session for every request."""

    name = "sync-wrapper"

    def __init__(
        self,
        settings: ClientSettings,
        provider: TokenProvider,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.perf_counter,
        session_factory: SessionFactory = aiohttp.ClientSession,
    ) -> None:
        self.provider = provider
        self.retrier = Retrier(settings, sleep, clock)
        self._new_session = session_factory

    def call(self, endpoint: str, model: str, payload: Mapping[str, Any]) -> UpstreamResult:
        return asyncio.run(self._call(endpoint, model, payload))

    async def _call(self, endpoint: str, model: str, payload: Mapping[str, Any]) -> UpstreamResult:
        async with self._new_session() as session:
            return await self.retrier.call(session, self.provider, endpoint, model, payload)

    def chat(self, model: str, messages: list[dict[str, str]]) -> UpstreamResult:
        return self.call("chat-generations", model, {"messages": messages})

    def generate(self, model: str, prompt: str) -> UpstreamResult:
        return self.call("generations", model, {"prompt": prompt})

    def counters(self) -> dict[str, float]:
        return self.retrier.tally.snapshot()

    def close(self) -> None:
        """Nothing to release: each request closed its own session."""


class AsyncClient:
    """One shared aiohttp session (created in the running loop) with pooled connections."""

    name = "async"

    def __init__(
        self,
        settings: ClientSettings,
        provider: TokenProvider,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.perf_counter,
        session_factory: SessionFactory | None = None,
    ) -> None:
        self.provider = provider
        self.retrier = Retrier(settings, sleep, clock)
        self._new_session = session_factory or self._pooled_session
        self._session: aiohttp.ClientSession | None = None

    def _pooled_session(self) -> aiohttp.ClientSession:
        limit = self.retrier.settings.pool_size
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit)
        # No cookie jar: the Models API sets no cookies, and filtering them costs every request.
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    def _shared_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._new_session()  # created lazily, inside the running loop
        return self._session

    async def call(self, endpoint: str, model: str, payload: Mapping[str, Any]) -> UpstreamResult:
        session = self._shared_session()
        return await self.retrier.call(session, self.provider, endpoint, model, payload)

    async def chat(self, model: str, messages: list[dict[str, str]]) -> UpstreamResult:
        return await self.call("chat-generations", model, {"messages": messages})

    async def generate(self, model: str, prompt: str) -> UpstreamResult:
        return await self.call("generations", model, {"prompt": prompt})

    def counters(self) -> dict[str, float]:
        return self.retrier.tally.snapshot()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


_Pending = tuple[str, str, Mapping[str, Any], "asyncio.Future[UpstreamResult]"]


class BatchingClient:
    """Collects calls for up to `window_s` (or `max_batch` calls) and sends them together.

    The Models API has no batch endpoint, so "together" means one `gather` over the shared
    session: as many upstream requests as without batching, sent in bursts, each call waiting
    up to `window_s` first. Whether the bursts pay for the wait is what the benchmarks measure.
    """

    name = "async-batching"

    def __init__(
        self,
        inner: AsyncClient,
        window_s: float = 0.002,
        max_batch: int = 16,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.window_s = window_s
        self.max_batch = max_batch
        self._sleep = sleep
        self._pending: list[_Pending] = []
        self._timer: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.tally = Tally()

    async def call(self, endpoint: str, model: str, payload: Mapping[str, Any]) -> UpstreamResult:
        future: asyncio.Future[UpstreamResult] = asyncio.get_running_loop().create_future()
        self._pending.append((endpoint, model, payload, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_after_window())
        return await future

    async def _flush_after_window(self) -> None:
        await self._sleep(self.window_s)
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.create_task(self._send(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _send(self, batch: list[_Pending]) -> None:
        self.tally.add_many({"batches": 1, "batched_calls": len(batch)})
        calls = (self.inner.call(endpoint, model, payload) for endpoint, model, payload, _ in batch)
        results = await asyncio.gather(*calls, return_exceptions=True)
        for (*_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # the caller went away
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def chat(self, model: str, messages: list[dict[str, str]]) -> UpstreamResult:
        return await self.call("chat-generations", model, {"messages": messages})

    async def generate(self, model: str, prompt: str) -> UpstreamResult:
        return await self.call("generations", model, {"prompt": prompt})

    def counters(self) -> dict[str, float]:
        return {**self.inner.counters(), **self.tally.snapshot()}

    async def close(self) -> None:
        self._flush()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self.inner.close()


CLIENTS = ("sync-wrapper", "async", "async-batching")
