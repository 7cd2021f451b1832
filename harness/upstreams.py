"""The upstream a load window was measured against, as its records keep it (params `upstream`).

The same gateway answers in 90 ms behind sfperf's resilience mock and in 850 ms behind a user's
mock at the default profile: a comparison of the two windows measures the mocks, not the
gateway (R102). Each window keeps whose mock it was (sfperf's, started for the run, or the
user's at `--mock-url`) and what that mock did to the Models calls a chat completion makes
(`GET /__admin/config`'s effective latency, faults and quota per endpoint), and the gate and
`sfperf report A B` compare only windows measured against alike upstreams.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mock_salesforce.admin_client import AdminClient, AdminError

PARAM = "upstream"
# The Models endpoints a chat completion reaches (a gateway may flatten chat to generations).
CHAT_ENDPOINTS = ("chat-generations", "generations")
# What decides how an endpoint answers: two upstreams alike in these are alike.
SETTINGS = ("latency", "latency_by_model", "faults", "quota_rpm")
ADMIN_TIMEOUT_S = 5.0


def read_upstream(mock_url: str, *, own: bool, admin_token: str | None = None) -> dict[str, Any]:
    """What a record keeps of the mock at `mock_url` ({} without one, or when it would not
    say): `mock` (`sfperf`: started for the run; `user`: given with --mock-url), `url`,
    `profile`, and per chat endpoint the settings in force."""
    if not mock_url:
        return {}
    try:
        config = AdminClient(mock_url, admin_token, timeout_s=ADMIN_TIMEOUT_S).config()
    except (AdminError, OSError, ValueError):
        return {}
    effective = config.get("effective")
    if not isinstance(effective, Mapping):
        return {}
    endpoints = {e: {k: effective[e].get(k) for k in SETTINGS} for e in CHAT_ENDPOINTS
                 if isinstance(effective.get(e), Mapping)}  # fmt: skip
    return {"mock": "sfperf" if own else "user", "url": mock_url.rstrip("/"),
            "profile": str(config.get("profile", "")), "endpoints": endpoints}  # fmt: skip


def upstream_of(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """A record's `upstream` ({} for a record saved before it was kept, or with no mock)."""
    found = params.get(PARAM)
    return found if isinstance(found, Mapping) else {}


def alike(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two upstreams answer chat alike (an unknown one is taken as alike: records
    saved before upstreams were kept compare as they always did)."""
    if not first or not second:
        return True
    return first.get("endpoints") == second.get("endpoints")


def describe(upstream: Mapping[str, Any]) -> str:
    """`sfperf's mock (profile resilience; chat-generations: latency lognormal:median=80ms,
    sigma=0.4)` or `the user's mock at URL (...)`; faults and a quota when in force."""
    whose = "sfperf's mock" if upstream.get("mock") == "sfperf" else (
        f"the user's mock at {upstream.get('url', '?')}")  # fmt: skip
    endpoints = upstream.get("endpoints") or {}
    shown = next((e for e in CHAT_ENDPOINTS if e in endpoints), None)
    if shown is None:
        return whose
    settings = endpoints[shown]
    said = [f"latency {settings.get('latency')}"]
    said += [f"faults {'; '.join(settings['faults'])}"] if settings.get("faults") else []
    said += [f"quota {settings['quota_rpm']}/min"] if settings.get("quota_rpm") else []
    return f"{whose} (profile {upstream.get('profile') or '?'}; {shown}: {', '.join(said)})"


def unlike_words(
    baseline: Iterable[Mapping[str, Any]], candidate: Iterable[Mapping[str, Any]]
) -> str:
    """Why two sides' windows are not compared ("" when their upstreams are alike):
    "not compared: the upstream differed: A (baseline) vs B (candidate)"."""
    base = next((u for u in baseline if u), {})
    cand = next((u for u in candidate if u), {})
    if alike(base, cand):
        return ""
    return (f"not compared: the upstream differed: {describe(base)} (baseline) vs "
            f"{describe(cand)} (candidate)")  # fmt: skip
