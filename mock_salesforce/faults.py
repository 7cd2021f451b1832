"""Fault injection: which request gets which fault, seeded and reproducible, in virtual time.

A spec is `KIND[:param=value,...]`:

    429:p=0.1,retry_after=2s            500:every=10            reset:first=3
    503:window=10-20                    hang:p=0.01,duration=30s
    dribble:p=0.05,rate=200             truncated:every=5,endpoint=chat-generations
    malformed:p=0.2,model=sfdc_ai__DefaultGPT4Omni|sfdc_ai__*Claude*

Kinds: 401 404 423 429 500 503 (an error reply; `retry_after=` on 429/503), `reset` (connection
reset), `empty` (connection closed without a reply), `hang` (no reply for `duration`, default
until the client gives up), `truncated` / `malformed` (a cut or broken JSON body), `dribble`
(the body sent at `rate` bytes/s). Filters: `endpoint=`, `model=` (`|` alternatives, `*` globs),
`window=START-END` (since the mock started; seconds unless `ms`/`s` is given, e.g. `10s-20s`);
without `endpoint=`, a rule covers every endpoint but the OAuth one (`endpoint=token` for that).
Triggers, all of which must hold: `p=` (probability), `every=N` and `first=N` (counted over the
requests the rule's filters let through since the plan was installed). A rule with no trigger
hits every request it filters in.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from mock_salesforce.errors import ConfigError
from mock_salesforce.latency import parse_duration_s

STATUS_KINDS = frozenset({401, 404, 423, 429, 500, 503})
OTHER_KINDS = frozenset({"reset", "empty", "hang", "truncated", "malformed", "dribble"})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_DEFAULT_DRIBBLE_BYTES_PER_S = 100.0
# Rules without endpoint= leave OAuth alone: a gateway that cannot get a token never reaches the
# Models API, which is what fault rules are usually about. `endpoint=token` faults it explicitly.
TOKEN_ENDPOINT = "token"


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of answering normally."""

    kind: str  # "status" or one of OTHER_KINDS
    status: int | None = None
    retry_after_s: float | None = None
    hang_s: float | None = None  # None: hang until the client disconnects
    dribble_bytes_per_s: float | None = None
    # The spec as the user wrote it, for journals; not part of what the fault *is*.
    rule: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        """Short name for the x-sfperf-fault header and counters: '429', 'reset', ..."""
        return str(self.status) if self.kind == "status" else self.kind


@dataclass(frozen=True)
class FaultRule:
    """One parsed fault spec: the fault, its filters and its triggers."""

    fault: Fault
    endpoints: tuple[str, ...] = ()  # empty: any endpoint but the OAuth token endpoint
    models: tuple[str, ...] = ()  # empty: any model; entries may be globs
    window_s: tuple[float, float] | None = None
    probability: float | None = None
    every: int | None = None
    first: int | None = None

    @property
    def spec(self) -> str:
        """The canonical spec string; parse_fault(rule.spec) == rule."""
        return format_fault(self)

    def matches(self, endpoint: str, model: str, now_s: float) -> bool:
        """Whether this request passes the rule's endpoint, model and window filters."""
        if endpoint not in self.endpoints if self.endpoints else endpoint == TOKEN_ENDPOINT:
            return False
        if self.models and not any(_model_matches(p, model) for p in self.models):
            return False
        return self.window_s is None or self.window_s[0] <= now_s < self.window_s[1]


def _model_matches(pattern: str, model: str) -> bool:
    return pattern == model or ("*" in pattern and fnmatch.fnmatchcase(model, pattern))


class FaultPlan:
    """Decides, request by request, which fault (if any) the mock injects.

    Probabilistic choices are a pure function of (seed, rule index, seq), so a replay of the
    same request sequence gets the same faults whatever the timing; `every`/`first` count the
    requests each rule lets through. The first rule (in order) that fires wins.
    """

    def __init__(self, rules: Sequence[FaultRule], seed: int) -> None:
        self.rules = tuple(rules)
        self.seed = seed
        self._seen = [0] * len(self.rules)
        self._fired = [0] * len(self.rules)

    def decide(self, endpoint: str, model: str, seq: int, now_s: float) -> Fault | None:
        """The fault for request number `seq` at `now_s` seconds since start, or None."""
        chosen: Fault | None = None
        for index, rule in enumerate(self.rules):
            if not rule.matches(endpoint, model, now_s):
                continue
            self._seen[index] += 1
            if self._triggers(index, rule, seq) and chosen is None:
                self._fired[index] += 1
                chosen = rule.fault
        return chosen

    def _triggers(self, index: int, rule: FaultRule, seq: int) -> bool:
        seen = self._seen[index]
        if rule.first is not None and seen > rule.first:
            return False
        if rule.every is not None and seen % rule.every != 0:
            return False
        return rule.probability is None or unit_draw(self.seed, index, seq) < rule.probability

    def counters(self) -> list[dict[str, object]]:
        """Per rule: its spec, requests it filtered in, and times it fired."""
        return [
            {"rule": rule.spec, "matched": seen, "fired": fired}
            for rule, seen, fired in zip(self.rules, self._seen, self._fired, strict=True)
        ]


_MASK64 = (1 << 64) - 1


def unit_draw(seed: int, stream: int, seq: int) -> float:
    """A uniform number in [0, 1) that depends only on its arguments (splitmix64 finalizer)."""
    z = (
        seed * 0x9E3779B97F4A7C15 + stream * 0xBF58476D1CE4E5B9 + seq * 0x94D049BB133111EB
    ) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)


# --- parsing -----------------------------------------------------------------------------


