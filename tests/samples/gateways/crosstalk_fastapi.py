"""Sample gateway on FastAPI served by uvicorn, calling the Models API with httpx. KNOWN DEFECT
(k): CROSS-TALK. It parks the parsed upstream reply in a module global, then awaits its audit
log before building the client's answer from that global: under concurrency another request's
reply lands there in between, and the client gets someone else's answer (text and usage), a
leak between users that a single request never shows.

Everything else is done right: the token cached (in memory and on disk) until its JWT expires and
replaced once when refused, 423/429/503 retried with backoff (Retry-After honoured), failures
passed on with the fitting status, streaming supported.

Usage: python crosstalk_fastapi.py --port 8010 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import models_api as api
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

AUDIT_WRITE_S = 0.02  # what the audit log's write takes (a remote log, a slow disk)
last_reply: dict[str, Any] = {}  # THE DEFECT: one reply for all requests in flight


class Gateway:
    """Chat completions over one httpx client kept for the server's lifetime."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=settings.timeout_s)
        self.tokens = api.AsyncTokenCache(self.fetch_token, settings.token_file)

    async def fetch_token(self) -> dict[str, Any]:
        answer = await self.http.post(self.settings.token_url, data=self.settings.token_form)
        if answer.status_code != 200:
            raise api.UpstreamError(answer.status_code, f"token endpoint: {answer.text}")
        return dict(answer.json())

    async def complete(self, raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the client's request, its completion)."""
        global last_reply
        asked, model = api.parse_chat_request(raw, self.settings.models)
        url, body = api.chat_url(model), api.chat_body(asked)

        async def send(bearer: str) -> api.Answer:
            try:
                answer = await self.http.post(url, json=body, headers=api.headers(bearer))
            except httpx.HTTPError as exc:
                raise api.UpstreamError(0, f"Models API unreachable: {exc!r}") from None
            return api.Answer(answer.status_code, answer.content, answer.headers.get("retry-after"))

        last_reply = await api.call_async(send, self.tokens.get, self.settings.max_attempts)
        await asyncio.sleep(AUDIT_WRITE_S)  # the audit log: other requests run meanwhile
        return asked, api.chat_completion(last_reply, asked["model"])


def create_app(settings: api.Settings) -> FastAPI:
    gateway = Gateway(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with gateway.http:
            yield

    app = FastAPI(title="cross-talk gateway", lifespan=lifespan)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            asked, done = await gateway.complete(await request.body())
        except api.BadRequest as exc:
            return JSONResponse(exc.body(), exc.status)
        except api.UpstreamError as exc:
            body = api.upstream_error_body(exc)
            return JSONResponse(body, exc.client_status, exc.client_headers)
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

    return app


def main() -> None:
    settings = api.load_settings("crosstalk-fastapi")
    print(api.banner(settings, "FastAPI + uvicorn"), flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
