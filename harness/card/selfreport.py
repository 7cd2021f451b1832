"""The target's own figures (opt-in `--target-metrics PATH`) beside the measured ones.

A gateway's metrics document has fields of its own naming; a field is paired with a measured
figure when its name says it means the same (request counts, upstream calls, token fetches,
file opens, token cache hit rate, mean latency). Counters are compared over the window (after
minus before); levels (a rate, a mean) only on a target's first window, when its lifetime and
the window are the same span.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

LEVELS = frozenset({"token_cache_hit_rate", "mean_latency_ms"})
_SKIP = re.compile(r"error|status|fail|retr|health|metrics|embedding|(?<!up)stream|uptime|start")


AGREES_WITHIN = 0.10  # the bound of gateway.toml's gw-self-reported-figures, for the card's rows


@dataclass(frozen=True)
class Pairing:
    """One self-reported field and the measured figure it claims to be."""

    field: str
    meaning: str
    reported: float
    measured: float
    off_by: float  # plain difference: relative for counts and means, absolute points for a rate
    allowed: float  # a difference up to this is no disagreement (requests in flight at the edges)
    gap: float  # what the claim judges: 0 within `allowed`, else `off_by`

    @property
    def agrees(self) -> bool:
        return self.gap <= AGREES_WITHIN

    def as_dict(self) -> dict[str, Any]:
        return vars(self) | {"agrees": self.agrees}


def numeric_fields(document: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every number in a JSON document as (dotted.key, value); booleans are not numbers."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            yield from numeric_fields(value, f"{prefix}{key}.")
    elif isinstance(document, int | float) and not isinstance(document, bool):
        yield prefix.rstrip("."), float(document)


def meaning_of(field: str) -> str | None:
    """Which measured figure a field's name claims to be, if any."""
    name = field.lower()
    if _SKIP.search(name):
        return None
    if "latency" in name or name.endswith(("_ms", "_s")):
        mean = ("avg" in name or "mean" in name) and "upstream" not in name
        return "mean_latency_ms" if mean and "latency" in name else None
    if "hit" in name and ("rate" in name or "ratio" in name):
        return "token_cache_hit_rate"
    if "token" in name and re.search(r"request|fetch|refresh", name):
        return "token_requests"
    if "file" in name and re.search(r"open|read", name):
        return "credential_file_opens" if "token" in name else "file_opens"
    if "upstream" in name and re.search(r"call|request", name):
        return "models_requests"
    if "request" in name and ("." not in name or "chat" in name.rsplit(".", 1)[-1]):
        return "client_requests"
    return None


def reported_figures(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *, first_window: bool
) -> dict[str, tuple[str, float]]:
    """{field: (meaning, value over the window)}: counter deltas, and levels on a first window."""
    if not after:
        return {}
    earlier = dict(numeric_fields(before or {}))
    figures: dict[str, tuple[str, float]] = {}
    for field, value in numeric_fields(after):
        meaning = meaning_of(field)
        if meaning is None or (meaning in LEVELS and not first_window):
            continue
        if meaning in LEVELS:
            figures[field] = (meaning, _level(meaning, field, value))
        elif field in earlier:
            figures[field] = (meaning, value - earlier[field])
    return figures


def _level(meaning: str, field: str, value: float) -> float:
    if meaning == "token_cache_hit_rate" and value > 1.0:
        return value / 100.0  # a percentage
    if meaning == "mean_latency_ms" and field.lower().endswith(("_s", "seconds")):
        return value * 1000.0
    return value


def pair_figures(
    reported: Mapping[str, tuple[str, float]], measured: Mapping[str, float], slack: float
) -> list[Pairing]:
    """Each reported figure with its measured twin (when measured). `slack` requests may be in
    flight at a window's edges, so counters that differ by no more agree; past it, the gap is
    the whole difference (0 reported against 18 measured is off by 100%, not by 18 - slack)."""
    pairs = []
    for field, (meaning, value) in sorted(reported.items()):
        if meaning not in measured:
            continue
        truth = measured[meaning]
        if meaning == "token_cache_hit_rate":
            off_by, allowed = abs(value - truth), 0.0
        else:
            off_by = abs(value - truth) / max(abs(truth), 1.0)
            allowed = slack if meaning not in LEVELS else 0.0
        gap = 0.0 if abs(value - truth) <= allowed else off_by
        pairs.append(Pairing(field, meaning, value, truth, off_by, allowed, gap))
    return pairs
