"""Observe a target over a measured window: journal position, io snapshot and self-reported
metrics at the start, the same at the end, and what happened in between.

Anything the outside cannot tell (no mock behind a running URL, a target that is not Python,
no metrics endpoint) is left out of the observation, never guessed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.card.measures import WindowObservation
from harness.findings.journal import journal_position
from harness.targets.metrics_reading import NOT_READ, MetricsReading
from harness.targets.tls import TargetTls
from mock_salesforce.admin_client import AdminClient, AdminError

_LABELS = itertools.count(1)
WARM_UP_REQUESTS = 2


def no_snapshot(label: str) -> Mapping[str, Any] | None:
    """For targets the shim does not watch."""
    return None


def no_metrics() -> MetricsReading:
    """For targets whose metrics the user did not point at."""
    return NOT_READ


@dataclass
class TargetSession:
    """The windows measured on one started target (a target's first window spans its life)."""

    windows: int = 0


@dataclass
class WindowObserver:
    """`start()` before the load, `finish()` after it; the observation of what lay between."""

    label: str
    mock_url: str = ""
    metrics: Callable[[], MetricsReading] = no_metrics
    io_snapshot: Callable[[str], Mapping[str, Any] | None] = no_snapshot
    session: TargetSession = field(default_factory=TargetSession)
    clock: Callable[[], float] = time.monotonic
    _seq: int | None = None
    _io: Mapping[str, Any] | None = None
    _metrics: MetricsReading = NOT_READ
    _started_s: float = 0.0
    _cost_s: float = 0.0  # the observer's own time: what the card adds to a run

    def start(self) -> None:
        begun_s = self.clock()
        self._seq = journal_position(self.mock_url)
        self._io = self.io_snapshot(f"{self.label}-start-{next(_LABELS)}")
        self._metrics = self.metrics()
        self._started_s = self.clock()
        self._cost_s = self._started_s - begun_s

    def finish(self) -> WindowObservation:
        from harness.shim import io_delta

        ended_s = self.clock()
        duration_s = ended_s - self._started_s
        metrics_after = self.metrics()
        # Both ends or nothing: a missing start snapshot (a busy machine, a shim that answered
        # late) would count the target's start-up (its config and token reads) as the window's.
        io_after = self.io_snapshot(f"{self.label}-end-{next(_LABELS)}")
        entries, lost = journal_since(self.mock_url, self._seq)
        cost_s = self._cost_s + self.clock() - ended_s
        first = self.session.windows == 0
        self.session.windows += 1
        return WindowObservation(
            label=self.label, duration_s=duration_s, journal=entries, journal_lost=lost,
            io=None if self._io is None or io_after is None else io_delta(self._io, io_after),
            metrics_before=self._metrics.document, metrics_after=metrics_after.document,
            metrics_problem=metrics_after.problem or self._metrics.problem, first_window=first,
            params={"mock_url": self.mock_url, "journal_since": self._seq,
                    "observer_s": round(cost_s, 4)},
        )  # fmt: skip


def journal_since(
    mock_url: str, since: int | None
) -> tuple[tuple[Mapping[str, Any], ...] | None, bool]:
    """Entries after `since` and whether the ring lost some; (None, False) when unknown."""
    if since is None:
        return None, False
    try:
        entries = AdminClient(mock_url).read_journal(since)
    except (AdminError, OSError, ValueError):
        return None, False
    first = min((int(e["seq"]) for e in entries), default=since + 1)
    return tuple(entries), first > since + 1


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
