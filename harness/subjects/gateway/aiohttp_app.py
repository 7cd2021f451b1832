"""The async gateway server: aiohttp.web on one event loop, an async client."""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web

from harness.subjects.gateway.core import Gateway
from harness.subjects.gateway.protocol import Reply, error_body
from harness.subjects.upstream import UpstreamResult


class AsyncClientLike(Protocol):
    async def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult: ...

    async def close(self) -> None: ...


async def send(request: web.Request, reply: Reply) -> web.StreamResponse:
    """Write a `Reply`: JSON, or SSE events one write each (so time to first token is real)."""
    if reply.events is None:
        body = orjson.dumps(reply.body)
        return web.Response(
            body=body, status=reply.status, headers=reply.headers, content_type="application/json"
        )
    response = web.StreamResponse(
        status=200, headers={**reply.headers, "Cache-Control": "no-cache"}
    )
    response.content_type = "text/event-stream"
    await response.prepare(request)
    try:
        for event in reply.events:
            await response.write(event.encode())
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client left mid-stream: nothing more to send, and nothing to report to it
    return response


class _Routes:
    """The handlers: each turns a request into a `Reply` through the gateway core."""

    def __init__(self, gateway: Gateway, client: AsyncClientLike) -> None:
        self.gateway = gateway
        self.client = client

    async def _answer(self, request: web.Request, route: str) -> Reply:
        prepared = self.gateway.prepare(route, await request.read())
        if isinstance(prepared, Reply):
            return prepared
        result = await self.client.call(prepared.endpoint, prepared.upstream_model, prepared.body)
        return self.gateway.finish(prepared, result)

    async def _complete(self, request: web.Request, route: str) -> web.StreamResponse:
        try:
            reply = await self._answer(request, route)
        except Exception as exc:  # a bug: answer in OpenAI form, never a bare text 500
            reply = self.gateway.internal_error(exc)
        return await send(request, reply)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, "chat")

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, "completions")

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, "embeddings")

    async def models(self, request: web.Request) -> web.StreamResponse:
        return await send(request, self.gateway.models())

    async def health(self, request: web.Request) -> web.StreamResponse:
        return await send(request, self.gateway.health())

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        return await send(request, self.gateway.metrics())

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        message = f"no route {request.method} {request.path}"
        return await send(
            request, Reply(404, error_body(message, "invalid_request_error", "not_found"))
        )

    async def close_client(self, _app: web.Application) -> None:
        await self.client.close()


def create_aiohttp_app(gateway: Gateway, client: AsyncClientLike) -> web.Application:
    """The OpenAI-compatible routes over `gateway`; the client is closed with the app."""
    routes = _Routes(gateway, client)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", routes.chat)
    app.router.add_post("/v1/completions", routes.completions)
    app.router.add_post("/v1/embeddings", routes.embeddings)
    app.router.add_get("/v1/models", routes.models)
    app.router.add_get("/health", routes.health)
    app.router.add_get("/metrics/performance", routes.metrics)
    app.router.add_route("*", "/{tail:.*}", routes.not_found)
    app.on_cleanup.append(routes.close_client)
    return app
