"""Run the mock Salesforce app on 127.0.0.1 in a background thread, for sync test clients."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from mock_salesforce.app import create_app
from mock_salesforce.config import MockConfig


@contextmanager
def running_mock(config: MockConfig) -> Iterator[str]:
    """The mock's base URL while it serves from its own event loop thread."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    ports: list[int] = []
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        ports.extend(addr[1] for addr in runner.addresses[:1])
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="mock", daemon=True)
    thread.start()
    if not ready.wait(10.0):
        raise RuntimeError("the mock did not start within 10 s")
    try:
        yield f"http://127.0.0.1:{ports[0]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)
