"""Rules on how a target retries its upstream, one function per finding, over logical calls."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from harness.findings.calls import Attempt, Call
from harness.findings.model import Entry, Finding, GradingPolicy, Severity, make_finding
from harness.stats import binomial_tail

NON_RETRYABLE = frozenset({400, 403, 404, 405, 413, 422})
RETRYABLE = frozenset({423, 429, 503})
# What a client takes as "retry later" (HTTP's own meaning); other statuses hide that.
CLIENT_RETRYABLE = frozenset({429, 503})


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
        if prev.status in NON_RETRYABLE or (prev.status == 401 and nxt.token == prev.token)
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
    """Retries sent at once, or at a constant interval, more often than a jittered backoff does
    by chance: full jitter may draw ~0 s for one retry, but only a client that never waits
    does so retry after retry (a binomial test against `policy.jitter_share`)."""
    waits = [(c, _free_gaps_s(c)) for c in calls]
    at_once = _habit((c, [g < policy.immediate_retry_s for g in gaps]) for c, gaps in waits)
    steady = _habit(
        (c, [_steady(a, b, policy) for a, b in itertools.pairwise(gaps)]) for c, gaps in waits
    )
    said = []
    if at_once.proven(policy):
        said.append(f"at once ({at_once.seen} of {at_once.of} retries within "
                    f"{policy.immediate_retry_s * 1000:g} ms of the failure)")  # fmt: skip
    if steady.proven(policy):
        said.append(f"at a constant interval ({steady.seen} of {steady.of} successive waits "
                    f"within {policy.constant_gap_ratio:g}x of each other)")  # fmt: skip
    shown = {id(c): c for h in (at_once, steady) if h.proven(policy) for c in h.calls}
    hits = [c.attempts[0].entry for c in sorted(shown.values(), key=lambda c: c.attempts[0].t_s)]
    return make_finding(
        "no_backoff", Severity.WARN, hits,
        f"retried {' and '.join(said)}, more often than a jittered backoff does by chance "
        f"(p < {policy.evidence_p:g}); back off exponentially with jitter",
    )  # fmt: skip


@dataclass(frozen=True)
class _Habit:
    """A retry pattern seen `seen` times in `of` chances, in `calls`."""

    calls: tuple[Call, ...]
    seen: int
    of: int

    def proven(self, policy: GradingPolicy) -> bool:
        """Whether chance alone (a jittered backoff) would show it this often only rarely."""
        chance = binomial_tail(self.seen, self.of, policy.jitter_share) if self.seen else 1.0
        return chance < policy.evidence_p


def _habit(marked: Iterable[tuple[Call, list[bool]]]) -> _Habit:
    """Pool per-call marks (True: the pattern showed at that chance) into one `_Habit`."""
    calls: list[Call] = []
    seen = of = 0
    for call, marks in marked:
        seen, of = seen + sum(marks), of + len(marks)
        if any(marks):
            calls.append(call)
    return _Habit(tuple(calls), seen, of)


def _steady(first_s: float, second_s: float, policy: GradingPolicy) -> bool:
    """Two successive waits within `constant_gap_ratio` of each other (real waits: retries at
    once are the other habit)."""
    low, high = sorted((first_s, second_s))
    return low >= policy.immediate_retry_s and high <= low * policy.constant_gap_ratio


def _free_gaps_s(call: Call) -> list[float]:
    """Retry gaps the client chose itself: not after a 401 (rightly immediate with a new
    token) and not after a Retry-After (the server set the pace)."""
    pairs = zip(call.attempts, call.gaps_s(), strict=False)
    return [gap for prev, gap in pairs if prev.status != 401 and prev.retry_after_s is None]


def with_client_replies(
    entries: Iterable[Entry], replies: Mapping[str, tuple[int, str]]
) -> list[Entry]:
    """`entries` with what the client got for the request each was made for (`replies`: by
    the request's marker, its status and `Retry-After` header): `client_status`,
    `client_retry_after`; `client_left` on a marked request that got no reply the client
    waited for (it stopped at the load's end). With no `replies`, the entries as they are."""
    if not replies:
        return list(entries)
    joined: list[Entry] = []
    for entry in entries:
        markers = entry.get("markers") or ()
        reply = next((replies[m] for m in markers if m in replies), None)
        if reply is not None:
            entry = {**entry, "client_status": reply[0], "client_retry_after": reply[1]}
        elif markers:
            entry = {**entry, "client_left": True}
        joined.append(entry)
    return joined


def passed_on(entry: Entry) -> bool | None:
    """Whether the client got an upstream failure as one it can retry at the upstream's pace:
    a 429 or 503, with a `Retry-After` when the upstream gave one (None: its reply unknown)."""
    status = entry.get("client_status")
    if status is None:
        return None
    hint_kept = entry.get("retry_after_s") is None or bool(entry.get("client_retry_after"))
    return int(status) in CLIENT_RETRYABLE and hint_kept


def _not_retried(calls: Sequence[Call], policy: GradingPolicy) -> list[Entry]:
    """The last entries of calls that failed with a retryable status (423, 429, 503) and were
    never retried, unless the upstream asked for a wait longer than a caller would sit through
    or the client had stopped waiting for the request (the load's end: nothing to pass on)."""
    return [
        c.last.entry
        for c in calls
        if len(c.attempts) == 1
        and not c.last.entry.get("client_left")
        and c.last.status in RETRYABLE
        and (c.last.retry_after_s or 0.0) <= policy.long_retry_after_s
    ]


def passed_on_retryable(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Retryable failures left to the client, passed on as a 429/503 with their Retry-After:
    an OpenAI client retries those at the server's pace (a fair design, not a fault)."""
    hits = [e for e in _not_retried(calls, policy) if passed_on(e)]
    return make_finding(
        "passed_on_retryable", Severity.INFO, hits,
        f"passed a retryable failure on to the client without retrying it, as "
        f"{_client_statuses(hits)} with the upstream's Retry-After: a client that retries "
        f"(as OpenAI's does) waits as long as the upstream asked",
    )  # fmt: skip


def gave_up(calls: Sequence[Call], policy: GradingPolicy) -> Finding | None:
    """Retryable failures neither retried nor passed on so that the client can retry them."""
    hits = [e for e in _not_retried(calls, policy) if not passed_on(e)]
    return make_finding(
        "gave_up", Severity.WARN, hits,
        "passed a retryable failure (423/429/503) on without a single retry"
        + _what_the_client_got(hits),
    )  # fmt: skip


def _what_the_client_got(hits: Sequence[Entry]) -> str:
    """Why the client could not retry what the target passed on, in words."""
    known = [e for e in hits if e.get("client_status") is not None]
    hidden = [e for e in known if int(e["client_status"]) not in CLIENT_RETRYABLE]
    unpaced = [e for e in known if int(e["client_status"]) in CLIENT_RETRYABLE]
    said = []
    if hidden:
        said.append(f"turned into {_client_statuses(hidden)}{_hint(hidden)}: the client cannot "
                    "tell it may retry, nor when")  # fmt: skip
    if unpaced:
        said.append(f"as {_client_statuses(unpaced)} without the upstream's Retry-After: the "
                    "client retries at its own pace")  # fmt: skip
    if known and len(known) < len(hits):
        said.append(f"{len(hits) - len(known)} whose reply to the client is not known")
    advice = "; retry it in the gateway, or pass the 429/503 and its Retry-After on"
    return (": " + "; ".join(said) if said else "") + advice


def _hint(entries: Sequence[Entry]) -> str:
    given = sum(1 for e in entries if e.get("client_retry_after"))
    return " without Retry-After" if not given else f" ({given} with a Retry-After)"


def _client_statuses(entries: Sequence[Entry]) -> str:
    """`429 x10, 503 x16`: the statuses the client got."""
    counts = Counter(int(e["client_status"]) for e in entries)
    return ", ".join(f"{status} x{n}" for status, n in sorted(counts.items()))


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
         passed_on_retryable, hang_no_timeout)  # fmt: skip
