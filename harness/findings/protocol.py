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
    """Models requests over (nearly) as many connections as requests: the journal's `client`
    is the connection's `host:port`. Judged on windows without faults (a fault closes
    connections) and with `min_calls_for_reuse` requests or more."""
    calls = [e for e in models_requests(entries) if _port_of(e.get("client"))]
    if len(calls) < policy.min_calls_for_reuse or any(
        e.get("fault") or e.get("disconnected") for e in entries
    ):
        return None
    opened: dict[str, Entry] = {}
    for entry in calls:
        opened.setdefault(str(entry["client"]), entry)
    if len(opened) <= policy.max_connections_per_call * len(calls):
        return None
    return make_finding(
        "no_connection_reuse", Severity.WARN, list(opened.values()),
        f"{len(calls)} Models requests over {len(opened)} connections: no connection reuse; "
        "against the real API each new connection costs a TCP and a TLS handshake (2 round "
        "trips to Salesforce) and a new client its CA store; keep one HTTP session or client "
        "per process (requests.Session, httpx.Client, aiohttp.ClientSession)",
    )  # fmt: skip


def _port_of(client: object) -> str:
    """The port of a journaled `host:port` (`[host]:port`), "" when it names only a host."""
    host, sep, port = str(client or "").rpartition(":")
    return port if sep and port.isdigit() and (host.endswith("]") or ":" not in host) else ""


RULES = (bad_app_context, bad_feature_id, unknown_model, ignored_fields)
