"""Latency models: how long the mock waits before answering, seeded through the rng passed in.

Spec strings (CLI, profiles, admin API) name a model and its parameters; durations take `ms` or
`s` (a bare number means ms). Any model takes `per_token=DURATION`, added once per output token.

    fixed:200ms                         uniform:100ms..300ms  (or uniform:lo=100ms,hi=300ms)
    normal:mean=200ms,sd=50ms           lognormal:median=800ms,sigma=0.5
    lognormal:p50=800ms,p99=3s          empirical:[120ms,180ms,2s]   empirical:file=rec.json
    lognormal:median=800ms,sigma=0.5,per_token=2ms
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Protocol, runtime_checkable

from mock_salesforce.errors import ConfigError

_Z99 = NormalDist().inv_cdf(0.99)


@runtime_checkable
class LatencyModel(Protocol):
    """Draws one latency, in ms, for a reply with `output_tokens` generated tokens."""

    def sample_ms(self, rng: random.Random, output_tokens: int = 0) -> float: ...


@dataclass(frozen=True)
class Fixed:
    """Always the same latency."""

    latency_ms: float

    def sample_ms(self, rng: random.Random, output_tokens: int = 0) -> float:
        return self.latency_ms


@dataclass(frozen=True)
class Uniform:
    """Uniform between lo_ms and hi_ms."""

    lo_ms: float
    hi_ms: float

    def sample_ms(self, rng: random.Random, output_tokens: int = 0) -> float:
        return rng.uniform(self.lo_ms, self.hi_ms)


@dataclass(frozen=True)
class Normal:
    """Normal with mean_ms and sd_ms, clipped at 0 (a wait cannot be negative)."""

    mean_ms: float
    sd_ms: float

    def sample_ms(self, rng: random.Random, output_tokens: int = 0) -> float:
        return max(0.0, rng.gauss(self.mean_ms, self.sd_ms))


@dataclass(frozen=True)
class LogNormal:
    """Log-normal with the given median and sigma (of the underlying normal): LLM-like tails."""

    median_ms: float
    sigma: float

    def sample_ms(self, rng: random.Random, output_tokens: int = 0) -> float:
        return self.median_ms * math.exp(self.sigma * rng.gauss(0.0, 1.0))

    def quantile_ms(self, q: float) -> float:
        """The latency at quantile q (0 < q < 1)."""
        return self.median_ms * math.exp(self.sigma * NormalDist().inv_cdf(q))


@dataclass(frozen=True)
class Empirical:
    """Resamples recorded latencies (inline, or from `source`, a recording file)."""

    samples_ms: tuple[float, ...]
    source: str | None = field(default=None, compare=False)

    def sample_ms(self, rng: random.Random, output_tokens: int = 0) -> float:
        return self.samples_ms[int(rng.random() * len(self.samples_ms))]


@dataclass(frozen=True)
class PerToken:
    """A base model plus per_token_ms for each output token (generation time grows with length)."""

    base: LatencyModel
    per_token_ms: float

    def sample_ms(self, rng: random.Random, output_tokens: int = 0) -> float:
        return self.base.sample_ms(rng, output_tokens) + self.per_token_ms * output_tokens


# --- parsing -----------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?\s*(ms|s)?\s*$", re.IGNORECASE)


def parse_duration_ms(text: str, what: str = "duration") -> float:
    """'200ms' / '1.5s' / '200' (ms) -> milliseconds; ConfigError naming `what` otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"bad {what} {text!r}: expected a number with ms or s, e.g. 200ms")
    number = float(text.strip().rstrip("msMS").strip())
    return number * 1000 if (match.group(2) or "").lower() == "s" else number


