"""The request journal: a bounded ring of one small tuple per request the mock saw.

Entry fields are a contract (docs/internals.md; gateway grading reads them): see `FIELDS`.
"""

from __future__ import annotations

from collections import deque
from typing import Any

FIELDS = (
    "seq", "request_id", "t_s", "endpoint", "model", "client", "body_sha256", "token_id",
    "token_status", "token_expires_t_s", "status", "shape", "fault", "latency_ms",
    "retry_after_s", "app_context", "feature_id", "extra_fields", "duration_s", "disconnected",
)  # fmt: skip


class Journal:
    """The last `size` entries, oldest first; readers page with `since(seq)`."""

    def __init__(self, size: int) -> None:
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=max(size, 0))
        self.dropped = 0

    def append(self, entry: tuple[Any, ...]) -> None:
        """Add one entry (values in `FIELDS` order); the oldest falls off when full."""
        entries = self._entries
        if len(entries) == entries.maxlen:
            self.dropped += 1
            if not entries.maxlen:
                return
        entries.append(entry)

    def since(self, seq: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Entries with `seq` greater than `seq`, as dicts, oldest first."""
        selected = [e for e in self._entries if e[0] > seq]
        if limit is not None:
            selected = selected[:limit]
        return [_as_dict(e) for e in selected]

    def resize(self, size: int) -> None:
        """Change the bound, keeping the newest entries."""
        self._entries = deque(self._entries, maxlen=max(size, 0))

    def clear(self) -> None:
        self._entries.clear()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)


_ROUNDED = {"t_s": 6, "token_expires_t_s": 3, "latency_ms": 3, "duration_s": 6}


def _as_dict(entry: tuple[Any, ...]) -> dict[str, Any]:
    """One entry as a dict, times rounded (they are kept raw: rounding is not hot-path work)."""
    document = dict(zip(FIELDS, entry, strict=True))
    document["extra_fields"] = list(document["extra_fields"] or ())
    for name, digits in _ROUNDED.items():
        if isinstance(document[name], float):
            document[name] = round(document[name], digits)
    return document
