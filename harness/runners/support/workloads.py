"""Token-cache workloads: who asks for tokens, when, and with which provider configurations.

A workload is a TOML file in `scenarios/workloads/` (or any path): virtual duration, the arrival
process (Poisson, fixed interval or a recording), the upstream token lifetime and the provider
configurations to compare. `arrival_times_s` turns the arrival process into request times.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.errors import UsageError
from harness.files import read_toml
from scenarios import scenario_path

WORKLOADS_DIR = scenario_path("workloads")
ARRIVAL_KINDS = ("poisson", "fixed", "recorded")
ON_EXPIRED = ("ignore", "refresh")
PROVIDER_KINDS = ("file", "memory-ttl", "class")  # class: a user's provider, `cls` = pkg.mod:Class
_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class ProviderConfig:
    """One token provider setting to simulate; `ttl_s`/`buffer_s` None = the provider's default.

    A user's class (`kind="class"`, `cls="pkg.mod:Class"`) is built with `store=`, `fetch=`,
    `clock=` and, when set, `ttl_s=` and `refresh_buffer_s=`.
    """

    name: str
    kind: str
    ttl_s: float | None = None
    buffer_s: float | None = None
    cls: str | None = None


@dataclass(frozen=True)
class Arrivals:
    """When requests arrive: `poisson` or `fixed` at `rate_rpm`, or `recorded` from `path`."""

    kind: str = "poisson"
    rate_rpm: float = 100.0
    path: Path | None = None


@dataclass(frozen=True)
class Workload:
    """Everything one simulation needs; `as_params()` is what records keep to rerun it."""

    name: str
    duration_h: float
    arrivals: Arrivals
    providers: tuple[ProviderConfig, ...]
    token_lifetime_s: float = 1800.0
    seed: int = 1234
    description: str = ""
    # What a client does when the upstream rejects an expired token: "ignore" (count it, as the
    # provider alone would behave) or "refresh" (invalidate the provider, fetch, resend once).
    on_expired: str = "ignore"

    def as_params(self) -> dict[str, Any]:
        arrivals = {"kind": self.arrivals.kind, "rate_rpm": self.arrivals.rate_rpm}
        if self.arrivals.path is not None:
            arrivals["path"] = str(self.arrivals.path)
        return {
            "workload": self.name,
            "duration_h": self.duration_h,
            "arrivals": arrivals,
            "token_lifetime_s": self.token_lifetime_s,
            "seed": self.seed,
            "on_expired": self.on_expired,
        }

    def with_overrides(self, **changes: Any) -> Workload:
        """A copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def parse_duration_s(text: str) -> float:
    """`"45m"`, `"1800s"`, `"1.5h"`, `"250ms"` or a bare number of seconds -> seconds."""
    text = text.strip()
    for unit in sorted(_UNITS_S, key=len, reverse=True):
        if text.endswith(unit):
            number, scale = text[: -len(unit)], _UNITS_S[unit]
            break
    else:
        number, scale = text, 1.0
    try:
        value = float(number) * scale
    except ValueError:
        raise UsageError(f"not a duration: {text!r} (use e.g. 1800s, 45m, 1.5h)") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"duration must be a finite number >= 0: {text!r}")
    return value


def parse_provider(spec: str) -> ProviderConfig:
    """`file`, `memory-ttl`, `memory-ttl:ttl=25m,buffer=5m[,name=sane]`, or a user's class
    `class:pkg.mod:Class[,ttl=..,buffer=..,name=..]` -> ProviderConfig."""
    if spec.startswith("class:"):
        return _class_provider(spec)
    kind, _, options = spec.partition(":")
    fields = _options(options, spec)
    ttl = parse_duration_s(fields["ttl"]) if "ttl" in fields else None
    buffer = parse_duration_s(fields["buffer"]) if "buffer" in fields else None
    return _provider(fields.get("name", spec), kind, ttl, buffer)


def _class_provider(spec: str) -> ProviderConfig:
    path, _, options = spec[len("class:") :].partition(",")
    module, sep, attr = path.partition(":")
    if not (module and sep and attr):
        raise UsageError(f"bad provider {spec!r}: expected class:pkg.module:Class[,ttl=..]")
    fields = _options(options, spec)
    ttl = parse_duration_s(fields["ttl"]) if "ttl" in fields else None
    buffer = parse_duration_s(fields["buffer"]) if "buffer" in fields else None
    return _provider(fields.get("name", path), "class", ttl, buffer, path)


