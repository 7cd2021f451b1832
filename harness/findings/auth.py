"""Rules on how a target handles its OAuth tokens, over the raw journal entries.

A gateway may refresh its token some minutes before `exp` (`GradingPolicy.refresh_margin_s`).
Its fetching habits (a token per request, bursts of refreshes) are judged only where that margin
leaves room: a refresh is early when the token it replaced still had more than the margin (or a
quarter of its life) to live, and bursts are judged only on tokens that outlive the margin. A
short-lived token (the resilience scenario's, made to expire within a run) is refreshed on every
request by any sane gateway; what it still tells is whether a token is sent past its `exp`.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Sequence

from harness.findings.calls import MODELS_ENDPOINTS, client_host, group_calls, models_requests
from harness.findings.model import Entry, Finding, GradingPolicy, Severity, make_finding

_ONE_REFRESH = "let one refresh run and the others wait for it"  # the advice on a stampede


def _token_requests(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in entries if e.get("endpoint") == "token"]


def _t_s(entry: Entry) -> float:
    return float(entry.get("t_s") or 0.0)


def _span_h(entries: Sequence[Entry]) -> float:
    """Hours the journal covers (at least one second, so short runs still give a rate)."""
    times = [_t_s(e) for e in entries]
    return max(max(times, default=0.0) - min(times, default=0.0), 1.0) / 3600.0


def _holds_token(entry: Entry) -> bool:
    """A Models request sent with a valid token whose expiry the mock journaled."""
    return (entry.get("endpoint") in MODELS_ENDPOINTS and entry.get("token_status") == "valid"
            and entry.get("token_id") is not None
            and entry.get("token_expires_t_s") is not None)  # fmt: skip


def token_lifetimes_s(entries: Sequence[Entry]) -> dict[str, float]:
    """{token id: seconds from its first use to its `exp`} (about its lifetime: a gateway
    uses a token the moment it has it)."""
    first_s: dict[str, float] = {}
    expires_s: dict[str, float] = {}
    for entry in sorted(filter(_holds_token, entries), key=_t_s):
        token_id = str(entry["token_id"])
        first_s.setdefault(token_id, _t_s(entry))
        expires_s[token_id] = float(entry["token_expires_t_s"])
    return {token_id: expires_s[token_id] - t_s for token_id, t_s in first_s.items()}


def typical_lifetime_s(entries: Sequence[Entry]) -> float | None:
    """The median token lifetime in the journal (None when no Models request carried one); a
    token carried over from an earlier mock does not move it."""
    lifetimes = list(token_lifetimes_s(entries).values())
    return statistics.median(lifetimes) if lifetimes else None


def habits_judged(entries: Sequence[Entry], policy: GradingPolicy) -> bool:
    """False when the tokens lived no longer than a gateway may refresh before `exp`: fetching
    often is then what any sane gateway does, and proves nothing."""
    lifetime_s = typical_lifetime_s(entries)
    return lifetime_s is None or lifetime_s > policy.refresh_margin_s


def early_refreshes(entries: Sequence[Entry], policy: GradingPolicy) -> list[Entry]:
    """Token requests sent while the token the client last used still had more than
    max(refresh margin, a quarter of its life) to live: fetched although it held a good one."""
    lifetimes_s = token_lifetimes_s(entries)
    held: dict[str, Entry] = {}  # per client host: its last Models request with a valid token
    early = []
    for entry in sorted(entries, key=lambda e: (_t_s(e), str(e.get("seq")))):
        host = client_host(entry.get("client"))
        if _holds_token(entry):
            held[host] = entry
        elif entry.get("endpoint") == "token" and host in held:
            last = held[host]
            left_s = float(last["token_expires_t_s"]) - _t_s(entry)
            life_s = lifetimes_s[str(last["token_id"])]
            if left_s > max(policy.refresh_margin_s, life_s / 4.0):
                early.append(entry)
    return early


def token_rate(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """How often the target asked for a token: per hour and per Models request (a note), and
    the tokens' lifetime when it was too short to judge the target's habits on."""
    tokens, models = _token_requests(entries), models_requests(entries)
    per_hour = len(tokens) / _span_h(entries)
    per_request = len(tokens) / max(len(models), 1)
    lifetime_s = typical_lifetime_s(entries)
    short = "" if habits_judged(entries, policy) else (
        f"; the tokens lived {lifetime_s:.3g} s, no longer than the "
        f"{policy.refresh_margin_s:g} s a gateway may refresh before `exp`, so fetching often is "
        "expected here and was not judged")  # fmt: skip
    return make_finding(
        "token_rate", Severity.INFO, tokens,
        f"{len(tokens)} token requests for {len(models)} Models requests: "
        f"{per_hour:.0f}/hour, {per_request:.2f} per Models request{short}",
    )  # fmt: skip


def token_per_request(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """A token fetched for (nearly) every Models request instead of reused until near expiry."""
    early, models = early_refreshes(entries, policy), models_requests(entries)
    ratio = len(early) / max(len(models), 1)
    if len(early) < policy.min_token_requests or ratio <= policy.max_tokens_per_request:
        return None
    return make_finding(
        "token_per_request", Severity.WARN, early,
        f"{ratio:.2f} token requests per Models request while the cached token had more than "
        f"{policy.refresh_margin_s:g} s to live; cache the token until near its expiry",
    )  # fmt: skip


def expired_token(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests sent with a token past its real expiry, with what the journal shows the
    target did about it: nothing, a new token and the request sent again, or a late refresh."""
    hits = [e for e in models_requests(entries) if e.get("token_status") == "expired"]
    if not hits:
        return None
    sent = f"{len(hits)} request(s) with a token past its real expiry{_lateness(hits)}"
    if never_refreshed(entries, hits):
        return make_finding(
            "expired_token", Severity.FAIL, hits,
            f"never refreshed its token: sent {sent}, refused every time, and never fetched "
            "another; refresh before `exp` (and on a 401)",
        )  # fmt: skip
    return make_finding(
        "expired_token", Severity.FAIL, hits, f"sent {sent}; {_after_expiry(entries, hits, policy)}"
    )


