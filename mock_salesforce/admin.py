"""The admin API under `/__admin/`: config, counters, journal, reset, expected replies, health.

Like WireMock's: read and change the config at runtime (a JSON merge patch), read what the mock
saw. Admin calls are not journaled. It can be disabled, or require `Authorization: Bearer TOKEN`.

Safe on loopback: it never shows a secret (the client secret and the admin token read as
`REDACTED`), and a call other than GET must come as `Content-Type: application/json` (a web page
cannot send that to another origin without a preflight the mock never grants), to a Host that
is `localhost` or an IP address (DNS rebinding needs a name), from no Origin but a loopback one.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from mock_salesforce.config import MockConfig
from mock_salesforce.effective import endpoint_views
from mock_salesforce.errors import ApiError, ConfigError
from mock_salesforce.exchange import read_body
from mock_salesforce.replies import expected_reply
from mock_salesforce.state import MockState

Handler = Callable[[web.Request, MockState], Awaitable[web.Response]]
PREFIX = "/__admin"
REDACTED = "<redacted>"
BODY_LIMIT_BYTES = 1 << 20


def add_admin_routes(app: web.Application, key: web.AppKey[MockState]) -> None:
    """Register every admin route on `app`, reading the shared state under `key`."""
    routes: dict[str, dict[str, Handler]] = {
        "/health": {"GET": health},
        "/config": {"GET": get_config, "PATCH": patch_config},
        "/counters": {"GET": get_counters},
        "/journal": {"GET": get_journal},
        "/reset": {"POST": reset},
        "/expected": {"POST": post_expected},
    }
    for path, methods in routes.items():
        app.router.add_route("*", PREFIX + path, _guarded(key, methods))


def _guarded(
    key: web.AppKey[MockState], methods: dict[str, Handler]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        state = request.app[key]
        config = state.config
        if not config.admin_enabled:
            return _problem(404, "the admin API is disabled")
        if config.admin_token is not None and not _token_ok(request, config.admin_token):
            return _problem(401, "admin API needs Authorization: Bearer <admin token>")
        handler = methods.get(request.method)
        if handler is None:
            allowed = ", ".join(methods)
            return _problem(405, f"use {allowed}", {"Allow": allowed})
        if request.method != "GET":
            refusal = _refuse_from_a_page(request)
            if refusal is not None:
                return refusal
        return await handler(request, state)

    return handle


def _refuse_from_a_page(request: web.Request) -> web.Response | None:
    """The refusal of a call a web page could have made (None when it could not have)."""
    if request.content_type != "application/json":
        return _problem(415, "send Content-Type: application/json")
    host = request.headers.get("Host", "")
    if not _addressed(host):
        return _problem(403, "the Host must be localhost or an IP address")
    origin = request.headers.get("Origin")
    if origin is not None and not _loopback(urlsplit(origin).hostname or ""):
        return _problem(403, "calls from a web page are refused (Origin is not loopback)")
    return None


def _hostname(host: str) -> str:
    try:
        return urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return ""


def _addressed(host: str) -> bool:
    """A Host header naming localhost or an IP address."""
    name = _hostname(host)
    return name == "localhost" or _ip(name) is not None


def _loopback(name: str) -> bool:
    address = _ip(name)
    return name == "localhost" or (address is not None and address.is_loopback)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _token_ok(request: web.Request, token: str) -> bool:
    # Header values may hold any bytes (aiohttp keeps them as surrogates): compare bytes.
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, f"Bearer {token}".encode("utf-8", "surrogateescape"))


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(document).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def _problem(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message}, status, headers)


async def _read_json(request: web.Request) -> Any:
    try:
        return json.loads(await read_body(request, BODY_LIMIT_BYTES))
    except ApiError as exc:  # over the limit
        raise ConfigError(exc.message) from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise ConfigError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ConfigError("malformed JSON: nested too deep") from None


async def health(request: web.Request, state: MockState) -> web.Response:
    """GET /__admin/health: liveness and a few facts."""
    return _json(
        {"status": "ok", "uptime_s": round(state.uptime_s(), 3), "requests": state.seq,
         "profile": state.config.profile, "seed": state.config.seed,
         "instance": state.instance, "workers": state.workers}
    )  # fmt: skip


async def get_config(request: web.Request, state: MockState) -> web.Response:
    """GET /__admin/config: the config in force, and `effective`: per endpoint, the latency,
    faults and quota that apply after precedence (`effective.py`)."""
    return _json(_config_document(state))


def _config_document(state: MockState) -> dict[str, Any]:
    views = endpoint_views(state.runtime)
    document = {**state.config.to_dict(), "effective": {v.endpoint: v.as_dict() for v in views}}
    if document["credentials"]:
        document["credentials"] = [document["credentials"][0], REDACTED]
    if document["admin_token"] is not None:
        document["admin_token"] = REDACTED
    return document


def _unredacted(patch: Mapping[str, Any], config: MockConfig) -> dict[str, Any]:
    """`patch` with the secrets it echoes back as `REDACTED` left as they are (a client may
    send back the config it read)."""
    kept = dict(patch)
    if kept.get("admin_token") == REDACTED:
        del kept["admin_token"]
    credentials = kept.get("credentials")
    if isinstance(credentials, list) and credentials[1:] == [REDACTED]:
        if config.credentials is None or credentials[0] != config.credentials[0]:
            raise ConfigError("credentials: send the client secret itself")
        del kept["credentials"]
    return kept


async def patch_config(request: web.Request, state: MockState) -> web.Response:
    """PATCH /__admin/config: a JSON merge patch; a bad one changes nothing (400)."""
    try:
        patch = await _read_json(request)
        if not isinstance(patch, dict):
            raise ConfigError("the patch must be a JSON object")
        state.apply(state.config.patched(_unredacted(patch, state.config)))
    except ConfigError as exc:
        return _problem(400, str(exc))
    return _json(_config_document(state))


async def get_counters(request: web.Request, state: MockState) -> web.Response:
    """GET /__admin/counters: counters, fault rules fired, journal fill."""
    document = state.counters.snapshot()
    plan = state.runtime.faults
    document["fault_rules"] = plan.counters() if plan is not None else []
    document["journal"] = {"entries": len(state.journal), "dropped": state.journal.dropped}
    return _json(document)


async def get_journal(request: web.Request, state: MockState) -> web.Response:
    """GET /__admin/journal?since=SEQ&limit=N: entries after SEQ, oldest first."""
    try:
        since = int(request.query.get("since", "0"))
        limit = int(request.query["limit"]) if "limit" in request.query else None
    except ValueError:
        return _problem(400, "since and limit must be integers")
    entries = state.journal.since(since, limit)
    return _json({"entries": entries, "last_seq": state.seq, "dropped": state.journal.dropped})


async def reset(request: web.Request, state: MockState) -> web.Response:
    """POST /__admin/reset: zero counters, empty the journal, restart fault schedules."""
    state.reset()
    return _json({"reset": True})


async def post_expected(request: web.Request, state: MockState) -> web.Response:
    """POST /__admin/expected {"endpoint", "body"}: the reply the mock gives that request."""
    try:
        query = await _read_json(request)
    except ConfigError as exc:
        return _problem(400, str(exc))
    if not isinstance(query, dict) or not isinstance(query.get("body"), dict):
        return _problem(400, 'expected {"endpoint": "...", "body": {...}}')
    endpoint = str(query.get("endpoint", "chat-generations"))
    if endpoint not in ("generations", "chat-generations", "embeddings"):
        return _problem(400, f"unknown endpoint {endpoint!r}")
    runtime = state.runtime
    reply = expected_reply(
        runtime.config.seed, endpoint, query["body"], runtime.mix, runtime.lengths
    )
    return _json(reply.as_dict())
