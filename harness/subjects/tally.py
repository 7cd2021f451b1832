"""A thread-safe bag of named counters (Flask serves from many threads)."""

from __future__ import annotations

import threading


class Tally:
    """Named integer or float totals, added to under a lock and read as a snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, float] = {}

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            self._totals[name] = self._totals.get(name, 0) + amount

    def add_many(self, amounts: dict[str, float]) -> None:
        with self._lock:
            for name, amount in amounts.items():
                self._totals[name] = self._totals.get(name, 0) + amount

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._totals)
