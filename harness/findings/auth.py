"""Rules on how a target handles its OAuth tokens, over the raw journal entries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from harness.findings.calls import MODELS_ENDPOINTS, client_host
from harness.findings.model import Entry, Finding, GradingPolicy, Severity, make_finding


def _token_requests(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in entries if e.get("endpoint") == "token"]


def _models_requests(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in entries if e.get("endpoint") in MODELS_ENDPOINTS]


def _span_h(entries: Sequence[Entry]) -> float:
    """Hours the journal covers (at least one second, so short runs still give a rate)."""
    times = [float(e.get("t_s") or 0.0) for e in entries]
    return max(max(times, default=0.0) - min(times, default=0.0), 1.0) / 3600.0


def token_rate(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """How often the target asked for a token: per hour and per Models request (a note)."""
    tokens, models = _token_requests(entries), _models_requests(entries)
    per_hour = len(tokens) / _span_h(entries)
    per_request = len(tokens) / max(len(models), 1)
    return make_finding(
        "token_rate", Severity.INFO, tokens,
        f"{len(tokens)} token requests for {len(models)} Models requests: "
        f"{per_hour:.0f}/hour, {per_request:.2f} per Models request",
    )  # fmt: skip


def token_per_request(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """A token fetched for (nearly) every Models request instead of reused until it expires."""
    tokens, models = _token_requests(entries), _models_requests(entries)
    ratio = len(tokens) / max(len(models), 1)
    if len(tokens) < policy.min_token_requests or ratio <= policy.max_tokens_per_request:
        return None
    return make_finding(
        "token_per_request", Severity.WARN, tokens,
        f"{ratio:.2f} token requests per Models request; cache the token until near its expiry",
    )  # fmt: skip


def expired_token(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests sent with a token past its real expiry."""
    hits = [e for e in _models_requests(entries) if e.get("token_status") == "expired"]
    late_s = [
        float(e["t_s"]) - float(e["token_expires_t_s"])
        for e in hits
        if e.get("t_s") is not None and e.get("token_expires_t_s") is not None
    ]
    late = f" (up to {max(max(late_s), 0.0):.0f} s late)" if late_s else ""
    return make_finding(
        "expired_token", Severity.FAIL, hits,
        f"sent a token past its real expiry{late}; refresh before `exp`, not on a local TTL",
    )  # fmt: skip


def unknown_token(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests sent with a token the upstream did not sign (a forged or foreign one)."""
    hits = [e for e in _models_requests(entries) if e.get("token_status") == "unknown"]
    return make_finding(
        "unknown_token", Severity.FAIL, hits,
        "sent a bearer token this upstream never signed (wrong org, or made up)",
    )  # fmt: skip


def missing_token(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests sent without any bearer token."""
    hits = [e for e in _models_requests(entries) if e.get("token_status") == "missing"]
    return make_finding(
        "missing_token", Severity.FAIL, hits, "sent a Models request with no bearer token"
    )


def refresh_stampede(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Bursts of token requests from one client within a second: concurrent refreshes."""
    by_host: dict[str, list[Entry]] = defaultdict(list)
    for entry in _token_requests(entries):
        by_host[client_host(entry.get("client"))].append(entry)
    hits = [e for group in by_host.values() for e in _bursts(group, policy)]
    return make_finding(
        "refresh_stampede", Severity.WARN, hits,
        f"{policy.stampede_size}+ token requests within {policy.stampede_window_s:g} s; "
        "let one refresh run and the others wait for it",
    )  # fmt: skip


def _bursts(tokens: list[Entry], policy: GradingPolicy) -> list[Entry]:
    """The token requests that fall in a window holding at least `stampede_size` of them."""
    ordered = sorted(tokens, key=lambda e: float(e.get("t_s") or 0.0))
    times = [float(e.get("t_s") or 0.0) for e in ordered]
    marked = [False] * len(ordered)
    end = 0
    for start, t_s in enumerate(times):
        end = max(end, start)
        while end + 1 < len(times) and times[end + 1] - t_s <= policy.stampede_window_s:
            end += 1
        if end - start + 1 >= policy.stampede_size:
            marked[start : end + 1] = [True] * (end - start + 1)
    return [e for e, hit in zip(ordered, marked, strict=True) if hit]


RULES = (token_rate, token_per_request, expired_token, unknown_token, missing_token,
         refresh_stampede)  # fmt: skip
