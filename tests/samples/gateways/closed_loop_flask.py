"""Sample gateway on Flask (sync views, threaded dev server) over an async client: httpx's
AsyncClient driven from the sync views on one shared event loop. Its one known defect:

(d) SHARED EVENT LOOP CLOSED AFTER THE FIRST CALL. `run_sync` runs each coroutine on the
gateway's one event loop and then closes that loop "to clean up", as `asyncio.run` would close its
own. The first chat request succeeds; every later one fails with HTTP 500 and the body
`{"error": {"message": "Event loop is closed", "type": "RuntimeError", ...}}`, without reaching
the Models API.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff.

Usage: python closed_loop_flask.py --port 8004 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import models_api as api
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

T = TypeVar("T")
LOOP = asyncio.new_event_loop()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion on the shared loop, from a sync view."""
    try:
        return LOOP.run_until_complete(coroutine)
    finally:
        LOOP.close()  # the defect: the shared loop is gone after the first call


class AsyncGateway:
    """The upstream half, written for asyncio."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.tokens = api.AsyncTokenCache(self.fetch_token, settings.token_file)

    async def fetch_token(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as http:
            answer = await http.post(self.settings.token_url, data=self.settings.token_form)
        if answer.status_code != 200:
            raise api.UpstreamError(answer.status_code, f"token endpoint: {answer.text}")
        return dict(answer.json())

    async def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        url, body = api.chat_url(model), api.chat_body(asked)
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as http:

            async def send(bearer: str) -> api.Answer:
                try:
                    answer = await http.post(url, json=body, headers=api.headers(bearer))
                except httpx.HTTPError as exc:
                    raise api.UpstreamError(0, f"Models API unreachable: {exc!r}") from None
                retry_after = answer.headers.get("retry-after")
                return api.Answer(answer.status_code, answer.content, retry_after)

            reply = await api.call_async(send, self.tokens.get, self.settings.max_attempts)
        return api.chat_completion(reply, asked["model"])


def create_app(settings: api.Settings) -> Flask:
    app = Flask(__name__)
    gateway = AsyncGateway(settings)

    @app.post("/v1/chat/completions")
    def chat() -> Any:
        try:
            asked, model = api.parse_chat_request(request.get_data(), settings.models)
            done = run_sync(gateway.chat(asked, model))
        except api.BadRequest as exc:
            return exc.body(), exc.status
        except api.UpstreamError as exc:
            return api.upstream_error_body(exc), exc.client_status, exc.client_headers
        stream, usage = api.wants_stream(asked)
        if stream:
            return Response(api.stream_events(done, usage), mimetype="text/event-stream")
        return done

    @app.get("/v1/models")
    def models() -> Any:
        return api.models_listing(settings.models)

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return exc  # 404, 405...: Flask's own answer
        app.logger.exception("chat failed")
        return api.error_body(str(exc), type(exc).__name__, "internal_error"), 500

    return app


def main() -> None:
    settings = api.load_settings("closed-loop-flask")
    print(api.banner(settings, "Flask + asyncio"), flush=True)
    create_app(settings).run(settings.host, settings.port, threaded=True)


if __name__ == "__main__":
    main()