def parse_fault(spec: str) -> FaultRule:
    """Parse a fault spec such as `429:p=0.1,retry_after=2s,endpoint=chat-generations`."""
    kind, _, rest = spec.strip().partition(":")
    params = _params(rest, spec)
    fault = _fault(kind.strip().lower(), params, spec)
    rule = FaultRule(
        fault=fault,
        endpoints=_alternatives(params.pop("endpoint", None)),
        models=_alternatives(params.pop("model", None)),
        window_s=_window(params.pop("window", None), spec),
        probability=_probability(params.pop("p", None), spec),
        every=_count(params.pop("every", None), "every", spec),
        first=_count(params.pop("first", None), "first", spec),
    )
    if params:
        raise ConfigError(f"unknown fault parameter {sorted(params)[0]!r} in {spec!r}")
    return rule


def _params(rest: str, spec: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in (i.strip() for i in rest.split(",") if i.strip()):
        key, eq, value = item.partition("=")
        if not eq or not value.strip():
            raise ConfigError(f"fault parameter {item!r} in {spec!r} needs name=value")
        if key.strip() in params:
            raise ConfigError(f"fault parameter {key.strip()!r} given twice in {spec!r}")
        params[key.strip()] = value.strip()
    return params


def _fault(kind: str, params: dict[str, str], spec: str) -> Fault:
    label = kind if kind in OTHER_KINDS else _status(kind, spec)
    retry_after = params.pop("retry_after", None)
    if retry_after is not None and label not in {str(s) for s in _RETRY_AFTER_STATUSES}:
        raise ConfigError(f"retry_after applies to 429 and 503 only, not {kind!r} in {spec!r}")
    duration = params.pop("duration", None) if kind == "hang" else None
    rate = params.pop("rate", None) if kind == "dribble" else None
    return Fault(
        kind="status" if label.isdigit() else label,
        status=int(label) if label.isdigit() else None,
        retry_after_s=_seconds(retry_after, "retry_after", spec),
        hang_s=_seconds(duration, "duration", spec),
        dribble_bytes_per_s=_rate(rate, spec) if kind == "dribble" else None,
        rule=spec.strip(),
    )


def _status(kind: str, spec: str) -> str:
    if kind.isdigit() and int(kind) in STATUS_KINDS:
        return kind
    known = ", ".join([*(str(s) for s in sorted(STATUS_KINDS)), *sorted(OTHER_KINDS)])
    raise ConfigError(f"unknown fault kind {kind!r} in {spec!r} (known: {known})")


def _seconds(text: str | None, what: str, spec: str) -> float | None:
    if text is None:
        return None
    return parse_duration_s(text, f"{what} in {spec!r}")


def _rate(text: str | None, spec: str) -> float:
    if text is None:
        return _DEFAULT_DRIBBLE_BYTES_PER_S
    value = _number(text.removesuffix("B/s").removesuffix("b/s"), "rate", spec)
    if value <= 0:
        raise ConfigError(f"dribble rate must be > 0 bytes/s in {spec!r}")
    return value


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"bad {what} {text!r} in {spec!r}: expected a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"bad {what} {text!r} in {spec!r}: expected a finite number")
    return value


def _probability(text: str | None, spec: str) -> float | None:
    if text is None:
        return None
    value = _number(text.removesuffix("%"), "p", spec) / (100 if text.endswith("%") else 1)
    if not 0 <= value <= 1:
        raise ConfigError(f"p must be within 0..1 in {spec!r}")
    return value


def _count(text: str | None, what: str, spec: str) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{what} must be a whole number >= 1 in {spec!r}")
    return int(text)


def _window(text: str | None, spec: str) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = re.split(r"(?<![eE])-", text, maxsplit=1)  # not the '-' of an exponent (1e-3)
    if len(parts) != 2:
        raise ConfigError(f"window must be START-END seconds in {spec!r}")
    start, end = parts
    lo = _seconds(start.strip(), "window start", spec) or 0.0
    hi = _seconds(end.strip(), "window end", spec) or 0.0
    if not 0 <= lo < hi:
        raise ConfigError(f"window needs 0 <= START < END in {spec!r}")
    return (lo, hi)


def _alternatives(text: str | None) -> tuple[str, ...]:
    return () if text is None else tuple(p.strip() for p in text.split("|") if p.strip())


# --- formatting --------------------------------------------------------------------------


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def format_fault(rule: FaultRule) -> str:
    """The canonical spec string of a rule, in the order people write them (trigger, fault
    parameters, window, filters); parse_fault(format_fault(r)) == r."""
    fault = rule.fault
    parts = [] if rule.probability is None else [f"p={_num(rule.probability)}"]
    parts += [] if rule.every is None else [f"every={rule.every}"]
    parts += [] if rule.first is None else [f"first={rule.first}"]
    if fault.retry_after_s is not None:
        parts.append(f"retry_after={_num(fault.retry_after_s)}s")
    if fault.hang_s is not None:
        parts.append(f"duration={_num(fault.hang_s)}s")
    if fault.dribble_bytes_per_s is not None:
        parts.append(f"rate={_num(fault.dribble_bytes_per_s)}")
    parts += _where_parts(rule)
    return fault.label + (":" + ",".join(parts) if parts else "")


def _where_parts(rule: FaultRule) -> list[str]:
    parts = []
    if rule.window_s is not None:
        parts.append(f"window={_num(rule.window_s[0])}-{_num(rule.window_s[1])}")
    parts += [f"endpoint={'|'.join(rule.endpoints)}"] if rule.endpoints else []
    parts += [f"model={'|'.join(rule.models)}"] if rule.models else []
    return parts
