"""Sample gateway on Quart served by hypercorn, calling the Models API with httpx. Its one known
defect:

(b) USAGE DROPPED. It looks for token counts where OpenAI puts them (`usage` at the top of the
reply); the Models API puts them under `generationDetails.parameters.usage`, so every completion
reports 0 prompt, 0 completion and 0 total tokens. The text is relayed unchanged.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff.

Usage: python zero_usage_quart.py --port 8002 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import models_api as api
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request


def completion_of(reply: dict[str, Any], model: str) -> dict[str, Any]:
    """The OpenAI completion for a chat-generations reply."""
    try:
        generation = reply["generationDetails"]["generations"][0]
    except (KeyError, IndexError, TypeError):
        raise api.UpstreamError(0, "Models API reply has no generation") from None
    finish = (generation.get("parameters") or {}).get("finish_reason") or "stop"
    usage = reply.get("usage") or {}  # the defect: the Models API never puts usage here
    return api.completion(str(reply.get("id")), model, generation["content"], finish, usage)


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
        return asked, completion_of(reply, asked["model"])


def create_app(settings: api.Settings) -> Quart:
    app = Quart(__name__)
    gateway = Gateway(settings)
    app.after_serving(gateway.http.aclose)

    @app.post("/v1/chat/completions")
    async def chat() -> Any:
        try:
            asked, done = await gateway.complete(await request.body)
        except api.BadRequest as exc:
            return exc.body(), exc.status
        except api.UpstreamError as exc:
            return api.upstream_error_body(exc), exc.client_status, exc.client_headers
        stream, usage = api.wants_stream(asked)
        if stream:
            return Response(api.stream_events(done, usage), mimetype="text/event-stream")
        return done

    @app.get("/v1/models")
    async def models() -> Any:
        return api.models_listing(settings.models)

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok"}

    return app


async def serve_until_stopped(app: Quart, settings: api.Settings) -> None:
    """hypercorn until SIGINT or SIGTERM, then a graceful shutdown."""
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)


def main() -> None:
    settings = api.load_settings("zero-usage-quart")
    print(api.banner(settings, "Quart + hypercorn"), flush=True)
    asyncio.run(serve_until_stopped(create_app(settings), settings))


if __name__ == "__main__":
    main()
