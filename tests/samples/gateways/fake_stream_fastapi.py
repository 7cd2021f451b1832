"""Sample gateway on FastAPI served by uvicorn, calling the Models API with httpx. Its one known
defect:

(e) "STREAMING" THAT STARTS ONLY AFTER THE WHOLE UPSTREAM REPLY, AND IS THEN PLAYED BACK. The
Models API does not stream, so a `stream: true` request waits for the whole reply, as it must;
but then, to look like a model typing, the gateway sends one event (a word) every `WORD_DELAY_S`
(20 ms). A streamed reply therefore ends about 20 ms x words later than the same reply
unstreamed, and its inter-token gaps are the gateway's own sleeps, not the model's.

Everything else is done right: plain (unstreamed) replies are relayed at once, the token is
cached in memory (and on disk for the next start), a refused token is replaced once, 423/429/503
are retried with backoff.

Usage: python fake_stream_fastapi.py --port 8005 [--config FILE] [--state-dir DIR]
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

WORD_DELAY_S = 0.02  # "typing" pace of the played-back stream


async def play_back(events: list[str]) -> AsyncIterator[str]:
    """The stream's events (one per word), WORD_DELAY_S apart: the defect."""
    for index, event in enumerate(events):
        if index:
            await asyncio.sleep(WORD_DELAY_S)
        yield event


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
        asked, model = api.parse_chat_request(raw, self.settings.models)
        url, body = api.chat_url(model), api.chat_body(asked)

        async def send(bearer: str) -> api.Answer:
            try:
                answer = await self.http.post(url, json=body, headers=api.headers(bearer))
            except httpx.HTTPError as exc:
                raise api.UpstreamError(0, f"Models API unreachable: {exc!r}") from None
            return api.Answer(answer.status_code, answer.content, answer.headers.get("retry-after"))

        reply = await api.call_async(send, self.tokens.get, self.settings.max_attempts)
        return asked, api.chat_completion(reply, asked["model"])


def create_app(settings: api.Settings) -> FastAPI:
    gateway = Gateway(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with gateway.http:
            yield

    app = FastAPI(title="fake-stream gateway", lifespan=lifespan)

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
            events = play_back(api.stream_events(done, usage))
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
    settings = api.load_settings("fake-stream-fastapi")
    print(api.banner(settings, "FastAPI + uvicorn"), flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
