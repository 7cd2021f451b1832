"""Replies written when the event loop's turn ends, not as each is made.

In one turn the loop reads every connection with bytes ready, and the front door answers most
requests within the read. Written at once, each reply's send ran the kernel's loopback work on
the mock's core (the client's receive path, its wake-up) between one request and the next, and
a busy mock spent nearly half its time so (wrk, 64 connections, every body new, side by side:
60 us of CPU a request written at once, 34 us kept to the turn's end; `bench/README.md`,
session 8). Bare aiohttp never paid it: its handlers run as tasks after the reads. The outbox
keeps a turn's replies and writes them together, in the order they were made, before the loop
waits again. Whatever else the front door writes or closes first flushes it, so nothing
overtakes a kept reply: see `FrontDoor._flush`.
"""

from __future__ import annotations

import asyncio


class Outbox:
    """The replies of one turn of `loop`, written at its end; shared by a server's connections."""

    __slots__ = ("_call_soon", "_items")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._call_soon = loop.call_soon
        self._items: list[tuple[asyncio.Transport, bytes]] = []

    def put(self, transport: asyncio.Transport, data: bytes) -> None:
        """Write `data` on `transport` once this turn of the loop ends."""
        items = self._items
        if not items:
            self._call_soon(self.flush)
        items.append((transport, data))

    def flush(self) -> None:
        """Write what is kept now, in the order it was put (a closed connection's is dropped:
        its client is gone)."""
        items = self._items
        if items:
            self._items = []
            for transport, data in items:
                if not transport.is_closing():
                    transport.write(data)

    def __len__(self) -> int:
        return len(self._items)
