"""The mock on a real loopback server behind either front, with a client bound to its URL.

`fast` is the front door (the Models API hot path served by `mock_salesforce.frontdoor`, the rest
by aiohttp); `aiohttp` serves everything through the aiohttp application. Tests parametrized over
both show the two answer alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
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


__all__ = ["FRONTS", "UrlClient", "serving"]
