"""Rules on what a target puts in its Models requests (headers, model names, ignored fields) and
how it reaches the upstream (connection reuse)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from harness.findings.calls import MODELS_ENDPOINTS, models_requests
from harness.findings.model import Entry, Finding, GradingPolicy, Severity, make_finding

# Endpoints that name a model in their path (feedback does not).
_MODEL_ENDPOINTS = MODELS_ENDPOINTS - {"feedback"}


def _header_finding(
    entries: Sequence[Entry], field: str, expected: str, name: str, header: str
) -> Finding | None:
    hits = [e for e in models_requests(entries) if e.get(field) != expected]
    missing = sum(1 for e in hits if e.get(field) is None)
    wrong = Counter(str(e.get(field)) for e in hits if e.get(field) is not None)
    seen = ", ".join(repr(value) for value, _ in wrong.most_common(3))
    return make_finding(
        name, Severity.FAIL, hits,
        f"`{header}` missing on {missing}, wrong on {sum(wrong.values())} requests"
        + (f" ({seen})" if seen else "") + f"; the API requires {expected!r}",
    )  # fmt: skip


def bad_app_context(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests with a missing or wrong `x-sfdc-app-context` header."""
    return _header_finding(
        entries, "app_context", policy.app_context, "bad_app_context", "x-sfdc-app-context"
    )