def _after_expiry(entries: Sequence[Entry], hits: Sequence[Entry], policy: GradingPolicy) -> str:
    """What the target did once it had sent an expired token, and what would avoid the send."""
    waited = kept_across_a_wait(entries, hits, policy)
    if waited == len(hits):  # its refresh clock is not at fault: the retry kept an old token
        return (f"{'each was a retry' if waited > 1 else 'it was a retry'} after waiting out a "
                "Retry-After with the token taken before the wait, which expired during it: "
                "take the token again (refreshed if due) before each retry")  # fmt: skip
    said = _after_expiry_alone(entries, hits, policy)
    if not waited:
        return said
    return (f"{said}; {waited} of them were retries after waiting out a Retry-After with the "
            "token taken before the wait: take it again before each retry")  # fmt: skip


def kept_across_a_wait(
    entries: Sequence[Entry], expired_sends: Sequence[Entry], policy: GradingPolicy
) -> int:
    """How many expired sends were retries, after a 429/503 with a Retry-After, that carried
    the token the refused attempt had carried while still valid: it expired during the wait
    (R118), not on a refresh clock of the target's own."""
    expired = {id(e) for e in expired_sends}
    kept = 0
    for call in group_calls(entries, policy.retry_window_s):
        for refused, again in itertools.pairwise(call.attempts):
            waited = refused.retry_after_s is not None and refused.status in (429, 503)
            live = refused.entry.get("token_status") == "valid"
            kept += id(again.entry) in expired and waited and live and again.token == refused.token
    return kept


def _after_expiry_alone(
    entries: Sequence[Entry], hits: Sequence[Entry], policy: GradingPolicy
) -> str:
    """What the target did once it had sent an expired token outside a Retry-After wait."""
    resent = resent_with_new_token(entries, hits, policy)
    if resent:
        return (f"{resent} of them refused and sent again with a new token: it refreshes after a "
                "401, so each first send was wasted (a round trip before the answer); refresh "
                "before the token's `exp` to avoid it")  # fmt: skip
    first_s = min(_t_s(e) for e in hits)
    if any(_t_s(e) >= first_s for e in _token_requests(entries)):
        return ("it fetched a new token later, but not before this one expired: refresh before "
                "the token's own `exp`, not on a clock of its own")  # fmt: skip
    return "no new token was fetched after it: refresh before `exp` (and on a 401)"


def _lateness(hits: Sequence[Entry]) -> str:
    """How long after the token's `exp` the sends went, in words."""
    late_s = [_t_s(e) - float(e["token_expires_t_s"])
              for e in hits if e.get("token_expires_t_s") is not None]  # fmt: skip
    if not late_s:
        return ""
    latest_s = max(late_s)
    return " (within a second of it)" if latest_s < 1 else f" (up to {latest_s:.0f} s after it)"


