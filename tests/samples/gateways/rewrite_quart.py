"""Sample gateway on Quart served by hypercorn, calling the Models API with aiohttp. Its one known
defect:

(h) THE REQUEST IS REWRITTEN ON THE WAY. Whatever the client asks, the gateway
- flattens the chat messages into one `generations` prompt ("system: ...\\nuser: ...\\nassistant:"),
- sends it to `ROUTED_MODEL` (Claude 3 Haiku), not the model the client's name maps to,
- adds `"max Tokens": 1000`, a misspelt parameter the Models API does not know (and ignores).
The upstream's text and usage are relayed unchanged, under the model name the client asked for:
the answer is faithful to what the upstream said, but not to what the client asked.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff.

Usage: python rewrite_quart.py --port 8008 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Any

import aiohttp
import models_api as api
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request

ROUTED_MODEL = "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"


def generations_body(asked: dict[str, Any]) -> dict[str, Any]:
    """The rewritten upstream request (the defect): a flattened prompt, a misspelt parameter."""
    lines = [f"{m.get('role')}: {m.get('content')}" for m in asked["messages"]]
    return {"prompt": "\n".join([*lines, "assistant:"]), "max Tokens": 1000}


def completion_of(reply: dict[str, Any], model: str) -> dict[str, Any]:
    """The OpenAI completion for a generations reply, text and usage unchanged."""
    try:
        generation = reply["generation"]
        usage = reply["parameters"]["usage"]
    except (KeyError, TypeError):
        raise api.UpstreamError(0, "Models API reply has no generation") from None
    finish = (generation.get("parameters") or {}).get("finish_reason") or "stop"
    upstream_id = str(reply.get("id") or uuid.uuid4())
    return api.completion(upstream_id, model, generation["generatedText"], finish, usage)


class Gateway:
    """Chat completions over one aiohttp session, opened once the server's loop runs."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.session: aiohttp.ClientSession | None = None
        self.tokens = api.AsyncTokenCache(self.fetch_token, settings.token_file)

    async def open(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        self.session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self.session is not None, "the session opens before serving"
        return self.session

    async def fetch_token(self) -> dict[str, Any]:
        settings = self.settings
        async with self.http.post(settings.token_url, data=settings.token_form) as answer:
            if answer.status != 200:
                raise api.UpstreamError(answer.status, f"token endpoint: {await answer.text()}")
            return dict(await answer.json())

    async def complete(self, raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the client's request, its completion)."""
        asked, _ = api.parse_chat_request(raw, self.settings.models)
        url, body = api.generations_url(ROUTED_MODEL), generations_body(asked)

        async def send(bearer: str) -> api.Answer:
            try:
                async with self.http.post(url, json=body, headers=api.headers(bearer)) as got:
                    return api.Answer(got.status, await got.read(), got.headers.get("Retry-After"))
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise api.UpstreamError(0, f"Models API unreachable: {exc!r}") from None

        reply = await api.call_async(send, self.tokens.get, self.settings.max_attempts)
        return asked, completion_of(reply, asked["model"])


def create_app(settings: api.Settings) -> Quart:
    app = Quart(__name__)
    gateway = Gateway(settings)
    app.before_serving(gateway.open)
    app.after_serving(gateway.close)

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
    settings = api.load_settings("rewrite-quart")
    print(api.banner(settings, "Quart + hypercorn"), flush=True)
    asyncio.run(serve_until_stopped(create_app(settings), settings))


if __name__ == "__main__":
    main()
