"""Running the mock: `MockServer` (async context manager), `run_in_thread` (sync), `serve`."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from mock_salesforce.admin_client import AdminClient
from mock_salesforce.app import STATE, create_app
from mock_salesforce.config import MockConfig
from mock_salesforce.errors import ConfigError
from mock_salesforce.frontdoor import KEEPALIVE_S, FrontDoor, HttpDate
from mock_salesforce.outbox import Outbox
from mock_salesforce.protocol import MockRequestHandler
from mock_salesforce.state import MockState

# `fast`: the front door serves the Models API hot path, aiohttp the rest (see frontdoor.py);
# `aiohttp`: aiohttp serves everything (slower; the reference the front door is tested against).
FRONTS = ("fast", "aiohttp")
LOOPS = ("auto", "uvloop", "asyncio")
T = TypeVar("T")


def run_serving(main: Callable[[], Coroutine[Any, Any, T]], loop: str = "auto") -> T:
    """Run `main()` to completion on a new event loop of the kind named: `uvloop` (compiled:
    its transports cost a request less CPU than asyncio's), `asyncio`, or `auto` (uvloop when
    installed, as it is with sfperf on Linux and macOS)."""
    factory = loop_factory(loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the event loop named (None: asyncio's own); ConfigError for a `uvloop`
    that is not installed."""
    if loop == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if loop == "uvloop":
            raise ConfigError("--loop uvloop: uvloop is not installed") from None
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def format_url(host: str, port: int) -> str:
    """`http://HOST:PORT`, with IPv6 hosts bracketed."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class MockServer:
    """The mock listening on `host:port` (port 0: a free one) while the context is open."""

    def __init__(
        self,
        config: MockConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        reuse_port: bool = False,
        shutdown_timeout_s: float = 2.0,
        instance: int = 0,
        workers: int = 1,
        front: str = "fast",
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        if front not in FRONTS:
            raise ConfigError(f"unknown front {front!r}: choose one of {', '.join(FRONTS)}")
        self.app = create_app(
            config or MockConfig(), clock=clock, instance=instance, workers=workers
        )
        self.host = host
        self.port = port
        self.reuse_port = reuse_port
        self.front = front
        self.keepalive_s = keepalive_s
        # The app's startup, cleanup and request dispatch; connections are protocols of ours.
        self._runner = web.AppRunner(self.app, shutdown_timeout=shutdown_timeout_s)
        self._listener: asyncio.Server | None = None
        self._doors: set[FrontDoor] = set()

    @property
    def url(self) -> str:
        return format_url(self.host, self.port)

    @property
    def state(self) -> MockState:
        return self.app[STATE]

    async def __aenter__(self) -> MockServer:
        await self._runner.setup()
        manager, state, date = self._runner.server, self.state, HttpDate()
        assert manager is not None  # set up above
        loop = asyncio.get_running_loop()
        outbox = Outbox(loop)  # every connection's replies, written as the loop's turn ends

        def aiohttp_protocol() -> MockRequestHandler:
            return MockRequestHandler(manager, state, self.keepalive_s)

        def front_door() -> FrontDoor:
            return FrontDoor(state, aiohttp_protocol, date, self._doors, self.keepalive_s, outbox)

        self._listener = await loop.create_server(
            front_door if self.front == "fast" else aiohttp_protocol,
            self.host,
            self.port,
            reuse_port=self.reuse_port or None,
        )
        self.port = int(self._listener.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._listener is not None:
            self._listener.close()
            for door in list(self._doors):
                door.close()
        await self._runner.cleanup()
        if self._listener is not None:
            await self._listener.wait_closed()


@dataclass(frozen=True)
class ThreadedMock:
    """A mock running in a background thread: its URL and a sync admin client."""

    url: str
    admin: AdminClient
    state: MockState


@contextmanager
def run_in_thread(
    config: MockConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[ThreadedMock]:
    """Run the mock on its own event loop in a daemon thread while the context is open."""
    ready: list[MockServer | BaseException] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with MockServer(config, host, port) as server:
                ready.append(server)
                started.set()
                await stop.wait()
        except BaseException as exc:  # the caller re-raises it in its own thread
            ready.append(exc)
            started.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait()
    outcome = ready[0]
    try:
        if isinstance(outcome, BaseException):
            raise outcome
        admin_token = outcome.state.config.admin_token
        yield ThreadedMock(outcome.url, AdminClient(outcome.url, admin_token), outcome.state)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


async def serve(
    config: MockConfig,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    *,
    reuse_port: bool = False,
    instance: int = 0,
    workers: int = 1,
    front: str = "fast",
) -> int:
    """Serve until SIGINT or SIGTERM, then stop cleanly and return that signal's number;
    `on_ready(url)` once listening."""
    with stop_signals() as stopped_by:
        async with MockServer(
            config,
            host,
            port,
            reuse_port=reuse_port,
            instance=instance,
            workers=workers,
            front=front,
        ) as server:
            on_ready(server.url)
            return await stopped_by


@contextmanager
def stop_signals() -> Iterator[asyncio.Future[int]]:
    """For the block, a future that the first SIGINT or SIGTERM sets to its number (handled on
    the running loop, which must be in the main thread)."""
    loop = asyncio.get_running_loop()
    stopped_by: asyncio.Future[int] = loop.create_future()

    def on_signal(signum: int) -> None:
        if not stopped_by.done():
            stopped_by.set_result(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield stopped_by
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
