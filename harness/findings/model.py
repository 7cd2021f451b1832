"""What a grading produces: a `Finding` per kind of mistake, and the `GradingPolicy` thresholds.

A finding names one way a target mistreats its upstream (the mock), how bad it is, how often it
happened and which requests show it, so a gateway's owner can find them in the mock's journal.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Examples kept per finding: enough to look up in the journal, few enough to print.
MAX_EXAMPLES = 5

Entry = Mapping[str, Any]
"""One journal entry as the mock serves it (fields fixed in docs/internals.md)."""


class Severity(enum.Enum):
    """How bad a finding is; ordered so that `--fail-on WARN` also fails on FAIL."""

    INFO = "INFO"
    WARN = "WARN"
    FAIL = "FAIL"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def __str__(self) -> str:
        return self.value


_RANKS = {Severity.INFO: 0, Severity.WARN: 1, Severity.FAIL: 2}


@dataclass(frozen=True)
class Finding:
    """One kind of mistake seen `count` times; `examples` are request ids from the journal;
    `windows` the graded runs it was seen in, once merged over several (`findings_of`)."""

    name: str
    severity: Severity
    count: int
    examples: tuple[str, ...]
    explanation: str
    windows: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "severity": self.severity.value,
            "count": self.count,
            "examples": list(self.examples),
            "explanation": self.explanation,
            "windows": list(self.windows),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            name=str(data["name"]),
            severity=Severity(str(data["severity"])),
            count=int(data["count"]),
            examples=tuple(str(e) for e in data.get("examples", ())),
            explanation=str(data.get("explanation", "")),
            windows=tuple(str(w) for w in data.get("windows", ())),
        )


@dataclass(frozen=True)
class GradingPolicy:
    """Thresholds of the rules; defaults follow the real API and common retry guidance."""

    retry_window_s: float = 60.0  # a resend later than this after a failure is a new call
    max_attempts: int = 5  # more attempts than this for one call is a retry storm
    # A retry sooner than this after a failure had no backoff: on a busy machine a retry sent at
    # once arrives 10-20 ms after the failure; the shortest sane first wait is longer (the
    # references' equal jitter waits 25-50 ms).
    immediate_retry_s: float = 0.02
    constant_gap_ratio: float = 1.2  # successive retry gaps within this ratio are constant
    # A jittered backoff now and then draws a wait under `immediate_retry_s`, or two within
    # `constant_gap_ratio` (full jitter with an 80 ms first ceiling: 1 draw in 4; two full-jitter
    # waits, the second ceiling double the first: 1 pair in 11). `no_backoff` needs more of them
    # than this share gives by chance with probability `evidence_p`.
    jitter_share: float = 0.25
    evidence_p: float = 0.001
    retry_after_slack_s: float = 0.05  # clock and network slack when checking Retry-After
    long_retry_after_s: float = 10.0  # passing on a 429 that asks to wait longer is fair
    hang_wait_s: float = 35.0  # waiting longer on a hung request means no (sane) read timeout
    # A gateway may refresh its token this long before `exp` (5 minutes: common client practice,
    # and the reference gateway's default); on tokens that live no longer, it refreshes each time.
    refresh_margin_s: float = 300.0
    max_tokens_per_request: float = 0.5  # more early refreshes per Models request than this
    min_token_requests: int = 3  # below this many token requests, the ratio proves nothing
    stampede_window_s: float = 1.0
    stampede_size: int = 3  # this many token requests within the window is a stampede
    # How many processes the target ran (the launch shim counts them; None: unknown). On tokens
    # too short-lived to judge habits on, refreshes in flight together from more than this many
    # are a stampede: each process may keep its own token, one process should refresh once.
    target_processes: int | None = None
    # ...and token requests one after another, each sent this soon after the last one ended:
    # waiters on a token lock that each refresh again, with no re-check of the token (R123).
    back_to_back_s: float = 0.2
    # A window's Models requests over more connections than this share of them reuse none
    # (a pooled client opens one per concurrent request at most); judged from this many on.
    max_connections_per_call: float = 0.5
    min_calls_for_reuse: int = 10
    app_context: str = "EinsteinGPT"
    feature_id: str = "ai-platform-models-connected-app"
    known_models: frozenset[str] = frozenset()  # empty: an un-injected 404 marks an unknown model

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"known_models": sorted(self.known_models)}


def make_finding(
    name: str, severity: Severity, hits: Iterable[Entry], explanation: str
) -> Finding | None:
    """A finding over the journal entries `hits` (None when there are none)."""
    ids = [str(e.get("request_id") or e.get("seq")) for e in hits]
    if not ids:
        return None
    return Finding(name, severity, len(ids), tuple(ids[:MAX_EXAMPLES]), explanation)


def worst(findings: Iterable[Finding]) -> Severity | None:
    """The most severe severity among `findings` (None when there are none)."""
    return max((f.severity for f in findings), key=lambda s: s.rank, default=None)
