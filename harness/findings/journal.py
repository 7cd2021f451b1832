"""Read the mock's request journal over its admin API (`GET /__admin/journal?since=SEQ`).

The journal is a bounded ring: when the first entry returned is past `since + 1`, older entries
were overwritten before they were read, and the grading is marked partial.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.store import atomic_write_text

# Pages read before giving up: a journal that keeps growing faster than we read it.
_MAX_PAGES = 1000


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
    entries: list[Mapping[str, Any]] = []
    cursor = since
    for _ in range(_MAX_PAGES):
        page = _get_page(mock_url.rstrip("/"), cursor, admin_token, timeout_s)
        fresh = [e for e in page if int(e["seq"]) > cursor]
        if not fresh:
            break
        entries.extend(fresh)
        cursor = max(int(e["seq"]) for e in fresh)
    first = min((int(e["seq"]) for e in entries), default=since + 1)
    return JournalRead(tuple(entries), since, lost=first > since + 1)


def _get_page(
    base: str, since: int, admin_token: str | None, timeout_s: float
) -> list[Mapping[str, Any]]:
    request = urllib.request.Request(f"{base}/__admin/journal?since={since}")
    if admin_token:
        request.add_header("Authorization", f"Bearer {admin_token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            document = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UsageError(f"the mock at {base} refused its journal: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(f"cannot read the journal of the mock at {base}: {exc}") from None
    return parse_page(document, base)


def parse_page(document: Any, base: str = "the mock") -> list[Mapping[str, Any]]:
    """The entries of one journal response (a list, or an object with `entries`)."""
    items = document.get("entries") if isinstance(document, Mapping) else document
    if not isinstance(items, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("seq"), int) for e in items
    ):
        raise UsageError(f"{base} answered with something that is not a request journal")
    return list(items)


def save_journal(run_dir: Path, target: str, entries: Iterable[Mapping[str, Any]]) -> str:
    """Keep the graded entries as `journal-<target>.jsonl` (the mock and its journal do not
    outlive the run; the findings' example request ids point here). Returns the relative path."""
    name = f"journal-{re.sub(r'[^A-Za-z0-9_.-]+', '-', target).strip('-') or 'target'}.jsonl"
    lines = "".join(json.dumps(dict(e), separators=(",", ":")) + "\n" for e in entries)
    atomic_write_text(run_dir / name, lines)
    return name
