"""The async gateway server: aiohttp.web on one event loop, an async client."""

from __future__ import annotations

import json
from typing import Any, Protocol

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
        body = json.dumps(reply.body).encode()
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


def create_aiohttp_app(gateway: Gateway, client: AsyncClientLike) -> web.Application:
    """The OpenAI-compatible routes over `gateway`; the client is closed with the app."""

    async def complete(request: web.Request, route: str) -> web.StreamResponse:
        prepared = gateway.prepare(route, await request.read())
        if isinstance(prepared, Reply):
            return await send(request, prepared)
        result = await client.call(prepared.endpoint, prepared.upstream_model, prepared.body)
        return await send(request, gateway.finish(prepared, result))

    async def chat(request: web.Request) -> web.StreamResponse:
        return await complete(request, "chat")

    async def completions(request: web.Request) -> web.StreamResponse:
        return await complete(request, "completions")

    async def static(request: web.Request) -> web.StreamResponse:
        replies = {"/v1/models": gateway.models, "/health": gateway.health}
        replies["/metrics/performance"] = gateway.metrics
        return await send(request, replies[request.path]())

    async def not_found(request: web.Request) -> web.StreamResponse:
        body = error_body(
            f"no route {request.method} {request.path}", "invalid_request_error", "not_found"
        )
        return await send(request, Reply(404, body))

    async def close_client(_app: web.Application) -> None:
        await client.close()

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", completions)
    for path in ("/v1/models", "/health", "/metrics/performance"):
        app.router.add_get(path, static)
    app.router.add_route("*", "/{tail:.*}", not_found)
    app.on_cleanup.append(close_client)
    return app
