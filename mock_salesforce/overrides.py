"""Precedence: what the user names (command line, admin PATCH) laid over a profile.

A selector says where a setting applies: `*` (every endpoint), an endpoint, a model, or
`endpoint/model`. Within one layer the most specific selector wins (`endpoint/model`, then
`model`, `endpoint`, `*`). A later layer wins wherever its selector reaches: `--latency
fixed:0ms` replaces every latency of the profile, `--latency embeddings=fixed:0ms` only the
ones that apply to embeddings. Fault rules select with their `endpoint=` and `model=` filters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mock_salesforce.config import ENDPOINTS, MockConfig
from mock_salesforce.faults import TOKEN_ENDPOINT, FaultRule, parse_fault

ALL = "*"
# Where a fault rule without `endpoint=` applies (see faults.py: OAuth is left alone).
FAULTED_BY_DEFAULT = frozenset(ENDPOINTS) - {TOKEN_ENDPOINT}
V = TypeVar("V")


@dataclass(frozen=True)
class Selector:
    """Where a setting applies; None on an axis means any endpoint / any model."""

    endpoint: str | None = None
    model: str | None = None

    @classmethod
    def parse(cls, key: str) -> Selector:
        """`*`, `ENDPOINT`, `MODEL` or `ENDPOINT/MODEL` (a name that is no endpoint is a model)."""
        if key == ALL:
            return cls()
        endpoint, slash, model = key.partition("/")
        if slash:
            return cls(endpoint, model)
        return cls(key) if key in ENDPOINTS else cls(None, key)

    @property
    def key(self) -> str:
        if self.endpoint and self.model:
            return f"{self.endpoint}/{self.model}"
        return self.endpoint or self.model or ALL

    @property
    def rank(self) -> int:
        """0 for the most specific (`endpoint/model`) to 3 for `*`: the lookup order."""
        return {(True, True): 0, (False, True): 1, (True, False): 2}.get(
            (self.endpoint is not None, self.model is not None), 3
        )

    def covers(self, other: Selector) -> bool:
        """Whether every request `other` reaches, this reaches too."""
        return (self.endpoint is None or self.endpoint == other.endpoint) and (
            self.model is None or self.model == other.model
        )


def overlay(base: Mapping[str, V], top: Mapping[str, V | None]) -> dict[str, V]:
    """`top` laid over `base` (both `{selector: value}`): a top selector drops every base entry
    it covers; None deletes a key. A base `model` entry that a top `endpoint` entry only crosses
    would still outrank it, so the crossing (`endpoint/model`) gets the top value."""
    tops = {Selector.parse(k): v for k, v in top.items() if v is not None}
    merged: dict[str, V] = {}
    for key, value in base.items():
        entry = Selector.parse(key)
        deleted = key in top and top[key] is None
        if deleted or any(s.covers(entry) for s in tops):
            continue
        merged[key] = value
        for selector, top_value in tops.items():
            crossing = _crossing(entry, selector)
            if crossing is not None and crossing.key not in top:
                merged[crossing.key] = top_value
    merged.update((s.key, v) for s, v in tops.items())
    return merged


def _crossing(entry: Selector, top: Selector) -> Selector | None:
    """Where a base `model` entry meets a top `endpoint` selector (None if they do not)."""
    if entry.rank == 1 and top.rank == 2:
        return Selector(top.endpoint, entry.model)
    return None


def overlay_faults(base: Sequence[str], top: Sequence[str]) -> list[str]:
    """`top`'s fault rules, most specific first, then the base rules no top rule covers.

    The plan fires the first rule that triggers, so a top rule wins where it reaches; a base
    rule that reaches further than every top rule stays, tried after them."""
    top_rules = [parse_fault(spec) for spec in top]
    ordered = sorted(zip(top, top_rules, strict=True), key=lambda pair: rule_rank(pair[1]))
    kept = [spec for spec in base if not any(_rule_covers(t, parse_fault(spec)) for t in top_rules)]
    return [spec for spec, _ in ordered] + kept


def rule_rank(rule: FaultRule) -> int:
    """A fault rule's specificity, as for selectors: 0 with both filters to 3 with none."""
    return {(True, True): 0, (False, True): 1, (True, False): 2}.get(
        (bool(rule.endpoints), bool(rule.models)), 3
    )


def _rule_covers(top: FaultRule, base: FaultRule) -> bool:
    """Whether `top` reaches every endpoint and model `base` does (model globs compared as
    written: a top rule never drops a base rule it might not cover)."""
    reach = set(top.endpoints) if top.endpoints else FAULTED_BY_DEFAULT
    base_reach = set(base.endpoints) if base.endpoints else FAULTED_BY_DEFAULT
    models_covered = not top.models or (bool(base.models) and set(base.models) <= set(top.models))
    return base_reach <= reach and models_covered


def apply_overrides(
    config: MockConfig,
    *,
    latency: Mapping[str, str] | None = None,
    faults: Sequence[str] = (),
    quotas_rpm: Mapping[str, int] | None = None,
) -> MockConfig:
    """`config` (a profile) with the named latency, faults and quotas laid over it."""
    return dataclasses.replace(
        config,
        latency=overlay(config.latency, latency or {}),
        faults=tuple(overlay_faults(config.faults, faults)),
        quotas_rpm=overlay(config.quotas_rpm, quotas_rpm or {}),
    )
