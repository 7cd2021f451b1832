"""The mock on a real loopback server behind either front, with a client bound to its URL.

`fast` is the front door (the Models API hot path served by `mock_salesforce.frontdoor`, the rest
by aiohttp); `aiohttp` serves everything through the aiohttp application. Tests parametrized over
both show the two answer alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httptools  # type: ignore[import-untyped]
from yarl import URL

from mock_salesforce.config import MockConfig
from mock_salesforce.server import FRONTS, MockServer


class UrlClient:
    """Just enough of aiohttp's TestClient: requests by path against one base URL."""

    def __init__(self, session: aiohttp.ClientSession, server: MockServer) -> None:
        self.session = session
        self.server = server

    @property
    def port(self) -> int:
        return self.server.port

    def make_url(self, path: str) -> URL:
        return URL(self.server.url + path)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.session.post(self.make_url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(self.make_url(path), **kwargs)


@contextlib.asynccontextmanager
async def serving(
    front: str, config: MockConfig, clock: Callable[[], float] | None = None
) -> AsyncIterator[UrlClient]:
    """The mock serving `config` behind `front`, and a client session for it."""
    async with (
        MockServer(config, front=front, clock=clock or time.monotonic) as server,
        aiohttp.ClientSession() as session,
    ):
        yield UrlClient(session, server)


@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Replies:
    """httptools callbacks collecting whole responses."""

    def __init__(self) -> None:
        self.done: list[Reply] = []
        self.current = Reply()
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.current.status = self.parser.get_status_code()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.current.body += body

    def on_message_complete(self) -> None:
        self.done.append(self.current)
        self.current = Reply()


def request(
    path: str, body: bytes, *, method: str = "POST", extra: str = "", length: bool = True
) -> bytes:
    """The bytes of one HTTP/1.1 request (Host set; `extra`: more header lines)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def exchange(
    port: int, data: bytes | list[bytes], count: int, pause_s: float = 0.0
) -> tuple[list[Reply], bool]:
    """Send `data` (pieces `pause_s` apart) on one connection; read `count` replies.

    Returns the replies and whether the server closed the connection after them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    collected = Replies()
    try:
        for piece in [data] if isinstance(data, bytes) else data:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(pause_s)
        closed = False
        while len(collected.done) < count:
            chunk = await asyncio.wait_for(reader.read(65536), timeout=5)
            if not chunk:
                closed = True
                break
            collected.parser.feed_data(chunk)
        if not closed:
            try:
                closed = await asyncio.wait_for(reader.read(1), timeout=0.2) == b""
            except TimeoutError:
                closed = False
        return collected.done, closed
    finally:
        writer.close()


__all__ = ["FRONTS", "Reply", "UrlClient", "exchange", "request", "serving"]
