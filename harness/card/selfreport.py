"""The target's own figures (opt-in `--target-metrics PATH`) beside the measured ones.

A gateway's metrics document has fields of its own naming and nesting; a field is paired with a
measured figure when its name says it means the same (request counts, upstream calls, token
fetches, file opens, token cache hit rate, mean latency): its last part says what it counts, the
parts before it of what (`connection_pool.requests_made` are upstream calls). Settings, limits,
estimates and gauges pair with nothing. Counters are compared over the window (after minus
before); levels (a rate, a mean) only on a target's first window, when its lifetime and the
window are the same span. `field_account` says which fields were read, paired and left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LEVELS = frozenset({"token_cache_hit_rate", "mean_latency_ms"})
MEANINGS = {"client_requests": "client requests", "models_requests": "Models API requests",
            "token_requests": "token requests", "token_cache_hit_rate": "token cache hit rate",
            "mean_latency_ms": "mean latency", "file_opens": "file opens",
            "credential_file_opens": "credential file opens"}  # fmt: skip
_SKIP = re.compile(r"error|status|fail|retr|embedding|(?<!up)stream|uptime|start")
_SKIP_LEAF = re.compile(r"health|metrics")  # counts of requests to those routes
# Words of a field that is no measurement of the window: settings, limits, estimates, a "before",
# gauges of the moment.
_NOT_MEASURED = frozenset({
    "theoretical", "estimated", "estimate", "saved", "savings", "reduction", "improvement",
    "max", "min", "limit", "timeout", "ttl", "buffer", "age", "size", "capacity", "config",
    "target", "expected", "old", "baseline", "per", "flight", "inflight", "active", "pending",
    "concurrent", "queue", "keepalive",
})  # fmt: skip
_TIME = re.compile(r"latency|response_time|duration|elapsed|time_ms|time_s")
_MEAN = re.compile(r"avg|mean|average")
_UPSTREAM = re.compile(r"upstream|pool|backend|salesforce|models_api|api_call|outbound")
_OTHER_CACHE = re.compile(r"response|reply|completion|prompt|semantic|result")
_FILE_USE = re.compile(r"(^|_)(open|read|load|io|op)")
_UNITS_MS = (("_ms", 1.0), ("millis", 1.0), ("_us", 0.001), ("micros", 0.001), ("_s", 1000.0),
             ("_sec", 1000.0), ("secs", 1000.0), ("seconds", 1000.0))  # fmt: skip


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
    leaf = name.rsplit(".", 1)[-1]
    if _SKIP.search(name) or _SKIP_LEAF.search(leaf):
        return None
    if _NOT_MEASURED & set(re.split(r"[^a-z0-9]+", name)):
        return None
    if _TIME.search(name) or latency_scale(leaf) is not None:
        mean = _MEAN.search(leaf) and "upstream" not in name and _TIME.search(name)
        return "mean_latency_ms" if mean else None
    if "hit" in name and re.search(r"rate|ratio|percent", name):
        return None if _OTHER_CACHE.search(name) else "token_cache_hit_rate"
    return _counter_meaning(name, leaf)


def _counter_meaning(name: str, leaf: str) -> str | None:
    """The measured count a counter's name claims to be."""
    if "token" in name and re.search(r"request|fetch|refresh|grant|issued", name):
        return "token_requests"
    if re.search(r"file|disk", name) and _FILE_USE.search(leaf):
        return "credential_file_opens" if re.search(r"token|credential", name) else "file_opens"
    if "token" in name and re.search(r"load|read", leaf):
        return "credential_file_opens"  # a token loaded from its file
    if _UPSTREAM.search(name) and re.search(r"call|request", name):
        return "models_requests"
    parent = name.rpartition(".")[0]
    if "request" in leaf or ("request" in parent and "chat" in leaf):
        return "client_requests"
    return None


def latency_scale(field: str) -> float | None:
    """Milliseconds per unit of a time field, by the unit its name ends with (None: unnamed)."""
    name = field.lower()
    return next((scale for suffix, scale in _UNITS_MS if name.endswith(suffix)), None)


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
    if meaning == "mean_latency_ms":
        return value * (latency_scale(field) or 1.0)  # unnamed: see `read_units`
    return value


def read_units(
    reported: Mapping[str, tuple[str, float]], measured: Mapping[str, float]
) -> tuple[dict[str, tuple[str, float]], dict[str, str]]:
    """The reported figures with a mean latency whose name gives no unit read as ms or s,
    whichever is nearer the measured mean (a unit the harness guesses never makes a gateway
    wrong), and a note per field so read."""
    figures, notes = dict(reported), {}
    truth = measured.get("mean_latency_ms")
    for field, (meaning, value) in reported.items():
        if meaning != "mean_latency_ms" or latency_scale(field) is not None or truth is None:
            continue
        as_s = value * 1000.0
        if abs(as_s - truth) < abs(value - truth):
            figures[field] = (meaning, as_s)
        notes[field] = f"no unit in its name: read as {'s' if figures[field][1] == as_s else 'ms'}"
    return figures, notes


def field_account(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    pairs: Sequence[Pairing],
    measured: Mapping[str, float],
    *,
    first_window: bool,
    notes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What became of every numeric field of the document: `read` (how many), `paired`
    ({field: meaning}), `not_compared` ({field: why}: it names a figure, but this window cannot
    judge it), `unpaired` (fields whose name means nothing sfperf measures), unit `notes`."""
    earlier = dict(numeric_fields(before or {}))
    fields = [name for name, _ in numeric_fields(after)]
    named = {f: m for f in fields if (m := meaning_of(f)) is not None}
    paired = {p.field: p.meaning for p in pairs}
    left = {f: m for f, m in named.items() if f not in paired}
    return {
        "read": len(fields),
        "paired": paired,
        "not_compared": {f: _not_compared(f, m, earlier, measured, first_window)
                         for f, m in left.items()},
        "unpaired": [f for f in fields if f not in named],
        "notes": dict(notes or {}),
    }  # fmt: skip


def _not_compared(
    field: str, meaning: str, earlier: Mapping[str, float], measured: Mapping[str, float],
    first_window: bool,
) -> str:  # fmt: skip
    if meaning not in measured:
        return f"sfperf did not measure {MEANINGS[meaning]} here"
    if meaning in LEVELS and not first_window:
        return "a level: compared on the target's first window only"
    return "a counter with no value before the window"


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
