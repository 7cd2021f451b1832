"""What each endpoint gets from a config: the latency, faults and quota in force.

The start-up lines and `GET /__admin/config` show it. `check_reach` refuses, in one line, a
spec that cannot apply: a selector naming nothing the mock serves, a per-token latency where
replies have no output tokens, a quota the mock does not enforce.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mock_salesforce.config import ENDPOINTS, MockConfig, latency_keys
from mock_salesforce.errors import ConfigError
from mock_salesforce.faults import FaultRule, format_fault
from mock_salesforce.latency import LatencyModel, PerToken, format_latency
from mock_salesforce.overrides import ALL, FAULTED_BY_DEFAULT, Selector
from mock_salesforce.replies import TEXT_ENDPOINTS
from mock_salesforce.validation import EMBEDDING_MODELS, TEXT_MODELS

if TYPE_CHECKING:
    from mock_salesforce.state import Runtime

# The endpoints quotas are enforced on: the Models API and feedback, as the org limits are.
QUOTA_ENDPOINTS = ("generations", "chat-generations", "embeddings", "feedback")
NO_LATENCY = "none"
_ENDPOINT_LIST = ", ".join(ENDPOINTS)


@dataclass(frozen=True)
class EndpointView:
    """The settings one endpoint runs with; specs in canonical form."""

    endpoint: str
    latency: str  # `none` when no selector applies
    latency_by_model: Mapping[str, str]  # models whose latency differs from `latency`
    faults: tuple[str, ...]  # the rules that can fire here, in the order they are tried
    quota_rpm: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "latency_by_model": dict(self.latency_by_model),
            "faults": list(self.faults),
            "quota_rpm": self.quota_rpm,
        }

    def line(self) -> str:
        """One start-up line: `chat-generations  latency ...  faults ...  quota ...`."""
        latency = _short(self.latency)
        if self.latency_by_model:
            exceptions = ", ".join(f"{m}: {_short(s)}" for m, s in self.latency_by_model.items())
            latency += f" ({exceptions})"
        faults = "; ".join(self.faults) or "none"
        quota = f"{self.quota_rpm}/min" if self.quota_rpm is not None else "none"
        return f"{self.endpoint:<16}  latency {latency}  faults {faults}  quota {quota}"


def endpoint_views(runtime: Runtime) -> list[EndpointView]:
    """Every endpoint's settings under `runtime`, in `ENDPOINTS` order."""
    rules = runtime.faults.rules if runtime.faults is not None else ()
    return [_view(runtime.config, runtime.latency, rules, e) for e in ENDPOINTS]


def _view(
    config: MockConfig,
    latency: Mapping[str, LatencyModel],
    rules: Sequence[FaultRule],
    endpoint: str,
) -> EndpointView:
    served = served_models(endpoint, config.custom_models)
    default = _latency_spec(latency, endpoint, None)
    by_model = {}
    for model in sorted(m for m in map(_model_of, latency) if m in served):
        spec = _latency_spec(latency, endpoint, model)
        if spec != default:
            by_model[model] = spec
    quotas = config.quotas_rpm
    return EndpointView(
        endpoint=endpoint,
        latency=default,
        latency_by_model=by_model,
        faults=tuple(format_fault(r) for r in rules if _reaches(r, endpoint, served)),
        quota_rpm=quotas.get(endpoint, quotas.get(ALL)) if endpoint in QUOTA_ENDPOINTS else None,
    )


def _latency_spec(latency: Mapping[str, LatencyModel], endpoint: str, model: str | None) -> str:
    keys = latency_keys(endpoint, model) if model is not None else (endpoint, ALL)
    found = next((latency[k] for k in keys if k in latency), None)
    if found is None:
        return NO_LATENCY
    if isinstance(found, PerToken) and endpoint not in TEXT_ENDPOINTS:
        found = found.base  # no output tokens here: the per-token part adds nothing
    return format_latency(found)


def _model_of(key: str) -> str | None:
    return Selector.parse(key).model


def _short(spec: str) -> str:
    """An inline empirical spec as its sample count (a recording holds thousands)."""
    if spec.startswith("empirical:["):
        return f"empirical:[{spec.count(',') + 1} samples]"
    return spec