def bad_feature_id(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests with a missing or wrong `x-client-feature-id` header."""
    return _header_finding(
        entries, "feature_id", policy.feature_id, "bad_feature_id", "x-client-feature-id"
    )


def unknown_model(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests naming a model the API does not serve (a 404 the mock did not inject)."""
    hits = [
        e
        for e in entries
        if e.get("endpoint") in _MODEL_ENDPOINTS
        and (
            e.get("model") not in policy.known_models
            if policy.known_models
            else e.get("status") == 404 and not e.get("fault")
        )
    ]
    names = ", ".join(sorted({str(e.get("model")) for e in hits})[:5])
    return make_finding(
        "unknown_model", Severity.WARN, hits,
        f"sent model names the API does not serve ({names}); map them to sfdc_ai__ API names",
    )  # fmt: skip


# Settings a gateway may mean to pass on (OpenAI's names and the Models API's internal ones), by
# their letters alone: `max Tokens`, `maxTokens` and `max_tokens` all mean max_tokens.
_SETTINGS = (
    "max_tokens max_completion_tokens temperature top_p top_k n stop presence_penalty "
    "frequency_penalty seed logprobs top_logprobs logit_bias response_format tools tool_choice "
    "user stream stream_options num_generations generation_settings"
)
_SETTING_BY_LETTERS = {re.sub(r"[^a-z0-9]", "", s): s for s in _SETTINGS.split()}


def setting_named(field: str) -> str | None:
    """The generation setting a request field seems to mean (None: none)."""
    return _SETTING_BY_LETTERS.get(re.sub(r"[^a-z0-9]", "", field.lower()))


def ignored_fields(entries: Sequence[Entry], policy: GradingPolicy | None = None) -> Finding | None:
    """Requests carrying fields the real API ignores. A WARN when one names a generation
    setting (misspelt or not): the gateway means a limit or setting that never applies."""
    hits = [e for e in models_requests(entries) if e.get("extra_fields")]
    names = Counter(str(f) for e in hits for f in e.get("extra_fields") or ())
    listed = ", ".join(_field_text(name) for name, _ in names.most_common(8))
    settings = any(setting_named(name) for name in names)
    return make_finding(
        "ignored_fields", Severity.WARN if settings else Severity.INFO, hits,
        f"sent fields the Models API does not accept ({listed}); it ignores them, so they change "
        "nothing upstream" + ("; the settings they name never apply" if settings else ""),
    )  # fmt: skip


def _field_text(name: str) -> str:
    meant = setting_named(name)
    if meant is None:
        return f"`{name}`"
    return f"`{name}`" if meant == name else f"`{name}` (meaning {meant}?)"


def no_connection_reuse(entries: Sequence[Entry], policy: GradingPolicy) -> Finding | None:
    """Models requests over (nearly) as many connections as requests (`connections_of`).
    Judged on windows without faults (a fault closes connections) and with
    `min_calls_for_reuse` requests or more. A client that reused some connections has one pool,
    too small for the calls in flight (R93), not one per call."""
    calls = [e for e in models_requests(entries) if _port_of(e.get("client"))]
    if len(calls) < policy.min_calls_for_reuse or any(
        e.get("fault") or e.get("disconnected") for e in entries
    ):
        return None
    opened = connections_of(calls)
    if len(opened) <= policy.max_connections_per_call * len(calls):
        return None
    reused = sum(1 for carried in opened if len(carried) > 1)
    said = f"{len(calls)} Models requests over {len(opened)} connections: " + (
        _kept_some(reused, peak_in_flight(calls)) if reused else _NO_REUSE)  # fmt: skip
    return make_finding(
        "no_connection_reuse", Severity.WARN, [carried[0] for carried in opened], said
    )


# A port seen again after this long idle is taken for a new connection the kernel gave it, when
# the journal does not number connections (the aiohttp front): recycled ports come back after
# seconds under load (review7 B11), a kept-alive connection's calls follow each other.
RECYCLED_PORT_GAP_S = 2.0


def connections_of(calls: Sequence[Entry]) -> list[list[Entry]]:
    """The calls each connection carried, in order: the journal's `client` is `host:port#N`
    with the front door's connection number N (exact); without one, a `host:port` seen again
    more than `RECYCLED_PORT_GAP_S` after its last call ended counts as a new connection."""
    carried: dict[str, list[list[Entry]]] = {}
    for entry in sorted(calls, key=lambda e: float(e.get("t_s") or 0.0)):
        client = str(entry["client"])
        runs = carried.setdefault(client, [])
        if runs and ("#" in client or _idle_s(runs[-1][-1], entry) <= RECYCLED_PORT_GAP_S):
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return [run for runs in carried.values() for run in runs]


def _idle_s(before: Entry, after: Entry) -> float:
    ended_s = float(before.get("t_s") or 0.0) + float(before.get("duration_s") or 0.0)
    return float(after.get("t_s") or 0.0) - ended_s


_HANDSHAKE = (
    "against the real API each new connection costs a TCP and a TLS handshake (2 round trips "
    "to Salesforce)"
)
_NO_REUSE = (
    f"no connection reuse; {_HANDSHAKE} and a new client its CA store; keep one HTTP session "
    "or client per process (requests.Session, httpx.Client, aiohttp.ClientSession)"
)


def _kept_some(reused: int, in_flight: int) -> str:
    """A client that reused some connections: its pool is too small for the calls in flight, or,
    with one call at a time, it drops connections between calls (review7 B5: "a pool smaller
    than the 1 calls in flight")."""
    if in_flight > 1:
        return _pool_too_small(reused, in_flight)
    return (
        f"its client keeps some connections alive (it reused {reused} of them), but its calls, "
        "one at a time, mostly went out on a new one: it drops connections between calls (an "
        "idle timeout shorter than the gap between calls, or a limit of requests per "
        f"connection?); {_HANDSHAKE}"
    )


def _pool_too_small(reused: int, in_flight: int) -> str:
    return (
        f"its client keeps connections alive (it reused {reused} of them), but not the "
        f"{in_flight} calls it had in flight at once: a keep-alive pool smaller than the "
        "concurrency closes each connection it releases beyond its size, so under this load "
        f"nearly every request opens a new one; {_HANDSHAKE}; size the pool to the concurrency "
        "(httpx: Limits(max_keepalive_connections=...), 20 by default; requests: "
        "HTTPAdapter(pool_maxsize=...), 10 by default)"
    )


def peak_in_flight(calls: Sequence[Entry]) -> int:
    """The most of `calls` that were with the upstream at once (journal `t_s`, `duration_s`)."""
    edges = sorted(
        [(float(e["t_s"]), 1) for e in calls]
        + [(float(e["t_s"]) + float(e.get("duration_s") or 0.0), -1) for e in calls]
    )  # an end sorts before a start at the same instant: back to back is not at once
    at_once = peak = 0
    for _, step in edges:
        at_once += step
        peak = max(peak, at_once)
    return peak


def _port_of(client: object) -> str:
    """The port of a journaled `host:port` (`[host]:port`, either with a `#N` connection
    number), "" when it names only a host."""
    host, sep, port = str(client or "").partition("#")[0].rpartition(":")
    return port if sep and port.isdigit() and (host.endswith("]") or ":" not in host) else ""


RULES = (bad_app_context, bad_feature_id, unknown_model, ignored_fields)
# What every load window is graded on too (`ignored_fields` is the rewrites verdict's there).
HEADER_RULES = (bad_app_context, bad_feature_id, unknown_model)
