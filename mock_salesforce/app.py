"""The aiohttp application: OAuth token endpoint, Models API handlers, journal and counters.

Per request: read the body (413 over the limit), check the bearer (401), the required headers
(400), the model (404), the JSON (400), quotas (429); then pick a fault, wait the injected
latency, and send the reply rendered into its shape, or the fault.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from mock_salesforce import delivery
from mock_salesforce.config import MockConfig
from mock_salesforce.errors import ApiError
from mock_salesforce.exchange import Exchange, Incoming, finish, peer_of, read_body
from mock_salesforce.faults import Fault
from mock_salesforce.oauth import OAuthError, basic_credentials
from mock_salesforce.rendering import Prepared, prepared_for, render, render_parts
from mock_salesforce.state import MockState
from mock_salesforce.validation import (
    check_body,
    check_headers,
    parse_body,
)

STATE = web.AppKey("sfperf_mock_state", MockState)
MODEL_OPERATIONS = frozenset({"generations", "chat-generations", "embeddings"})
FEEDBACK_REPLY = b'{"message":"Feedback received, Thank you!"}'
JSON = "application/json"


def create_app(
    config: MockConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    instance: int = 0,
    workers: int = 1,
) -> web.Application:
    """The mock as an aiohttp app; `clock` (monotonic s) and `wall_clock` (epoch s) injected;
    `instance` of `workers` processes sharing the port."""
    from mock_salesforce.admin import add_admin_routes

    # Bodies are read (and limited) by hand.
    app = web.Application(client_max_size=1 << 40, middlewares=[documented_errors])
    app[STATE] = MockState(
        config, clock=clock, wall_clock=wall_clock, instance=instance, workers=workers
    )
    app.router.add_route("*", "/services/oauth2/token", handle_token)
    app.router.add_route("*", "/einstein/platform/v1/models/{model}/{operation}", handle_model)
    app.router.add_route("*", "/einstein/platform/v1/feedback", handle_feedback)
    add_admin_routes(app, STATE)
    app.router.add_route("*", "/{tail:.*}", handle_unknown)
    return app


Serve = Callable[[web.Request, MockState, Exchange], Awaitable[web.StreamResponse]]


class Connected:
    """An aiohttp request as the journal sees it: its `remote` with the peer's port, as the
    front door's requests have it (aiohttp's own `remote` is the host alone)."""

    __slots__ = ("headers", "remote", "transport")

    def __init__(self, request: web.Request) -> None:
        self.headers: Mapping[str, str] = request.headers
        self.transport = request.transport
        peer = self.transport.get_extra_info("peername") if self.transport else None
        self.remote = peer_of(peer) or request.remote


@web.middleware
async def documented_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What aiohttp itself refuses before a handler runs (a CONNECT's target, an unknown
    `Expect`) gets the documented error object too, counted and journaled."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        state = request.app[STATE]
        exchange = Exchange(state, "other", None)
        response = _error_response(ApiError.for_status(exc.status, exc.reason), exchange)
        finish(state, Connected(request), exchange)
        return response


async def _exchange(request: web.Request, exchange: Exchange, serve: Serve) -> web.StreamResponse:
    """Run `serve`, turn errors into their documented replies, journal the outcome."""
    state = request.app[STATE]
    try:
        response = await serve(request, state, exchange)
    except ApiError as error:
        response = _error_response(error, exchange)
    except OAuthError as error:
        exchange.status, exchange.error = error.status, error.said()
        response = web.Response(
            body=error.body(), status=error.status, headers=exchange.headers(), content_type=JSON
        )
    except ConnectionError:
        exchange.disconnected = True
        response = web.Response(status=499)  # never written: the client is gone
    except asyncio.CancelledError:  # servers with handler cancellation on: the client left
        exchange.disconnected = True
        finish(state, Connected(request), exchange)
        raise
    finish(state, Connected(request), exchange)
    return response


async def handle_model(request: web.Request) -> web.StreamResponse:
    """POST /einstein/platform/v1/models/{model}/{generations|chat-generations|embeddings}."""
    operation = request.match_info["operation"]
    endpoint = operation if operation in MODEL_OPERATIONS else "other"
    exchange = Exchange(request.app[STATE], endpoint, request.match_info["model"])
    return await _exchange(request, exchange, _serve_model)


async def _serve_model(
    request: web.Request, state: MockState, exchange: Exchange
) -> web.StreamResponse:
    if exchange.endpoint == "other":
        raise ApiError(404, "NOT_FOUND", f"Resource not found: {request.path}")
    prepared, fault = plan_model(request, state, exchange, await _post_body(request, exchange))
    if prepared.pending is not None:  # a large reply: built in slices, written in pieces
        parts = await render_parts(state, exchange.seq, prepared)
        await wait_latency(state, exchange)
        if fault is None:
            return await _reply_in_parts(request, exchange, parts)
        return await _send(request, exchange, b"".join(parts), fault)
    if exchange.latency_ms > 0:
        await wait_latency(state, exchange)
    payload = render(state, exchange.seq, prepared)
    if fault is None:
        return _reply(request, exchange, payload)
    return await _send(request, exchange, payload, fault)


def plan_model(
    request: Incoming, state: MockState, exchange: Exchange, raw: bytes
) -> tuple[Prepared, Fault | None]:
    """Everything a Models API reply settles before it waits: the bearer, headers, model and
    body checks (ApiError), the quota, the fault and the injected latency."""
    admit(request, state, exchange, raw)
    prepared = prepared_for(exchange.runtime, exchange.endpoint, exchange.model or "", raw)
    exchange.reply = prepared.reply
    exchange.shape = prepared.reply.shape
    _check_quota(state, exchange)
    fault = _decide_fault(state, exchange)
    _latency_ms(exchange, prepared.reply.completion_tokens)
    return prepared, fault


def admit(request: Incoming, state: MockState, exchange: Exchange, raw: bytes) -> None:
    """The checks made before the body is looked at: bearer (401), required headers (400)."""
    exchange.body = raw
    _check_bearer(request, state, exchange)
    if exchange.runtime.config.strict_headers:
        check_headers(request.headers)


async def _post_body(request: web.Request, exchange: Exchange) -> bytes:
    """The body of a POST: 405 for another method, 413 past the endpoint's body limit."""
    if request.method != "POST":
        raise ApiError(405, "METHOD_NOT_ALLOWED", "Use POST", {"Allow": "POST"})
    return await read_body(request, exchange.runtime.body_limits_bytes[exchange.endpoint])


