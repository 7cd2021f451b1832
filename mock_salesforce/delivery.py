"""How each injected fault reaches the wire: error replies, resets, hangs, broken bodies."""

from __future__ import annotations

import asyncio
import math
import socket
import struct

from aiohttp import web

from mock_salesforce.errors import ApiError
from mock_salesforce.faults import Fault

HANG_CAP_S = 600.0  # a hang "until the client gives up" still ends, so shutdown never waits long
_POLL_S = 0.05
DRIBBLE_CHUNK_BYTES = 16
# Faults that break the reply body (the status line says 200) rather than replace it.
BODY_FAULTS = frozenset({"truncated", "malformed", "dribble"})
# Faults whose delivery takes time (the others go out at once).
SLOW_FAULTS = frozenset({"hang", "dribble"})


def status_error(fault: Fault, headers: dict[str, str]) -> ApiError:
    """The documented error for the fault's status; adds Retry-After to `headers` when set."""
    if fault.retry_after_s is not None:
        headers["Retry-After"] = str(math.ceil(fault.retry_after_s))
    return ApiError.for_status(fault.status or 500)


def status_reply(fault: Fault, headers: dict[str, str]) -> web.Response:
    """The documented error object for the fault's status, with Retry-After when set."""
    error = status_error(fault, headers)
    return web.Response(
        body=error.body(), status=error.status, headers=headers, content_type="application/json"
    )


def malformed(body: bytes) -> bytes:
    """The reply body cut before its last byte and continued as broken JSON."""
    return body[: max(len(body) - 1, 0)] + b',"'


def dribble_pause_s(rate_bytes_per_s: float | None) -> float:
    """The pause between `DRIBBLE_CHUNK_BYTES` chunks of a dribbled body."""
    return DRIBBLE_CHUNK_BYTES / (rate_bytes_per_s or 100.0)


async def deliver(
    request: web.Request, fault: Fault, body: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    """Send `fault` instead of the normal 200 reply `body` (which broken-body faults cut up)."""
    if fault.kind == "status":
        return status_reply(fault, headers)
    if fault.kind == "reset":
        reset_connection(request.transport)
    elif fault.kind == "empty":
        close_connection(request.transport)
    elif fault.kind == "hang":
        await hang(request.transport, fault.hang_s)
    elif fault.kind == "truncated":
        return await _send_partial(request, body, headers)
    elif fault.kind == "malformed":
        return web.Response(body=malformed(body), headers=headers, content_type="application/json")
    elif fault.kind == "dribble":
        return await _dribble(request, body, headers, dribble_pause_s(fault.dribble_bytes_per_s))
    return web.Response(status=204)  # never written: the connection is gone


def reset_connection(transport: asyncio.Transport | None) -> None:
    """Close with SO_LINGER 0, so the peer gets a TCP RST (ECONNRESET), not a clean FIN."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.close()


def close_connection(transport: asyncio.Transport | None) -> None:
    """Close without a byte of reply (what curl calls 'Empty reply from server')."""
    if transport is not None:
        transport.close()


async def hang(transport: asyncio.Transport | None, hang_s: float | None) -> bool:
    """Say nothing for `hang_s` (or until the client leaves), then drop the connection.

    Returns whether the client gave up first."""
    limit_s = HANG_CAP_S if hang_s is None else min(hang_s, HANG_CAP_S)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline and not client_gone(transport):
        await asyncio.sleep(min(_POLL_S, max(deadline - loop.time(), 0.0)))
    gave_up = client_gone(transport)
    close_connection(transport)
    return gave_up


def client_gone(transport: asyncio.Transport | None) -> bool:
    """Whether the client has closed its side (or the connection is closing)."""
    return transport is None or transport.is_closing()


async def _send_partial(
    request: web.Request, body: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    close_connection(request.transport)
    return response


async def _dribble(
    request: web.Request, body: bytes, headers: dict[str, str], pause_s: float
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    for start in range(0, len(body), DRIBBLE_CHUNK_BYTES):
        if start:  # between chunks only: after the last, the client may leave with the body whole
            await asyncio.sleep(pause_s)
        if client_gone(request.transport):
            break
        await response.write(body[start : start + DRIBBLE_CHUNK_BYTES])
    return response
