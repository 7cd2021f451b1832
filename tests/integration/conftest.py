"""Fixtures shared by the integration tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mock_salesforce.config import MockConfig

from .mock_fronts import FRONTS, UrlClient, serving

MakeMock = Callable[..., Awaitable[UrlClient]]


@pytest.fixture(params=FRONTS)
async def mock_client(request: pytest.FixtureRequest) -> AsyncIterator[MakeMock]:
    """`await mock_client(config, clock=None)`: the mock on loopback behind each front in turn."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(config: MockConfig, clock: Callable[[], float] | None = None) -> UrlClient:
            return await stack.enter_async_context(serving(request.param, config, clock))

        yield make
