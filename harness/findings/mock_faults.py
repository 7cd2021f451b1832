"""The faults a user's mock injects on its own (`sfperf mock --fault 500:p=0.2`).

Behind `--mock-url` the mock is the user's, and it may fail some calls on purpose. A call that met
one is the mock's doing, not the gateway's: discovery sends such a probe again, and the load's ok
claim is judged on the requests whose calls met none. `read_mock_faults` asks the mock what is in
force (`GET /__admin/config`, its `effective` faults and quota per endpoint); `met_fault` reads a
journal entry (the mock marks an injected fault's call `fault`, and a call its quota refused with
the error `LIMIT_EXCEEDED`: a user's `--quota 60` is the mock's doing too, R108).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_salesforce.admin_client import AdminClient, AdminError

# The endpoints in the order the mock lists them; the Models API's first when one is named.
_ORDER = ("chat-generations", "generations", "embeddings", "token", "feedback")
# The journal's error of a call the mock's quota refused (429), and how a sentence names it.
QUOTA_ERROR, QUOTA_KIND = "LIMIT_EXCEEDED", "quota 429"


@dataclass(frozen=True)
class MockFaults:
    """The fault rules in force at the mock at `mock_url`, per endpoint (canonical specs, in
    the order the mock tries them), and its quotas (requests a minute, per endpoint that has
    one); empty when it injects none and holds no endpoint to a quota."""

    mock_url: str
    by_endpoint: Mapping[str, tuple[str, ...]]
    quotas_rpm: Mapping[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.by_endpoint.values()) or bool(self.quotas_rpm)

    def on(self, endpoint: str) -> tuple[str, ...]:
        """The rules that can fire on `endpoint` (() when none)."""
        return self.by_endpoint.get(endpoint, ())

    def describe(self) -> str:
        """ "the mock at URL injects 500 at p=0.2 on chat-generations, generations and
        embeddings" ("" when it injects none); endpoints with the same rules are named together."""
        groups: dict[tuple[str, ...], list[str]] = {}
        for endpoint in sorted(self.by_endpoint, key=_rank):
            if rules := self.by_endpoint[endpoint]:
                groups.setdefault(rules, []).append(endpoint)
        said = "; ".join(
            f"{', '.join(map(spoken, rules))} on {_listed(endpoints)}"
            for rules, endpoints in groups.items()
        )
        parts = [f"injects {said}"] if said else []
        parts += [self._quotas()] if self.quotas_rpm else []
        return f"the mock at {self.mock_url} {' and '.join(parts)}" if parts else ""

    def _quotas(self) -> str:
        """`holds chat-generations, ... and feedback to 60 requests a minute`."""
        groups: dict[int, list[str]] = {}
        for endpoint in sorted(self.quotas_rpm, key=_rank):
            groups.setdefault(self.quotas_rpm[endpoint], []).append(endpoint)
        said = "; ".join(f"{_listed(endpoints)} to {rpm} requests a minute"
                         for rpm, endpoints in groups.items())  # fmt: skip
        return f"holds {said}"

    def notice(self) -> str:
        """The line a run starts with behind this mock ("" when it injects none)."""
        if not self:
            return ""
        met = "one" if not self.quotas_rpm else (
            "one or the quota" if any(self.by_endpoint.values()) else "the quota")  # fmt: skip
        return (f"{self.describe()}: a call that meets {met} fails by the mock's hand, not the "
                "target's (discovery sends such a probe again)")  # fmt: skip

    def as_params(self) -> dict[str, list[str]]:
        """What a record keeps: {endpoint: [spec, ...]} for the endpoints with faults."""
        return {e: list(rules) for e, rules in self.by_endpoint.items() if rules}


def read_mock_faults(mock_url: str, admin_token: str | None = None) -> MockFaults | None:
    """What the mock at `mock_url` injects on its own (None: no mock, or it would not say)."""
    if not mock_url:
        return None
    try:
        effective = AdminClient(mock_url, admin_token).config().get("effective")
    except (AdminError, OSError, ValueError):
        return None
    return faults_from_effective(mock_url, effective)


def faults_from_effective(mock_url: str, effective: Any) -> MockFaults | None:
    """`MockFaults` from a config's `effective` document (None when it is not one)."""
    if not isinstance(effective, Mapping):
        return None
    views = {str(e): view for e, view in effective.items() if isinstance(view, Mapping)}
    by_endpoint = {e: tuple(str(rule) for rule in view.get("faults") or ()) for e, view in
                   views.items()}  # fmt: skip
    quotas = {e: int(view["quota_rpm"]) for e, view in views.items()
              if isinstance(view.get("quota_rpm"), int)}  # fmt: skip
    return MockFaults(mock_url.rstrip("/"), by_endpoint, quotas)


def met_fault(entry: Mapping[str, Any]) -> bool:
    """True when the mock injected a fault into this journaled call, or its quota refused it."""
    return bool(entry.get("fault")) or _over_quota(entry)


def injected(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The faults the mock injected into `entries`, in order (`["500", "hang", "quota 429"]`)."""
    return [QUOTA_KIND if _over_quota(e) else str(e["fault"]) for e in entries if met_fault(e)]


def _over_quota(entry: Mapping[str, Any]) -> bool:
    return not entry.get("fault") and str(entry.get("error") or "").startswith(QUOTA_ERROR)


def met_faults_words(met: Mapping[str, Any]) -> str:
    """`22 requests met a fault the mock injected (500 x22), answered 502 x22` from a load
    record's `met_faults` ("" for none)."""
    if not met.get("requests"):
        return ""
    faults = ", ".join(f"{kind} x{n}" for kind, n in sorted(met["faults"].items()))
    statuses = ", ".join(f"{'no reply' if s == '0' else s} x{n}"
                         for s, n in sorted(met["statuses"].items()))  # fmt: skip
    return (
        f"{met['requests']} requests met a fault the mock injected ({faults}), answered {statuses}"
    )


def merged_met_faults(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several records' `met_faults` added up ({} for none)."""
    merged: dict[str, Any] = {"requests": 0, "answered": 0, "faults": {}, "statuses": {}}
    for met in parts:
        merged["requests"] += int(met.get("requests", 0))
        merged["answered"] += int(met.get("answered", 0))
        for key in ("faults", "statuses"):
            for name, n in (met.get(key) or {}).items():
                merged[key][name] = merged[key].get(name, 0) + int(n)
    return merged if merged["requests"] else {}


def spoken(rule: str) -> str:
    """A fault spec as a sentence says it: "500:p=0.2" -> "500 at p=0.2" (its `endpoint=`
    filter left to the sentence, which names the endpoints)."""
    kind, _, params = rule.partition(":")
    kept = [p for p in params.split(",") if p and not p.startswith("endpoint=")]
    return f"{kind} at {', '.join(kept)}" if kept else kind


def _rank(endpoint: str) -> tuple[int, str]:
    return (_ORDER.index(endpoint) if endpoint in _ORDER else len(_ORDER), endpoint)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
