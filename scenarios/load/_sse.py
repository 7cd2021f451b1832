"""A chat reply as the load client reads it: the body, and for a stream the arrival of each chunk.

Pure (no gevent, no locust): `read_sse` takes any response with geventhttpclient's `readline`
and `read`, so the child's reading is tested without a socket.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Exchange:
    """What came back for one request (payload for plain replies, text for streamed ones)."""

    status: int
    payload: bytes  # the raw body: JSON, or the SSE stream as received
    size_bytes: int = 0
    ttft_ms: float | None = None
    itl_ms: tuple[float, ...] = ()
    error: str = ""
    retry_after: str = ""  # the reply's Retry-After header
    closed: bool = False  # the reply said the target closes the connection after it


def read_sse(response: Any, status: int, t0: float) -> Exchange:
    """Read an SSE chat stream: the raw stream plus the arrival time of each content chunk
    (a reply that is no stream, such as one whole JSON completion, is read whole)."""
    lines: list[bytes] = []
    arrivals_ms: list[float] = []
    while line := response.readline(b"\n"):
        lines.append(line)
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        if sse_piece(data):
            arrivals_ms.append((time.perf_counter() - t0) * 1000.0)
    else:
        # readline gives nothing for a last line without a newline (a JSON body's): keep it.
        lines.append(response.read())
    raw = b"".join(lines)
    gaps = tuple(b - a for a, b in itertools.pairwise(arrivals_ms))
    ttft = arrivals_ms[0] if arrivals_ms else None
    return Exchange(status, raw, len(raw), ttft, gaps)


def sse_piece(data: bytes) -> str:
    """The content text of one `chat.completion.chunk` ('' for role-only or final chunks)."""
    try:
        choices = json.loads(data).get("choices") or [{}]
        return str(choices[0].get("delta", {}).get("content") or "")
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""
