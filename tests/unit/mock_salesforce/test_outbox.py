"""The outbox: replies kept to the end of the loop's turn, written in order."""

from __future__ import annotations

import asyncio

from mock_salesforce.outbox import Outbox


class Transport:
    """Records every write, in one list shared by the transports of a test."""

    def __init__(self, name: str, log: list[tuple[str, bytes]]) -> None:
        self.name, self.log, self.closed = name, log, False

    def write(self, data: bytes) -> None:
        self.log.append((self.name, data))

    def is_closing(self) -> bool:
        return self.closed


async def test_what_a_turn_puts_is_written_in_order_once_the_turn_ends() -> None:
    log: list[tuple[str, bytes]] = []
    outbox = Outbox(asyncio.get_running_loop())
    a, b = Transport("a", log), Transport("b", log)
    for transport, data in ((a, b"1"), (b, b"2"), (a, b"3")):
        outbox.put(transport, data)  # type: ignore[arg-type]
    assert not log and len(outbox) == 3
    await asyncio.sleep(0)
    assert log == [("a", b"1"), ("b", b"2"), ("a", b"3")] and not outbox


async def test_a_flush_within_the_turn_writes_at_once_and_nothing_twice() -> None:
    log: list[tuple[str, bytes]] = []
    outbox = Outbox(asyncio.get_running_loop())
    outbox.put(Transport("a", log), b"1")  # type: ignore[arg-type]
    outbox.flush()
    assert log == [("a", b"1")]
    outbox.put(Transport("b", log), b"2")  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert log == [("a", b"1"), ("b", b"2")]


async def test_a_reply_for_a_connection_closed_meanwhile_is_dropped() -> None:
    log: list[tuple[str, bytes]] = []
    outbox = Outbox(asyncio.get_running_loop())
    gone = Transport("gone", log)
    outbox.put(gone, b"1")  # type: ignore[arg-type]
    gone.closed = True
    await asyncio.sleep(0)
    assert log == []
