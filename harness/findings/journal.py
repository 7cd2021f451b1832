"""Read the mock's request journal (through its admin client) and keep the graded entries.

The journal is a bounded ring: when the first entry returned is past `since + 1`, older entries
were overwritten before they were read, and the grading is marked partial.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.store import atomic_write_text
from mock_salesforce.admin_client import AdminClient, AdminError, journal_entries


@dataclass(frozen=True)
class JournalRead:
    """Entries read after `since`; `lost` when the ring dropped some before they were read."""

    entries: tuple[Mapping[str, Any], ...]
    since: int
    lost: bool

    @property
    def last_seq(self) -> int:
        return max((int(e["seq"]) for e in self.entries), default=self.since)


def fetch_journal(
    mock_url: str, since: int = 0, admin_token: str | None = None, timeout_s: float = 10.0
) -> JournalRead:
    """Every journal entry with `seq > since`, page by page; UsageError if the mock won't say."""
    base = mock_url.rstrip("/")
    try:
        entries = AdminClient(base, admin_token, timeout_s).read_journal(since)
    except AdminError as exc:
        if exc.status is None:
            wrong = f"{base} answered with something that is not a request journal"
            raise UsageError(wrong) from None
        raise UsageError(f"the mock at {base} refused its journal: HTTP {exc.status}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(f"cannot read the journal of the mock at {base}: {exc}") from None
    first = min((int(e["seq"]) for e in entries), default=since + 1)
    return JournalRead(tuple(entries), since, lost=first > since + 1)


def journal_position(mock_url: str, admin_token: str | None = None) -> int | None:
    """The mock's last journal sequence number, without reading the journal (None: no mock,
    or it would not say)."""
    if not mock_url:
        return None
    try:
        answer = AdminClient(mock_url, admin_token).call("GET", "journal?limit=0")
        return int(answer["last_seq"])
    except (AdminError, OSError, ValueError, KeyError, TypeError):
        return None


def unfinished_calls(mock_url: str, since: int, admin_token: str | None = None) -> list[int] | None:
    """The sequence numbers after `since` the mock has begun and not journaled yet, oldest
    first: the calls still in flight (it journals a call when it ends; None: it would not say)."""
    try:
        answer = AdminClient(mock_url, admin_token).call("GET", f"journal?since={since}")
        done = {int(e["seq"]) for e in journal_entries(answer)}
        last_seq = int(answer["last_seq"])
    except (AdminError, OSError, ValueError, KeyError, TypeError):
        return None
    return [seq for seq in range(since + 1, last_seq + 1) if seq not in done]


def mock_epoch_s(
    mock_url: str,
    admin_token: str | None = None,
    samples: int = 3,
    clock: Callable[[], float] = time.time,
) -> float | None:
    """When the mock's journal time `t_s` 0 was on this machine's `clock` (epoch seconds), from
    its uptime; the sample with the shortest round trip wins. None when the mock won't say."""
    client = AdminClient(mock_url, admin_token, timeout_s=5.0)
    best: tuple[float, float] | None = None
    for _ in range(samples):
        try:
            sent_s = clock()
            uptime_s = float(client.health()["uptime_s"])
            back_s = clock()
        except (AdminError, OSError, ValueError, KeyError, TypeError):
            return None
        if best is None or back_s - sent_s < best[0]:
            best = (back_s - sent_s, (sent_s + back_s) / 2.0 - uptime_s)
    return None if best is None else best[1]


def save_journal(run_dir: Path, target: str, entries: Iterable[Mapping[str, Any]]) -> str:
    """Keep the graded entries as `journal-<target>.jsonl` (the mock and its journal do not
    outlive the run; the findings' example request ids point here). Returns the relative path."""
    name = f"journal-{re.sub(r'[^A-Za-z0-9_.-]+', '-', target).strip('-') or 'target'}.jsonl"
    lines = "".join(json.dumps(dict(e), separators=(",", ":")) + "\n" for e in entries)
    atomic_write_text(run_dir / name, lines)
    return name
