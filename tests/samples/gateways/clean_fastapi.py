"""Sample gateway on FastAPI served by uvicorn, calling the Models API with httpx. The control:
NO KNOWN DEFECT. Anything a harness reports against it beyond plain measurements is a false
finding.

It caches the token in memory (and on disk, so a restart reuses it until its JWT expires),
refreshes it once when the upstream refuses it, retries 423/429/503 with backoff (Retry-After
honoured), passes failures on with the fitting status, relays text and usage unchanged, streams
as soon as the upstream replied, and counts honestly at `GET /metrics/performance` (the same
fields as `uncounted_metrics_stdlib.py`, which does not).

Usage: python clean_fastapi.py --port 8009 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import models_api as api
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class Counters:
    """What `GET /metrics/performance` reports (one event loop: no lock needed)."""

    requests_total: int = 0
    upstream_calls_total: int = 0
    token_requests_total: int = 0
    answered: int = 0
    latency_total_ms: float = 0.0

    def report(self) -> dict[str, Any]:
        calls, tokens = self.upstream_calls_total, self.token_requests_total
        return {
            "requests_total": self.requests_total,
            "upstream_calls_total": calls,
            "token_requests_total": tokens,
            "token_cache_hit_rate": 1.0 - tokens / calls if calls else None,
            "avg_latency_ms": self.latency_total_ms / self.answered if self.answered else None,
        }


class Gateway:
    """Chat completions over one httpx client kept for the server's lifetime, counted."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.counters = Counters()
        self.http = httpx.AsyncClient(timeout=settings.timeout_s)
        self.tokens = api.AsyncTokenCache(self.fetch_token, settings.token_file)

    async def fetch_token(self) -> dict[str, Any]:
        self.counters.token_requests_total += 1
        answer = await self.http.post(self.settings.token_url, data=self.settings.token_form)
        if answer.status_code != 200:
            raise api.UpstreamError(answer.status_code, f"token endpoint: {answer.text}")
        return dict(answer.json())

    async def complete(self, raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the client's request, its completion)."""
        asked, model = api.parse_chat_request(raw, self.settings.models)
        url, body = api.chat_url(model), api.chat_body(asked)

        async def send(bearer: str) -> api.Answer:
            try:
                answer = await self.http.post(url, json=body, headers=api.headers(bearer))
            except httpx.HTTPError as exc:
                raise api.UpstreamError(0, f"Models API unreachable: {exc!r}") from None
            return api.Answer(answer.status_code, answer.content, answer.headers.get("retry-after"))

        self.counters.upstream_calls_total += 1
        reply = await api.call_async(send, self.tokens.get, self.settings.max_attempts)
        return asked, api.chat_completion(reply, asked["model"])


def create_app(settings: api.Settings) -> FastAPI:
    gateway = Gateway(settings)
    counters = gateway.counters

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with gateway.http:
            yield

    app = FastAPI(title="clean gateway", lifespan=lifespan)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        started_s = time.perf_counter()
        counters.requests_total += 1
        try:
            asked, done = await gateway.complete(await request.body())
        except api.BadRequest as exc:
            return JSONResponse(exc.body(), exc.status)
        except api.UpstreamError as exc:
            body = api.upstream_error_body(exc)
            return JSONResponse(body, exc.client_status, exc.client_headers)
        counters.answered += 1
        counters.latency_total_ms += (time.perf_counter() - started_s) * 1000.0
        stream, usage = api.wants_stream(asked)
        if stream:
            events = iter(api.stream_events(done, usage))
            return StreamingResponse(events, media_type="text/event-stream")
        return done

    @app.get("/v1/models")
    async def models() -> Any:
        return api.models_listing(settings.models)

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok"}

    @app.get("/metrics/performance")
    async def performance() -> Any:
        return counters.report()

    return app


def main() -> None:
    settings = api.load_settings("clean-fastapi")
    print(api.banner(settings, "FastAPI + uvicorn"), flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