def _reaches(rule: FaultRule, endpoint: str, served: Collection[str]) -> bool:
    if endpoint not in (rule.endpoints or FAULTED_BY_DEFAULT):
        return False
    return not rule.models or any(_matches(p, m) for p in rule.models for m in served)


def _matches(pattern: str, model: str) -> bool:
    return pattern == model or ("*" in pattern and fnmatch.fnmatchcase(model, pattern))


def served_models(endpoint: str, custom_models: Collection[str] = ()) -> frozenset[str]:
    """The model names `endpoint` answers for (none for token and feedback)."""
    if endpoint == "embeddings":
        return EMBEDDING_MODELS | frozenset(custom_models)
    if endpoint in TEXT_ENDPOINTS:
        return TEXT_MODELS | frozenset(custom_models)
    return frozenset()


# --- checks ------------------------------------------------------------------------------


def check_reach(
    config: MockConfig, latency: Mapping[str, LatencyModel], rules: Sequence[FaultRule]
) -> None:
    """ConfigError (one line) for the first latency, fault or quota that cannot apply."""
    for key, model in latency.items():
        endpoints = _selector_endpoints(key, config.custom_models)
        if isinstance(model, PerToken) and not endpoints & set(TEXT_ENDPOINTS):
            raise ConfigError(
                f"latency {key}={config.latency[key]} has a per_token part, but {key} replies "
                f"have no output tokens (only {' and '.join(TEXT_ENDPOINTS)} do)"
            )
    for rule in rules:
        _check_rule(rule, config.custom_models)
    for key in config.quotas_rpm:
        _check_quota_key(key)


def _selector_endpoints(key: str, custom_models: Collection[str]) -> set[str]:
    """The endpoints a latency selector reaches; ConfigError when it reaches none."""
    selector = Selector.parse(key)
    if selector.endpoint is not None and selector.endpoint not in ENDPOINTS:
        raise ConfigError(
            f"unknown endpoint {selector.endpoint!r} in latency selector {key!r} "
            f"(endpoints: {_ENDPOINT_LIST})"
        )
    endpoints = [selector.endpoint] if selector.endpoint else list(ENDPOINTS)
    if selector.model is None:
        return set(endpoints)
    reached = {e for e in endpoints if selector.model in served_models(e, custom_models)}
    if reached:
        return reached
    if selector.endpoint is not None:
        raise ConfigError(
            f"latency selector {key!r}: {selector.endpoint} does not serve model {selector.model!r}"
        )
    raise ConfigError(
        f"unknown latency selector {key!r}: neither an endpoint ({_ENDPOINT_LIST}) nor a model "
        "the mock serves (use *, an endpoint, a model, or ENDPOINT/MODEL; a profile's "
        "custom_models adds model names)"
    )


def _check_rule(rule: FaultRule, custom_models: Collection[str]) -> None:
    unknown = [e for e in rule.endpoints if e not in ENDPOINTS]
    if unknown:
        raise ConfigError(
            f"unknown endpoint {unknown[0]!r} in fault {rule.fault.rule!r} "
            f"(endpoints: {_ENDPOINT_LIST})"
        )
    if not rule.models:
        return
    for endpoint in rule.endpoints:
        if not _reaches(rule, endpoint, served_models(endpoint, custom_models)):
            raise ConfigError(
                f"fault {rule.fault.rule!r} can never fire on {endpoint}: "
                "none of its models is served there"
            )
    if not any(_reaches(rule, e, served_models(e, custom_models)) for e in FAULTED_BY_DEFAULT):
        raise ConfigError(
            f"fault {rule.fault.rule!r} can never fire: its model= matches no "
            "model the mock serves (a profile's custom_models adds names)"
        )


def _check_quota_key(key: str) -> None:
    if key == ALL or key in QUOTA_ENDPOINTS:
        return
    if key == "token":
        raise ConfigError(
            "a quota on the token endpoint is not supported: the mock enforces quotas on "
            f"{', '.join(QUOTA_ENDPOINTS)} (as the org limits do)"
        )
    raise ConfigError(
        f"unknown quota endpoint {key!r} (use * or one of {', '.join(QUOTA_ENDPOINTS)}; "
        "quotas are per endpoint, not per model)"
    )
