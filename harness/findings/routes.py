"""Every call a gateway made to the upstream in a window, by route, per client request; and the
calls to routes neither the Models API nor its token endpoint serves (R107).

A gateway that checks its token at the login server before each request (`GET
/services/oauth2/userinfo`), or calls a wrong path, makes a call of its own on each request's
way that no marker joins to a client request: the mock journals it as endpoint `other` and
answers 404, so only a count over the window (its calls against the client's requests) shows
it. Pure: journal entries and the window's client request count in.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from harness.findings.model import Entry, Finding, Severity, make_finding

OTHER = "other"
# How the mock's 404 names the path it does not serve (`NOT_FOUND: Resource not found: /x`).
_NOT_FOUND = "Resource not found: "
# Beyond this many calls of a route per client request, the calls go with the requests.
_PER_REQUEST = 0.5


def route_of(entry: Entry) -> str:
    """The endpoint a call reached, or for one the mock does not serve the path it asked for
    (`/services/oauth2/userinfo`; `a request the mock refused` when its error names none)."""
    endpoint = str(entry.get("endpoint") or OTHER)
    if endpoint != OTHER:
        return endpoint
    _, found, path = str(entry.get("error") or "").partition(_NOT_FOUND)
    return path.strip() if found and path.strip() else "a request the mock refused"


def calls_by_route(entries: Sequence[Entry], requests: int) -> list[dict[str, Any]]:
    """Every call of the window by route, most first: `route`, `calls`, `per_request` (against
    the window's `requests` client requests; None without any) and the `statuses` answered."""
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        statuses[route_of(entry)][str(entry.get("status"))] += 1
    ranked = sorted(statuses.items(), key=lambda item: -item[1].total())
    return [
        {"route": route, "calls": seen.total(), "statuses": dict(seen),
         "per_request": round(seen.total() / requests, 3) if requests else None}
        for route, seen in ranked
    ]  # fmt: skip


def other_upstream_calls(entries: Sequence[Entry], requests: int) -> Finding | None:
    """Calls to routes the mock does not serve: a WARN once the gateway keeps asking (more than
    one call), with how often against the window's `requests` client requests."""
    hits = [e for e in entries if str(e.get("endpoint") or OTHER) == OTHER]
    if not hits:
        return None
    # No counts in the words: the findings of several windows are merged, their counts summed
    # and the first window's words kept; a rate per client request holds for each.
    said = "; ".join(_route_said(r, requests) for r in calls_by_route(hits, requests)[:3])
    return make_finding(
        "other_upstream_calls", Severity.WARN if len(hits) > 1 else Severity.INFO, hits,
        f"beside its Models calls the gateway called {said}: routes the mock does not serve "
        "(what Salesforce answers there was not tested). Each call is one more round trip to "
        "Salesforce (and its TLS) on a request's way, and a call against the org's API limits",
    )  # fmt: skip


def _route_said(route: dict[str, Any], requests: int) -> str:
    statuses: dict[str, int] = route["statuses"]
    answered = ", ".join(f"{status} x{n}" for status, n in statuses.items())
    if len(statuses) == 1:
        answered = f"{next(iter(statuses))} every time"
    per_request = route["calls"] / requests if requests else 0.0
    if per_request >= _PER_REQUEST:
        how_often = f"with each client request ({per_request:.2g} per request)"
    else:
        how_often = f"{per_request:.2g} times per client request" if requests else "repeatedly"
    return f"{route['route']} {how_often}, answered {answered}"