def resent_with_new_token(
    entries: Sequence[Entry], expired_sends: Sequence[Entry], policy: GradingPolicy
) -> int:
    """How many expired sends failed and were sent again (the same call, after the failure)
    with another token, a valid one: the target refreshed on the refusal."""
    expired = {id(e) for e in expired_sends}
    resent = 0
    for call in group_calls(entries, policy.retry_window_s):
        for sent, again in itertools.pairwise(call.attempts):
            fresh = again.entry.get("token_status") == "valid" and again.token != sent.token
            resent += id(sent.entry) in expired and fresh
    return resent


def never_refreshed(entries: Sequence[Entry], expired_sends: Sequence[Entry]) -> bool:
    """Whether the target sent an expired token more than once and asked for no token from
    its first such send on (a token fetched once, at start-up, and kept for good)."""
    if len(expired_sends) < 2:
        return False
    first_s = min(_t_s(e) for e in expired_sends)
    return not any(_t_s(e) >= first_s for e in _token_requests(entries))


def unknown_token(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests sent with a token the upstream did not sign (a forged or foreign one)."""
    hits = [e for e in models_requests(entries) if e.get("token_status") == "unknown"]
    return make_finding(
        "unknown_token", Severity.FAIL, hits,
        "sent a bearer token this upstream never signed (wrong org, or made up)",
    )  # fmt: skip


def missing_token(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests sent without any bearer token."""
    hits = [e for e in models_requests(entries) if e.get("token_status") == "missing"]
    return make_finding(
        "missing_token", Severity.FAIL, hits, "sent a Models request with no bearer token"
    )


# Early refreshes this many and more, their gaps all within this share of the median gap, are a
# timer's: a clock, not the traffic or the token's life, decides when to refresh (R126).
TIMER_MIN_REFRESHES = 5
TIMER_SPREAD = 0.1


def timer_period_s(entries: Sequence[Entry], policy: GradingPolicy) -> float | None:
    """The period of a target's early refreshes when they come at a near-constant interval
    (None: they do not, or too few to tell)."""
    early = sorted(early_refreshes(entries, policy), key=_t_s)
    if len(early) < TIMER_MIN_REFRESHES or not habits_judged(entries, policy):
        return None
    if len(early) > policy.max_tokens_per_request * len(models_requests(entries)):
        return None  # a token per request, which token_per_request names, may come as evenly
    gaps_s = [_t_s(b) - _t_s(a) for a, b in itertools.pairwise(early)]
    period_s = statistics.median(gaps_s)
    if period_s <= 0 or any(abs(g - period_s) > TIMER_SPREAD * period_s for g in gaps_s):
        return None
    # A timer goes on while the traffic does; first fetches of new threads or clients, evenly
    # spaced as the first requests were, stop early.
    traffic_s = _span_h(models_requests(entries)) * 3600.0
    return period_s if _t_s(early[-1]) - _t_s(early[0]) >= traffic_s / 2 else None


def token_timer(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Tokens fetched on a timer, at a near-constant interval whatever the traffic, although
    each outlives it by far."""
    period_s = timer_period_s(entries, policy)
    if period_s is None:
        return None
    lifetime_s = typical_lifetime_s(entries) or 0.0
    return make_finding(
        "token_timer", Severity.WARN, early_refreshes(entries, policy),
        f"a token every {period_s:.2f} s (about {_two_figures(3600 / period_s):,.0f} an hour) "
        "on a timer, whatever "
        f"the traffic, while each is good for {lifetime_s / 60:.0f} min: a timer refreshes even "
        "with no traffic at all; refresh when the token nears its `exp` instead",
    )  # fmt: skip


def _two_figures(value: float) -> float:
    return float(f"{value:.2g}")


def tokens_per_process(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """More tokens than the target's processes need: fetched while a token it held still had
    more than the refresh margin to live, beyond one first fetch per process (a token per
    thread or per client object). Judged only when the shim counted the processes and the
    tokens outlive the margin; a token per request is `token_per_request`'s."""
    processes = policy.target_processes
    if processes is None or not habits_judged(entries, policy):
        return None
    if timer_period_s(entries, policy) is not None:
        return None  # a refresh timer: token_timer says it
    early, models = early_refreshes(entries, policy), models_requests(entries)
    if len(early) >= policy.min_token_requests and (
        len(early) / max(len(models), 1) > policy.max_tokens_per_request
    ):
        return None  # a token per request: token_per_request says it
    spare = early[processes - 1 :]  # each process but the first may fetch its own once
    tokens = _token_requests(entries)
    span_s = _span_h(tokens) * 3600.0
    lifetime_s = typical_lifetime_s(entries) or 0.0
    return make_finding(
        "tokens_per_process", Severity.WARN, spare,
        f"{len(tokens)} tokens fetched in {span_s:.0f} s by a target of {processes} "
        f"process(es), each good for {lifetime_s / 60:.0f} min: {len(early)} while a token it "
        "held still had that long to live; one token per process, shared by its threads and "
        "clients until near its `exp`, is enough (a token per thread or per client object "
        "multiplies the grants on every restart or scale-out)",
    )  # fmt: skip


def refresh_stampede(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Concurrent refreshes from one client: on tokens that outlive the refresh margin, bursts
    of token requests within a second; on shorter ones (refreshing often is fair there, doing it
    all at once is not), token requests in flight together from more than one per process of
    the target (judged only when the shim counted its processes)."""
    by_host: dict[str, list[Entry]] = defaultdict(list)
    for entry in _token_requests(entries):
        by_host[client_host(entry.get("client"))].append(entry)
    if habits_judged(entries, policy):
        hits = [e for group in by_host.values() for e in _bursts(group, policy)]
        return make_finding(
            "refresh_stampede", Severity.WARN, hits,
            f"{policy.stampede_size}+ token requests within {policy.stampede_window_s:g} s; "
            + _ONE_REFRESH,
        )  # fmt: skip
    if policy.target_processes is None:
        return None
    together = policy.target_processes + 1
    hits = [e for group in by_host.values() for e in _in_flight_together(group, together)]
    if hits:
        return make_finding(
            "refresh_stampede", Severity.WARN, hits,
            f"{together}+ token requests in flight at once from a target of "
            f"{policy.target_processes} process(es); {_ONE_REFRESH}",
        )  # fmt: skip
    # A token per request is fair on tokens this short (refreshing before a margin longer than
    # their life): only a target that otherwise keeps its token shows a herd at each expiry.
    tokens, models = _token_requests(entries), models_requests(entries)
    if len(tokens) > policy.max_tokens_per_request * len(models):
        return None
    gap_s = policy.back_to_back_s
    hits = [e for group in by_host.values() for e in _back_to_back(group, together, gap_s)]
    return make_finding(
        "refresh_stampede", Severity.WARN, hits,
        f"{together}+ token requests one after another, each sent within {gap_s * 1000:.0f} ms "
        f"of the last one's answer, from a target of {policy.target_processes} process(es): "
        "each replaced a token a moment old, as waiters on a token lock do when each refreshes "
        "again once it holds the lock; check the token again after taking the lock",
    )  # fmt: skip


def _back_to_back(tokens: list[Entry], at_least: int, gap_s: float) -> list[Entry]:
    """The token requests in runs of at least `at_least`, each sent within `gap_s` of the end
    of the one before (`t_s` + `duration_s`, as journaled)."""
    runs: list[list[Entry]] = []
    for entry in sorted(tokens, key=_t_s):
        if runs and _t_s(entry) - _ended_s(runs[-1][-1]) <= gap_s:
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return [e for run in runs if len(run) >= at_least for e in run]


def _ended_s(entry: Entry) -> float:
    return _t_s(entry) + float(entry.get("duration_s") or 0.0)


def _in_flight_together(tokens: list[Entry], at_least: int) -> list[Entry]:
    """The token requests in flight at a moment when at least `at_least` of them were (from
    its start `t_s` for `duration_s`, as journaled)."""
    spans = [(_t_s(e), _t_s(e) + float(e.get("duration_s") or 0.0), e) for e in tokens]
    marked: dict[int, Entry] = {}
    for moment_s, _, _ in spans:
        flying = [e for start_s, end_s, e in spans if start_s <= moment_s < end_s]
        if len(flying) >= at_least:
            marked.update((id(e), e) for e in flying)
    return sorted(marked.values(), key=_t_s)


def _bursts(tokens: list[Entry], policy: GradingPolicy) -> list[Entry]:
    """The token requests that fall in a window holding at least `stampede_size` of them."""
    ordered = sorted(tokens, key=_t_s)
    times = [_t_s(e) for e in ordered]
    marked = [False] * len(ordered)
    end = 0
    for start, t_s in enumerate(times):
        end = max(end, start)
        while end + 1 < len(times) and times[end + 1] - t_s <= policy.stampede_window_s:
            end += 1
        if end - start + 1 >= policy.stampede_size:
            marked[start : end + 1] = [True] * (end - start + 1)
    return [e for e, hit in zip(ordered, marked, strict=True) if hit]


RULES = (token_rate, token_per_request, tokens_per_process, token_timer, expired_token,
         unknown_token, missing_token, refresh_stampede)  # fmt: skip