def parse_duration_s(text: str, what: str = "duration") -> float:
    """'2s' / '2' (s) / '1500ms' -> seconds, exactly as written when given in seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"bad {what} {text!r}: expected a number with s or ms, e.g. 2s")
    number = float(text.strip().rstrip("msMS").strip())
    return number / 1000 if (match.group(2) or "").lower() == "ms" else number


def parse_latency(spec: str) -> LatencyModel:
    """Parse a latency spec such as `lognormal:median=800ms,sigma=0.5,per_token=2ms`."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind in ("none", "off") and not rest:
        return Fixed(0.0)
    if _DURATION.match(kind) and not rest:
        return Fixed(parse_duration_ms(kind))  # a bare duration means fixed
    builder = _BUILDERS.get(kind)
    if builder is None:
        known = ", ".join(sorted(_BUILDERS))
        raise ConfigError(f"unknown latency model {kind!r} in {spec!r} (known: {known})")
    positional, params = _split_params(rest, spec)
    per_token = params.pop("per_token", None)
    model = builder(positional, params, spec)
    if params:
        raise ConfigError(f"unknown latency parameter {sorted(params)[0]!r} in {spec!r}")
    if per_token is not None:
        per_token_ms = _non_negative(parse_duration_ms(per_token, "per_token"), "per_token", spec)
        model = PerToken(model, per_token_ms)
    return model


def _split_params(rest: str, spec: str) -> tuple[list[str], dict[str, str]]:
    """'a,k=v,[x,y]' -> (['a', '[x,y]'], {'k': 'v'}); brackets keep their commas."""
    items = re.findall(r"\[[^\]]*\]|[^,]+", rest)
    positional: list[str] = []
    params: dict[str, str] = {}
    for item in (i.strip() for i in items):
        key, eq, value = item.partition("=")
        if not eq:
            positional.append(item)
        elif key.strip() in params:
            raise ConfigError(f"latency parameter {key.strip()!r} given twice in {spec!r}")
        else:
            params[key.strip()] = value.strip()
    return positional, params


