"""Observe a target over a measured window: journal position, io snapshot and self-reported
metrics at the start, the same at the end (once the target's upstream calls in flight have
ended: `WindowObserver.settle`), and what happened in between.

Anything the outside cannot tell (no mock behind a running URL, a target that is not Python,
no metrics endpoint) is left out of the observation, never guessed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.card.credentials import (
    ReadBytes,
    mark_token_files,
    read_head,
    sent_token_ids,
    token_files,
)
from harness.card.measures import WindowObservation
from harness.findings.journal import journal_position, unfinished_calls
from harness.join import ReplyMemory
from harness.targets.metrics_reading import NOT_READ, MetricsReading
from harness.targets.resources import GroupResources, no_resources
from harness.targets.tls import TargetTls
from mock_salesforce.admin_client import AdminClient, AdminError

_LABELS = itertools.count(1)
WARM_UP_REQUESTS = 2
SETTLE_S = 5.0  # the longest a window's end waits for the target's upstream calls in flight
SETTLE_POLL_S = 0.05

Entries = tuple[Mapping[str, Any], ...]


def no_snapshot(label: str) -> Mapping[str, Any] | None:
    """For targets the shim does not watch."""
    return None


def no_metrics() -> MetricsReading:
    """For targets whose metrics the user did not point at."""
    return NOT_READ


def journal_since(mock_url: str, since: int | None) -> tuple[Entries | None, bool]:
    """Entries after `since` and whether the ring lost some; (None, False) when unknown."""
    if since is None:
        return None, False
    try:
        entries = AdminClient(mock_url).read_journal(since)
    except (AdminError, OSError, ValueError):
        return None, False
    first = min((int(e["seq"]) for e in entries), default=since + 1)
    return tuple(entries), first > since + 1


@dataclass(frozen=True)
class MockJournal:
    """How an observer reads the mock's journal (the admin API by default; a fake in tests)."""

    position: Callable[[str], int | None] = journal_position
    since: Callable[[str, int | None], tuple[Entries | None, bool]] = journal_since
    unfinished: Callable[[str, int], list[int] | None] = unfinished_calls


@dataclass
class TargetSession:
    """The windows measured on one started target (a target's first window spans its life),
    and the replies and prompts they showed (a reply cache answers from earlier windows)."""

    windows: int = 0
    replies: ReplyMemory = field(default_factory=ReplyMemory)


@dataclass
class WindowObserver:
    """`start()` before the load, `finish()` after it; the observation of what lay between."""

    label: str
    mock_url: str = ""
    metrics: Callable[[], MetricsReading] = no_metrics
    io_snapshot: Callable[[str], Mapping[str, Any] | None] = no_snapshot
    session: TargetSession = field(default_factory=TargetSession)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    journal: MockJournal = field(default_factory=MockJournal)
    settle_s: float = SETTLE_S
    read_file: ReadBytes = read_head
    resources: Callable[[], GroupResources | None] = no_resources
    _seq: int | None = None
    _resources: GroupResources | None = None
    _io: Mapping[str, Any] | None = None
    _metrics: MetricsReading = NOT_READ
    _started_s: float = 0.0
    _cost_s: float = 0.0  # the observer's own time: what the card adds to a run

    def start(self) -> None:
        begun_s = self.clock()
        self._seq = self.journal.position(self.mock_url) if self.mock_url else None
        self._io = self.io_snapshot(f"{self.label}-start-{next(_LABELS)}")
        self._resources = self.resources()
        self._metrics = self.metrics()
        self._started_s = self.clock()
        self._cost_s = self._started_s - begun_s

    def finish(self) -> WindowObservation:
        ended_s = self.clock()
        duration_s = ended_s - self._started_s
        in_flight = self.settle()
        metrics_after = self.metrics()
        io_after = self.io_snapshot(f"{self.label}-end-{next(_LABELS)}")
        held = self.resources()
        resources = (self._resources, held) if self._resources and held else None
        entries, lost = self.journal.since(self.mock_url, self._seq)
        io = self.window_io(io_after, entries or ())
        cost_s = self._cost_s + self.clock() - ended_s
        first = self.session.windows == 0
        self.session.windows += 1
        return WindowObservation(
            label=self.label, duration_s=duration_s, journal=entries, journal_lost=lost, io=io,
            metrics_before=self._metrics.document, metrics_after=metrics_after.document,
            metrics_problem=metrics_after.problem or self._metrics.problem, first_window=first,
            params={"mock_url": self.mock_url, "journal_since": self._seq,
                    "observer_s": round(cost_s, 4), "calls_in_flight": in_flight},
            resources=resources,
        )  # fmt: skip

    def window_io(
        self, io_after: Mapping[str, Any] | None, entries: Iterable[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        """The shim's counts between the two snapshots, the files holding a bearer token the
        target sent in the window marked `holds_token` (read now: what a token cache holds is
        the token in use). Both ends or nothing: a missing start snapshot (a busy machine, a
        shim that answered late) would count the target's start-up (its config and token
        reads) as the window's."""
        from harness.shim import io_delta

        if self._io is None or io_after is None:
            return None
        io = io_delta(self._io, io_after)
        holders = token_files(io.get("files", {}), sent_token_ids(entries), self.read_file)
        return mark_token_files(io, holders) if holders else io

    def settle(self) -> int | None:
        """Wait, `settle_s` at most, until the mock has journaled every call begun in the window.
        A request the client stopped waiting for at the end still runs in the target, opening
        its files; its call must be in the journal read after the io snapshot, so the file
        opens and the requests served count the same requests. Returns the calls still in
        flight (None: no journal to ask)."""
        if self._seq is None:
            return None
        deadline_s, since = self.clock() + self.settle_s, self._seq
        while (pending := self.journal.unfinished(self.mock_url, since)) and (
            self.clock() < deadline_s
        ):
            since = pending[0] - 1
            self.sleep(SETTLE_POLL_S)
        return None if pending is None else len(pending)


def warm_up(
    url: str,
    model: str,
    requests: int = WARM_UP_REQUESTS,
    headers: Mapping[str, str] | None = None,
    tls: TargetTls | None = None,
) -> float:
    """A few chat completions before the first window, so the target's one-off work (the first
    token fetch and its file write, lazy imports, connection pools) is not counted as per-request
    cost. Their answers do not matter: the windows measure. Returns the seconds it took."""
    from harness.targets.endpoints import CHAT_PATH, endpoint_url
    from harness.targets.health import http_post_json
    from harness.targets.tls import DEFAULT_TLS

    started_s = time.monotonic()
    for index in range(requests):
        body = {"model": model, "messages": [{"role": "user", "content": f"warm-up {index}"}]}
        http_post_json(endpoint_url(url, CHAT_PATH), body, timeout_s=30.0, headers=headers or {},
                       tls=tls or DEFAULT_TLS)  # fmt: skip
    return time.monotonic() - started_s
