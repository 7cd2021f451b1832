"""Rules on how a target retries its upstream, one function per finding, over logical calls."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from harness.findings.calls import Attempt, Call
from harness.findings.model import Finding, GradingPolicy, Severity, make_finding

NON_RETRYABLE = frozenset({400, 403, 404, 405, 413, 422})
RETRYABLE = frozenset({423, 429, 503})


def _retries(calls: Sequence[Call]) -> Iterator[tuple[Attempt, Attempt]]:
    """Every (failed attempt, the retry that followed it) pair."""
    for call in calls:
        yield from zip(call.attempts, call.attempts[1:], strict=False)


def retry_after_ignored(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Retries sent before the `Retry-After` of the failure they follow had elapsed."""
    hits = [
        nxt.entry
        for prev, nxt in _retries(calls)
        if prev.retry_after_s is not None
        and nxt.t_s < prev.end_s + prev.retry_after_s - policy.retry_after_slack_s
    ]
    return make_finding(
        "retry_after_ignored", Severity.FAIL, hits,
        "retried before the Retry-After of a 429/503 had elapsed; wait at least that long",
    )  # fmt: skip


def retried_non_retryable(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Retries of a status that cannot succeed unchanged (4xx; 401 with the same token)."""
    hits = [
        nxt.entry
        for prev, nxt in _retries(calls)
        if prev.status in NON_RETRYABLE or (prev.status == 401 and nxt.token_id == prev.token_id)
    ]
    return make_finding(
        "retried_non_retryable", Severity.FAIL, hits,
        "resent a request the upstream had refused for good (4xx, or 401 without a new token)",
    )  # fmt: skip


def retry_storm(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Calls that made more attempts than the policy allows."""
    hits = [c.attempts[0].entry for c in calls if len(c.attempts) > policy.max_attempts]
    longest = max((len(c.attempts) for c in calls), default=0)
    return make_finding(
        "retry_storm", Severity.FAIL, hits,
        f"more than {policy.max_attempts} attempts for one call (up to {longest}); cap retries",
    )  # fmt: skip


def no_backoff(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Calls retried immediately, or mostly at a constant interval, with no Retry-After pace."""
    paced = [(c, _free_gaps_s(c)) for c in calls]
    immediate = [c for c, gaps in paced if any(g < policy.immediate_retry_s for g in gaps)]
    seen = {id(c) for c in immediate}
    spread = [(c, gaps) for c, gaps in paced if len(gaps) >= 2 and id(c) not in seen]
    constant = [c for c, gaps in spread if max(gaps) <= min(gaps) * policy.constant_gap_ratio]
    # Jittered backoff now and then draws two near-equal gaps; a constant client always does.
    if len(constant) * 2 <= len(spread):
        constant = []
    return make_finding(
        "no_backoff", Severity.WARN, [c.attempts[0].entry for c in immediate + constant],
        "retried immediately or at a constant interval; back off exponentially with jitter",
    )  # fmt: skip


def _free_gaps_s(call: Call) -> list[float]:
    """Retry gaps the client chose itself: not after a 401 (rightly immediate with a new
    token) and not after a Retry-After (the server set the pace)."""
    pairs = zip(call.attempts, call.gaps_s(), strict=False)
    return [gap for prev, gap in pairs if prev.status != 401 and prev.retry_after_s is None]


def gave_up(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Calls that failed with a retryable status (423, 429, 503) and were never retried,
    unless the upstream asked for a wait longer than a caller would sit through."""
    hits = [
        c.last.entry
        for c in calls
        if len(c.attempts) == 1
        and c.last.status in RETRYABLE
        and (c.last.retry_after_s or 0.0) <= policy.long_retry_after_s
    ]
    return make_finding(
        "gave_up", Severity.WARN, hits,
        "passed a retryable failure (423/429/503) on without a single retry",
    )  # fmt: skip


def hang_no_timeout(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Hung requests the client stayed connected to for longer than the policy's wait."""
    hung = [a for c in calls for a in c.attempts if a.entry.get("fault") == "hang"]
    hits = [a.entry for a in hung if a.end_s - a.t_s > policy.hang_wait_s]
    longest_s = max((a.end_s - a.t_s for a in hung), default=0.0)
    return make_finding(
        "hang_no_timeout", Severity.FAIL, hits,
        f"waited on a hung upstream request for more than {policy.hang_wait_s:g} s "
        f"(up to {longest_s:.1f} s); set a read timeout",
    )  # fmt: skip


RULES = (retry_after_ignored, retried_non_retryable, retry_storm, no_backoff, gave_up,
         hang_no_timeout)  # fmt: skip
