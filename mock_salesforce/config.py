"""`MockConfig`: everything the mock does, resolved once; profiles and JSON merge patches.

A profile is a TOML or JSON file whose top-level keys are `MockConfig` fields (plus an optional
`description`); shipped ones live in `mock_salesforce/profiles/`. A recording written by record
mode is also accepted as a profile (see `mock_salesforce.recording`).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mock_salesforce.errors import ConfigError

ENDPOINTS = ("token", "generations", "chat-generations", "embeddings", "feedback")


@dataclass(frozen=True)
class MockConfig:
    """The mock's whole configuration; latency/fault specs are parsed when the app is built."""

    seed: int = 0
    profile: str = "default"
    description: str = ""
    latency: Mapping[str, str] = field(default_factory=dict)
    faults: tuple[str, ...] = ()
    quotas_rpm: Mapping[str, int] = field(default_factory=dict)
    mix: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    reply_lengths: str = "lognormal:median=60,sigma=0.6,min=1,max=512"
    embedding_dims: int = 1536
    token_lifetime_s: float = 1800.0
    token_expires_in: bool = False
    credentials: tuple[str, str] | None = None
    require_auth: bool = True
    strict_headers: bool = True
    body_limit_bytes: int = 1_048_576
    embeddings_max_inputs: int = 2048
    header_timeout_s: float = 10.0
    admin_enabled: bool = True
    admin_token: str | None = None
    journal_size: int = 10_000
    custom_models: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MockConfig:
        """Build from plain data (a profile file, a PATCH body); ConfigError names a bad key."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown config key {unknown[0]!r}")
        values = {k: _coerce(k, v) for k, v in data.items()}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data that `from_mapping` reads back."""
        data = dataclasses.asdict(self)
        data["latency"] = dict(self.latency)
        data["quotas_rpm"] = dict(self.quotas_rpm)
        data["mix"] = {k: dict(v) for k, v in self.mix.items()}
        data["faults"] = list(self.faults)
        data["custom_models"] = list(self.custom_models)
        data["credentials"] = list(self.credentials) if self.credentials else None
        return data

    def patched(self, patch: Mapping[str, Any]) -> MockConfig:
        """Apply a JSON merge patch (RFC 7386: objects merge, null deletes a key), except that
        `latency` and `quotas_rpm` are laid over the current ones by selector, as the command
        line is over a profile (`overrides.overlay`): `{"latency": {"*": ...}}` replaces all."""
        from mock_salesforce.overrides import overlay

        merged = merge_patch(self.to_dict(), patch)
        for key in ("latency", "quotas_rpm"):
            if isinstance(patch.get(key), Mapping):
                merged[key] = overlay(getattr(self, key), patch[key])
        return MockConfig.from_mapping(merged)

    def latency_spec(self, endpoint: str, model: str) -> str | None:
        """The latency spec for a request: `endpoint/model`, then `model`, `endpoint`, `*`."""
        latency = self.latency
        return next((latency[k] for k in latency_keys(endpoint, model) if k in latency), None)


def latency_keys(endpoint: str, model: str) -> tuple[str, str, str, str]:
    """The selectors that can apply to a request, most specific first."""
    return (f"{endpoint}/{model}", model, endpoint, "*")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch of plain data."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


_INTS = {"seed", "embedding_dims", "body_limit_bytes", "embeddings_max_inputs", "journal_size"}
_SECONDS = {"token_lifetime_s", "header_timeout_s"}
_BOOLS = {"token_expires_in", "require_auth", "strict_headers", "admin_enabled"}


def _coerce(key: str, value: Any) -> Any:
    """Check one field's type; turn lists into the tuples the frozen config holds."""
    try:
        return _coerce_or_raise(key, value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad value for config key {key!r}: {exc}") from None


def _coerce_or_raise(key: str, value: Any) -> Any:
    if key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("expected an integer >= 0")
        return value
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if key in _SECONDS:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError("expected seconds > 0")
        return float(value)
    return _coerce_structured(key, value)


def _coerce_structured(key: str, value: Any) -> Any:
    if key in ("profile", "description", "reply_lengths") or key == "admin_token":
        if not isinstance(value, str) and not (key == "admin_token" and value is None):
            raise ValueError("expected a string")
        return value
    if key in ("faults", "custom_models"):
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a list of strings")
        return tuple(value)
    if key == "credentials":
        if value is None:
            return None
        pair = tuple(value)
        if len(pair) != 2 or not all(isinstance(v, str) and v for v in pair):
            raise ValueError("expected [client_id, client_secret]")
        return pair
    return _coerce_mapping(key, value)


def _coerce_mapping(key: str, value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise ValueError("expected a table/object")
    if key == "latency":
        if not all(isinstance(v, str) for v in value.values()):
            raise ValueError("expected {selector: spec}")
        return dict(value)
    if key == "quotas_rpm":
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()
        ):
            raise ValueError("expected {endpoint: requests per minute > 0}")
        return dict(value)
    mix = {}
    for endpoint, weights in value.items():
        if not isinstance(weights, Mapping) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) for w in weights.values()
        ):
            raise ValueError(f"expected {{shape: weight}} for {endpoint!r}")
        mix[endpoint] = {name: float(w) for name, w in weights.items()}
    return mix


def profile_names() -> list[str]:
    """Names of the shipped profiles."""
    folder = resources.files("mock_salesforce").joinpath("profiles")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str) -> MockConfig:
    """A shipped profile by name, or a TOML/JSON profile or recording file by path."""
    path = Path(name_or_path)
    if path.suffix in (".toml", ".json") or path.exists():
        data = _read_profile_file(path)
        data.setdefault("profile", path.stem)
    else:
        if name_or_path not in profile_names():
            known = ", ".join(profile_names())
            raise ConfigError(f"unknown profile {name_or_path!r} (known: {known}; or a file path)")
        folder = resources.files("mock_salesforce").joinpath("profiles")
        text = folder.joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
        data = tomllib.loads(text)
        data["profile"] = name_or_path
    return MockConfig.from_mapping(data)


def _read_profile_file(path: Path) -> dict[str, Any]:
    from mock_salesforce.recording import FORMAT_PREFIX, parse_recording, recording_to_profile

    try:
        text = path.read_text(encoding="utf-8")
        data = parse_recording(text) if path.suffix != ".toml" else None
        if data is None:
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read profile {str(path)!r}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"profile {str(path)!r} is not a table/object")
    if str(data.get("format", "")).startswith(FORMAT_PREFIX):
        return recording_to_profile(data)
    return data


def build_config(
    profile: str,
    seed: int,
    *,
    latency: str | Mapping[str, str] | None = None,
    faults: Sequence[str] | None = None,
    quotas: Mapping[str, int] | None = None,
    **overrides: Any,
) -> MockConfig:
    """A MockConfig from a profile plus overrides (`latency`, `faults`, `quotas` as the pytest
    marker takes them, laid over the profile's as the command line's are: `overrides.py`;
    `latency` alone is a spec for every endpoint)."""
    from mock_salesforce.overrides import apply_overrides

    config = load_profile(profile).patched({"seed": seed, **overrides})
    return apply_overrides(
        config,
        latency={"*": latency} if isinstance(latency, str) else latency,
        faults=faults or (),
        quotas_rpm=quotas,
    )