def _non_negative(value: float, what: str, spec: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{what} must be >= 0 in {spec!r}")
    return value


def _take(params: dict[str, str], key: str, spec: str) -> float:
    if key not in params:
        raise ConfigError(f"latency spec {spec!r} needs {key}=")
    return _non_negative(parse_duration_ms(params.pop(key), key), key, spec)


def _no_positional(positional: list[str], spec: str) -> None:
    if positional:
        raise ConfigError(f"unexpected {positional[0]!r} in latency spec {spec!r}")


def _build_fixed(positional: list[str], params: dict[str, str], spec: str) -> LatencyModel:
    if len(positional) == 1 and "ms" not in params:
        return Fixed(_non_negative(parse_duration_ms(positional[0]), "latency", spec))
    _no_positional(positional, spec)
    return Fixed(_take(params, "ms", spec))


def _build_uniform(positional: list[str], params: dict[str, str], spec: str) -> LatencyModel:
    if len(positional) == 1 and ".." in positional[0]:
        lo, _, hi = positional[0].partition("..")
        params = {"lo": lo, "hi": hi, **params}
    else:
        _no_positional(positional, spec)
    lo_ms, hi_ms = _take(params, "lo", spec), _take(params, "hi", spec)
    if hi_ms < lo_ms:
        raise ConfigError(f"uniform latency needs lo <= hi in {spec!r}")
    return Uniform(lo_ms, hi_ms)


def _build_normal(positional: list[str], params: dict[str, str], spec: str) -> LatencyModel:
    _no_positional(positional, spec)
    return Normal(_take(params, "mean", spec), _take(params, "sd", spec))


def _build_lognormal(positional: list[str], params: dict[str, str], spec: str) -> LatencyModel:
    _no_positional(positional, spec)
    if "p99" in params:
        median_ms = _take(params, "p50", spec) if "p50" in params else _take(params, "median", spec)
        p99_ms = _take(params, "p99", spec)
        if median_ms <= 0 or p99_ms < median_ms:
            raise ConfigError(f"lognormal latency needs 0 < p50 <= p99 in {spec!r}")
        return LogNormal(median_ms, math.log(p99_ms / median_ms) / _Z99)
    median_ms = _take(params, "median", spec)
    sigma = _sigma(params.pop("sigma", None), spec)
    if median_ms <= 0:
        raise ConfigError(f"lognormal latency needs median > 0 in {spec!r}")
    return LogNormal(median_ms, sigma)


def _sigma(text: str | None, spec: str) -> float:
    if text is None:
        raise ConfigError(f"lognormal latency spec {spec!r} needs sigma= (or p50= and p99=)")
    try:
        return _non_negative(float(text), "sigma", spec)
    except ValueError:
        raise ConfigError(f"bad sigma {text!r} in {spec!r}: expected a number") from None


def _build_empirical(positional: list[str], params: dict[str, str], spec: str) -> LatencyModel:
    if "file" in params:
        _no_positional(positional, spec)
        path = params.pop("file")
        return Empirical(_checked_samples(load_samples_ms(Path(path)), spec), source=path)
    if len(positional) != 1 or not positional[0].startswith("["):
        raise ConfigError(f"empirical latency needs [v1,v2,...] or file=PATH in {spec!r}")
    values = [v for v in positional[0].strip("[]").split(",") if v.strip()]
    return Empirical(_checked_samples([parse_duration_ms(v) for v in values], spec))


def _checked_samples(samples_ms: Sequence[float], spec: str) -> tuple[float, ...]:
    if not samples_ms:
        raise ConfigError(f"empirical latency has no samples in {spec!r}")
    return tuple(_non_negative(float(v), "sample", spec) for v in samples_ms)


def load_samples_ms(path: Path) -> list[float]:
    """Latencies in ms from a recording: record mode's, a JSON list, a JSON object with
    `samples_ms` or `latency_ms` (a list, or a list of entries carrying it), JSON lines, or one
    number a line."""
    from mock_salesforce.recording import parse_recording

    try:
        text = path.read_text()
        data: object = parse_recording(text)
    except OSError as exc:
        raise ConfigError(f"cannot read latency recording {str(path)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text) if data is None else data
    except json.JSONDecodeError:
        data = None
    try:
        if data is not None:
            return _samples_from_json(data)
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"latency recording {str(path)!r}: no latency samples found") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        if lines and lines[0].startswith("{"):
            return [float(json.loads(line)["latency_ms"]) for line in lines]
        return [parse_duration_ms(line) for line in lines]
    except (ValueError, KeyError, TypeError, ConfigError):
        raise ConfigError(f"latency recording {str(path)!r}: no latency samples found") from None


def _samples_from_json(data: object) -> list[float]:
    if isinstance(data, int | float):
        return [float(data)]
    if isinstance(data, dict):
        for key in ("samples_ms", "latency_ms", "latencies_ms", "entries", "requests"):
            if key in data:
                return _samples_from_json(data[key])
    if isinstance(data, list):
        return [float(v["latency_ms"]) if isinstance(v, dict) else float(v) for v in data]
    raise ValueError("expected a list of latencies in ms")


_BUILDERS: dict[str, Callable[[list[str], dict[str, str], str], LatencyModel]] = {
    "fixed": _build_fixed,
    "uniform": _build_uniform,
    "normal": _build_normal,
    "lognormal": _build_lognormal,
    "empirical": _build_empirical,
}


# --- formatting --------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{int(value)}ms" if float(value).is_integer() else f"{value!r}ms"


def format_latency(model: LatencyModel) -> str:
    """The spec string of a model; parse_latency(format_latency(m)) == m."""
    match model:
        case PerToken(base, per_token_ms):
            return f"{format_latency(base)},per_token={_ms(per_token_ms)}"
        case Fixed(latency_ms):
            return f"fixed:{_ms(latency_ms)}"
        case Uniform(lo_ms, hi_ms):
            return f"uniform:{_ms(lo_ms)}..{_ms(hi_ms)}"
        case Normal(mean_ms, sd_ms):
            return f"normal:mean={_ms(mean_ms)},sd={_ms(sd_ms)}"
        case LogNormal(median_ms, sigma):
            return f"lognormal:median={_ms(median_ms)},sigma={sigma!r}"
        case Empirical(samples_ms, source) if source is not None:
            return f"empirical:file={source}"
        case Empirical(samples_ms):
            return f"empirical:[{','.join(_ms(v) for v in samples_ms)}]"
    raise ConfigError(f"cannot format latency model {model!r}")
