"""Sample gateway on Starlette served by uvicorn, calling the Models API with httpx. Its one known
defect, as a harness sees it:

(g) ITS OWN MODEL NAMES. It serves only `claude-haiku` and `gpt-4-mini` (hard-coded, whatever the
config file says), as `GET /v1/models` lists. Any other name, such as the `gpt-4o-mini` a
harness sends by default, gets a 404 naming the served ones. Asked by a served name, it works.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff.

Usage: python model_names_starlette.py --port 8007 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import models_api as api
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SERVED_MODELS = {  # the defect, as a harness sees it: not the names it would try
    "claude-haiku": "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku",
    "gpt-4-mini": "sfdc_ai__DefaultOpenAIGPT4OmniMini",
}


class Gateway:
    """The routes, over one httpx client opened for the server's lifetime."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=settings.timeout_s)
        self.tokens = api.AsyncTokenCache(self.fetch_token, settings.token_file)

    async def fetch_token(self) -> dict[str, Any]:
        answer = await self.http.post(self.settings.token_url, data=self.settings.token_form)
        if answer.status_code != 200:
            raise api.UpstreamError(answer.status_code, f"token endpoint: {answer.text}")
        return dict(answer.json())

    def sender(self, url: str, body: Any) -> api.AsyncSend:
        async def send(bearer: str) -> api.Answer:
            try:
                answer = await self.http.post(url, json=body, headers=api.headers(bearer))
            except httpx.HTTPError as exc:
                raise api.UpstreamError(0, f"Models API unreachable: {exc!r}") from None
            return api.Answer(answer.status_code, answer.content, answer.headers.get("retry-after"))

        return send

    async def chat(self, request: Request) -> Response:
        try:
            asked, model = api.parse_chat_request(await request.body(), self.settings.models)
            send = self.sender(api.chat_url(model), api.chat_body(asked))
            reply = await api.call_async(send, self.tokens.get, self.settings.max_attempts)
            done = api.chat_completion(reply, asked["model"])
        except api.BadRequest as exc:
            return JSONResponse(exc.body(), exc.status)
        except api.UpstreamError as exc:
            body = api.upstream_error_body(exc)
            return JSONResponse(body, exc.client_status, exc.client_headers)
        stream, usage = api.wants_stream(asked)
        if stream:
            events = api.stream_events(done, usage)
            return StreamingResponse(iter(events), media_type="text/event-stream")
        return JSONResponse(done)

    async def models(self, request: Request) -> Response:
        return JSONResponse(api.models_listing(self.settings.models))

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})


def create_app(settings: api.Settings) -> Starlette:
    gateway = Gateway(dataclasses.replace(settings, models=SERVED_MODELS))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with gateway.http:
            yield

    routes = [
        Route("/v1/chat/completions", gateway.chat, methods=["POST"]),
        Route("/v1/models", gateway.models),
        Route("/health", gateway.health),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    settings = api.load_settings("model-names-starlette")
    print(api.banner(dataclasses.replace(settings, models=SERVED_MODELS), "Starlette"), flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