def _check_quota(state: MockState, exchange: Exchange) -> None:
    quotas = exchange.runtime.quotas
    if quotas is not None and not quotas.admit(exchange.endpoint, state.uptime_s()):
        state.counters.quota_rejections += 1
        raise ApiError(429, "LIMIT_EXCEEDED", "Rate limit exceeded for this endpoint")


def _check_bearer(request: Incoming, state: MockState, exchange: Exchange) -> None:
    if not exchange.runtime.config.require_auth:
        exchange.token_status = "not-required"
        return
    check = state.issuer.check(request.headers.get("authorization"))
    state.counters.count_token_check(check.status)
    exchange.token_status, exchange.token_id = check.status, check.token_id
    if check.expires_s is not None:
        exchange.token_expires_t_s = check.expires_s - state.epoch_start_s
    if check.status != "valid":
        raise ApiError(401, "INVALID_AUTH", f"Access bearer token is {check.status}")


def _decide_fault(state: MockState, exchange: Exchange) -> Fault | None:
    plan = exchange.runtime.faults
    if plan is None:
        return None
    fault = plan.decide(exchange.endpoint, exchange.model or "", exchange.seq, state.uptime_s())
    if fault is not None:
        exchange.fault = fault.label
        exchange.retry_after_s = fault.retry_after_s
    return fault


def _latency_ms(exchange: Exchange, output_tokens: int) -> float:
    """Draw the injected latency of this request (kept on the exchange)."""
    runtime = exchange.runtime
    latency_ms = runtime.sample_latency_ms(exchange.endpoint, exchange.model or "", output_tokens)
    exchange.latency_ms = latency_ms
    return latency_ms


async def wait_latency(state: MockState, exchange: Exchange) -> None:
    """Sleep so the reply leaves `exchange.latency_ms` after the request arrived."""
    remaining_s = exchange.latency_ms / 1000.0 - (state.clock() - exchange.t0_s)
    if remaining_s > 0:
        await asyncio.sleep(remaining_s)


def _reply(request: web.Request, exchange: Exchange, payload: bytes) -> web.Response:
    """The normal reply: 200 (202 for feedback) with the fidelity headers."""
    exchange.disconnected = delivery.client_gone(request.transport)
    exchange.status = 202 if exchange.endpoint == "feedback" else 200
    headers = exchange.headers()
    headers["Content-Type"] = JSON
    return web.Response(body=payload, status=exchange.status, headers=headers)


async def _reply_in_parts(
    request: web.Request, exchange: Exchange, parts: list[bytes]
) -> web.StreamResponse:
    """The normal 200 reply written piece by piece (a large reply is never joined whole)."""
    exchange.disconnected = delivery.client_gone(request.transport)
    exchange.status = 200
    headers = exchange.headers()
    headers["Content-Type"] = JSON
    response = web.StreamResponse(status=200, headers=headers)
    response.content_length = sum(map(len, parts))
    await response.prepare(request)
    for part in parts:
        await response.write(part)
    await response.write_eof()
    return response


