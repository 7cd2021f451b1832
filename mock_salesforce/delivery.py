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
_DRIBBLE_CHUNK_BYTES = 16


def status_reply(fault: Fault, headers: dict[str, str]) -> web.Response:
    """The documented error object for the fault's status, with Retry-After when set."""
    error = ApiError.for_status(fault.status or 500)
    if fault.retry_after_s is not None:
        headers["Retry-After"] = str(math.ceil(fault.retry_after_s))
    return web.Response(
        body=error.body(), status=error.status, headers=headers, content_type="application/json"
    )


async def deliver(
    request: web.Request, fault: Fault, body: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    """Send `fault` instead of the normal 200 reply `body` (which broken-body faults cut up)."""
    if fault.kind == "status":
        return status_reply(fault, headers)
    if fault.kind == "reset":
        reset_connection(request)
    elif fault.kind == "empty":
        close_connection(request)
    elif fault.kind == "hang":
        await hang(request, fault.hang_s)
    elif fault.kind == "truncated":
        return await _send_partial(request, body, headers)
    elif fault.kind == "malformed":
        broken = body[: max(len(body) - 1, 0)] + b',"'
        return web.Response(body=broken, headers=headers, content_type="application/json")
    elif fault.kind == "dribble":
        return await _dribble(request, body, headers, fault.dribble_bytes_per_s or 100.0)
    return web.Response(status=204)  # never written: the connection is gone


def reset_connection(request: web.Request) -> None:
    """Close with SO_LINGER 0, so the peer gets a TCP RST (ECONNRESET), not a clean FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.close()


def close_connection(request: web.Request) -> None:
    """Close without a byte of reply (what curl calls 'Empty reply from server')."""
    if request.transport is not None:
        request.transport.close()


async def hang(request: web.Request, hang_s: float | None) -> bool:
    """Say nothing for `hang_s` (or until the client leaves), then drop the connection.

    Returns whether the client gave up first."""
    limit_s = HANG_CAP_S if hang_s is None else min(hang_s, HANG_CAP_S)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline and not client_gone(request):
        await asyncio.sleep(min(_POLL_S, max(deadline - loop.time(), 0.0)))
    gave_up = client_gone(request)
    close_connection(request)
    return gave_up


def client_gone(request: web.Request) -> bool:
    """Whether the client has closed its side (or the connection is closing)."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def _send_partial(
    request: web.Request, body: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    close_connection(request)
    return response


async def _dribble(
    request: web.Request, body: bytes, headers: dict[str, str], rate_bytes_per_s: float
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    pause_s = _DRIBBLE_CHUNK_BYTES / rate_bytes_per_s
    for start in range(0, len(body), _DRIBBLE_CHUNK_BYTES):
        if client_gone(request):
            break
        await response.write(body[start : start + _DRIBBLE_CHUNK_BYTES])
        await asyncio.sleep(pause_s)
    return response