def _options(options: str, spec: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in filter(None, options.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in ("ttl", "buffer", "name"):
            raise UsageError(f"bad provider option {item!r} in {spec!r} (ttl=, buffer=, name=)")
        fields[key] = value
    return fields


def _provider(
    name: str, kind: str, ttl_s: float | None, buffer_s: float | None, cls: str | None = None
) -> ProviderConfig:
    if kind not in PROVIDER_KINDS:
        raise UsageError(f"unknown token provider {kind!r}; known: {', '.join(PROVIDER_KINDS)}")
    if kind == "file" and ttl_s is not None:
        raise UsageError(f"provider {name!r}: the file provider has no TTL (only buffer=)")
    if kind == "class" and not cls:
        raise UsageError(f"provider {name!r}: kind 'class' needs class = 'pkg.module:Class'")
    return ProviderConfig(name, kind, ttl_s, buffer_s, cls)


def load_workload(name_or_path: str) -> Workload:
    """A workload by name (`scenarios/workloads/NAME.toml`) or by path; UsageError if bad."""
    path = Path(name_or_path)
    if not path.suffix:
        path = WORKLOADS_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in WORKLOADS_DIR.glob("*.toml")))
        raise UsageError(f"no workload {name_or_path!r} (known: {known})")
    data = read_toml(path, "workload")
    try:
        return _workload_from_dict(data, path)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"workload {path} is invalid: {exc!r}") from None


def _workload_from_dict(data: dict[str, Any], path: Path) -> Workload:
    arrivals = dict(data.get("arrivals", {}))
    if "path" in arrivals:
        arrivals["path"] = (path.parent / arrivals["path"]).resolve()
    providers = tuple(_provider_from_table(p) for p in data["providers"])
    return Workload(
        name=str(data.get("name", path.stem)),
        description=str(data.get("description", "")),
        duration_h=float(data["duration_h"]),
        arrivals=check_arrivals(Arrivals(**arrivals)),
        providers=providers,
        token_lifetime_s=_opt_s(data.get("token_lifetime", "1800s")) or 1800.0,
        seed=int(data.get("seed", 1234)),
        on_expired=check_on_expired(str(data.get("on_expired", "ignore"))),
    )


def check_on_expired(value: str) -> str:
    """`ignore` or `refresh`; UsageError otherwise."""
    if value not in ON_EXPIRED:
        raise UsageError(f"on_expired must be one of {', '.join(ON_EXPIRED)}, not {value!r}")
    return value


def _provider_from_table(table: dict[str, Any]) -> ProviderConfig:
    ttl_s, buffer_s = _opt_s(table.get("ttl")), _opt_s(table.get("buffer"))
    return _provider(str(table["name"]), str(table["kind"]), ttl_s, buffer_s, table.get("class"))


def _opt_s(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, int | float) else parse_duration_s(str(value))


def check_arrivals(arrivals: Arrivals) -> Arrivals:
    """The arrival process if it can run; UsageError naming the problem otherwise."""
    if arrivals.kind not in ARRIVAL_KINDS:
        raise UsageError(f"unknown arrivals {arrivals.kind!r}; known: {', '.join(ARRIVAL_KINDS)}")
    if arrivals.kind == "recorded" and arrivals.path is None:
        raise UsageError("recorded arrivals need a path to a recording")
    if arrivals.kind != "recorded" and not arrivals.rate_rpm > 0:
        raise UsageError(f"arrival rate must be > 0 requests/minute, not {arrivals.rate_rpm}")
    return arrivals


def arrival_times_s(arrivals: Arrivals, duration_s: float, seed: int) -> npt.NDArray[np.float64]:
    """Sorted request times in [0, duration_s) for the arrival process."""
    if arrivals.kind == "fixed":
        interval_s = 60.0 / arrivals.rate_rpm
        return np.arange(math.ceil(duration_s / interval_s), dtype=np.float64) * interval_s
    if arrivals.kind == "recorded":
        assert arrivals.path is not None
        times = read_recording(arrivals.path)
        return times[times < duration_s]
    return _poisson_times_s(60.0 / arrivals.rate_rpm, duration_s, seed)


def _poisson_times_s(mean_gap_s: float, duration_s: float, seed: int) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    expected = duration_s / mean_gap_s
    # Draw a little more than expected at once (6 sigma); top up in the rare case it falls short.
    chunks = [np.cumsum(rng.exponential(mean_gap_s, int(expected + 6 * expected**0.5) + 16))]
    while chunks[-1][-1] < duration_s:
        more = rng.exponential(mean_gap_s, int(expected) + 16)
        chunks.append(chunks[-1][-1] + np.cumsum(more))
    times = np.concatenate(chunks)
    return times[times < duration_s]


def read_recording(path: Path) -> npt.NDArray[np.float64]:
    """Arrival times from a recording: one number (seconds) per line, or a JSON list of numbers
    or of mock journal entries (their `t_s`); shifted to start at 0 and sorted."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            items = json.loads(text)
            values = [float(i["t_s"] if isinstance(i, dict) else i) for i in items]
        else:
            lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
            values = [float(line) for line in lines if line]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"cannot read arrival recording {path}: {exc}") from None
    if not values:
        raise UsageError(f"arrival recording {path} holds no times")
    times: npt.NDArray[np.float64] = np.sort(np.asarray(values, dtype=np.float64))
    shifted: npt.NDArray[np.float64] = times - times[0]
    return shifted