async def _send(
    request: web.Request, exchange: Exchange, payload: bytes, fault: Fault | None
) -> web.StreamResponse:
    """The normal reply, or the fault instead of it."""
    if fault is None:
        return _reply(request, exchange, payload)
    exchange.disconnected = delivery.client_gone(request.transport)
    if fault.kind not in delivery.BODY_FAULTS:
        exchange.shape = None  # what goes out is not the reply shape
    headers = exchange.headers()
    exchange.status = fault.status if fault.kind == "status" and fault.status else 0
    if fault.kind == "hang":
        exchange.disconnected = await delivery.hang(request.transport, fault.hang_s)
        return web.Response(status=204)  # never written: the connection is gone
    response = await delivery.deliver(request, fault, payload, headers)
    if fault.kind in delivery.BODY_FAULTS:
        exchange.status = response.status
    if fault.kind == "dribble":  # the client may give up while the body trickles out
        exchange.disconnected = exchange.disconnected or delivery.client_gone(request.transport)
    return response


def _error_response(error: ApiError, exchange: Exchange) -> web.Response:
    exchange.status, exchange.error = error.status, error.said()
    headers = exchange.headers()
    headers.update(error.headers)
    return web.Response(body=error.body(), status=error.status, headers=headers, content_type=JSON)


async def handle_feedback(request: web.Request) -> web.StreamResponse:
    """POST /einstein/platform/v1/feedback: 202 with the documented message."""
    exchange = Exchange(request.app[STATE], "feedback", None)
    return await _exchange(request, exchange, _serve_feedback)


async def _serve_feedback(
    request: web.Request, state: MockState, exchange: Exchange
) -> web.StreamResponse:
    fault = plan_feedback(request, state, exchange, await _post_body(request, exchange))
    await wait_latency(state, exchange)
    return await _send(request, exchange, FEEDBACK_REPLY, fault)


def plan_feedback(
    request: Incoming, state: MockState, exchange: Exchange, raw: bytes
) -> Fault | None:
    """The feedback reply settled before it waits (like `plan_model`)."""
    admit(request, state, exchange, raw)
    body = parse_body(raw)
    check_body("feedback", body)
    _check_quota(state, exchange)
    exchange.shape = "official-feedback"
    fault = _decide_fault(state, exchange)
    _latency_ms(exchange, 0)
    return fault


async def handle_token(request: web.Request) -> web.StreamResponse:
    """POST /services/oauth2/token (client credentials, form body or query string)."""
    exchange = Exchange(request.app[STATE], "token", None)
    exchange.token_status = "not-required"
    return await _exchange(request, exchange, _serve_token)


async def _serve_token(
    request: web.Request, state: MockState, exchange: Exchange
) -> web.StreamResponse:
    if request.method != "POST":
        raise OAuthError(405, "invalid_request", "must use HTTP POST")
    try:
        raw = await read_body(request, exchange.runtime.body_limits_bytes["token"])
    except ApiError as error:  # OAuth clients expect OAuth error objects
        raise OAuthError(error.status, "invalid_request", error.message) from None
    form, fault = plan_token(
        state, exchange, raw, request.query, request.headers.get("authorization")
    )
    await wait_latency(state, exchange)
    if fault is not None and fault.kind == "status":
        return await _send(request, exchange, b"", fault)
    payload = issue_token(state, exchange, form, f"{request.scheme}://{request.host}")
    return await _send(request, exchange, payload, fault)


def plan_token(
    state: MockState,
    exchange: Exchange,
    raw: bytes,
    query: Mapping[str, str],
    authorization: str | None = None,
) -> tuple[dict[str, str], Fault | None]:
    """The token request's form (query string, then form body; client credentials from an
    `Authorization: Basic` header where the form has none) and fault, latency drawn."""
    exchange.body = raw
    form = dict(query)
    form.update(_parse_form(raw))
    for name, value in basic_credentials(authorization).items():
        form.setdefault(name, value)
    fault = _decide_fault(state, exchange)
    _latency_ms(exchange, 0)
    return form, fault


def issue_token(state: MockState, exchange: Exchange, form: dict[str, str], base_url: str) -> bytes:
    """Issue the token (OAuthError for a bad grant or credentials): the reply body."""
    document = state.issuer.issue(form, base_url)
    state.counters.tokens_issued += 1
    exchange.shape = "official-token"
    return _json_bytes(document)


def _parse_form(raw: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(400, "invalid_request", "malformed form body") from None


def _json_bytes(document: dict[str, Any]) -> bytes:
    import json

    return json.dumps(document, separators=(",", ":")).encode()


async def handle_unknown(request: web.Request) -> web.StreamResponse:
    """Anything else: 404 with the documented error object."""
    state = request.app[STATE]
    exchange = Exchange(state, "other", None)
    error = ApiError(404, "NOT_FOUND", f"Resource not found: {request.path}")
    response = _error_response(error, exchange)
    finish(state, Connected(request), exchange)
    return response
