"""The sync gateway server: Flask (served threaded), one thread per request, a sync client."""

from __future__ import annotations

import json
from typing import Any, Protocol

from flask import Flask, Response, request
from werkzeug.exceptions import InternalServerError

from harness.subjects.gateway.core import Gateway
from harness.subjects.gateway.protocol import Reply, error_body
from harness.subjects.upstream import UpstreamResult


class SyncClient(Protocol):
    def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult: ...


def to_response(reply: Reply) -> Response:
    """A Flask response for a `Reply`: JSON, or an SSE stream of its events."""
    if reply.events is not None:
        headers = {**reply.headers, "Cache-Control": "no-cache"}
        return Response(iter(reply.events), 200, headers, mimetype="text/event-stream")
    return Response(
        json.dumps(reply.body), reply.status, reply.headers, mimetype="application/json"
    )


def _register_errors(app: Flask, gateway: Gateway) -> None:
    """Unknown routes, wrong methods and the gateway's own bugs answer in OpenAI form too."""

    def not_found(_error: Exception) -> Response:
        message = f"no route {request.method} {request.path}"
        return to_response(Reply(404, error_body(message, "invalid_request_error", "not_found")))

    def not_allowed(_error: Exception) -> Response:
        message = f"{request.method} not allowed"
        body = error_body(message, "invalid_request_error", "method_not_allowed")
        return to_response(Reply(405, body))

    def internal(error: InternalServerError) -> Response:
        return to_response(gateway.internal_error(error.original_exception or error))

    app.register_error_handler(404, not_found)
    app.register_error_handler(405, not_allowed)
    app.register_error_handler(500, internal)


def create_flask_app(gateway: Gateway, client: SyncClient) -> Flask:
    """The OpenAI-compatible routes over `gateway`, calling upstream through `client`."""
    app = Flask("sfperf_gateway")

    def complete(route: str) -> Response:
        prepared = gateway.prepare(route, request.get_data())
        if isinstance(prepared, Reply):
            return to_response(prepared)
        result = client.call(prepared.endpoint, prepared.upstream_model, prepared.body)
        return to_response(gateway.finish(prepared, result))

    add = app.add_url_rule
    add("/v1/chat/completions", "chat", lambda: complete("chat"), methods=["POST"])
    add("/v1/completions", "completions", lambda: complete("completions"), methods=["POST"])
    add("/v1/embeddings", "embeddings", lambda: complete("embeddings"), methods=["POST"])
    add("/v1/models", "models", lambda: to_response(gateway.models()))
    add("/health", "health", lambda: to_response(gateway.health()))
    add("/metrics/performance", "metrics", lambda: to_response(gateway.metrics()))
    _register_errors(app, gateway)
    return app
