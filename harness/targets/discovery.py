"""Discovery: which model to send a target before measuring it.

A stranger's gateway serves its own model names. `discover_model` asks `GET /v1/models`, then
sends one chat completion per candidate until one answers 200 with the upstream's answer (when
the mock behind the target is known, the probe must reach it, and its answer is judged against
the mock's reply). A model whose 200 is not the upstream's answer (error text inside it) is
chosen only when no other works, and the choice says so. The `ModelChoice` says what was
chosen and how, or why nothing works, with the probe's status and body, and a hint read from
what the mock saw (`harness.targets.probes`: the token it refused, the faults it injected, a
chat route that hangs while the others answer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from harness.findings.rewrites import API_NAME_PREFIX
from harness.targets import health
from harness.targets.endpoints import HEALTH_PATH, MODELS_PATH, endpoint_url
from harness.targets.headers import credential_hint
from harness.targets.probes import (
    MAX_HANGS,
    Answer,
    MockView,
    Post,
    Probe,
    probe_models,
    probe_until_clear,
    trailing_hangs,
)
from harness.targets.tls import DEFAULT_TLS, TargetTls

DEFAULT_MODEL = "gpt-4o-mini"  # what the load scenarios send when nothing else is known
MAX_PROBES = 4  # a listing of 50 models must not cost 50 requests before the run starts

Get = Callable[[str, float], Answer]


@dataclass(frozen=True)
class ModelChoice:
    """The model the harness sends this target, and how it was chosen.

    `source`: `--model` (the user's), `probe` (the first served model whose probe worked),
    `default` (no listing; the default name worked) or `none` (nothing works: `reason` says)."""

    model: str | None
    source: str
    served: tuple[str, ...] = ()
    probes: tuple[Probe, ...] = ()
    listing: str = ""  # what GET /v1/models said, when it listed nothing usable
    health: str = ""  # what GET /health said, when it was not a 2xx (no such route, refused)
    error: str = ""  # why the target could not be asked at all (it did not start...)
    hint: str = ""  # what the user can do about it (e.g. send the credential it wants)
    # Why the probes cannot judge the target: its upstream calls never reached the mock (a
    # launched gateway whose client the shim does not redirect).
    unreached: str = ""
    failure: str = ""  # `error` in a few words, "{name} did not start": a summary's
    # (served name, the Models API model its GET /v1/models entry says it stands for)
    upstreams: tuple[tuple[str, str], ...] = ()
    # The faults the user's mock injects on its own, in a sentence ("" when none): R89.
    mock_faults: str = ""

    @property
    def reason(self) -> str:
        """Why no model is usable (empty when one is)."""
        if self.model is not None:
            return ""
        if self.error:
            return self.error
        tried = "; ".join(p.describe() for p in self.probes) or "no model to try"
        listed = f" ({self.listing})" if self.listing else ""
        hint = f" ({self.hint})" if self.hint else ""
        if self.unreached:
            return f"{self.unreached}; no verdict on the gateway from its answers{listed}: {tried}"
        if self.untried:
            why = "after two hung" if trailing_hangs(self.probes) >= MAX_HANGS else (
                "pass --model NAME")  # fmt: skip
            were = "was" if self.untried == 1 else "were"
            return (f"{self.none_of_the_tried} on this target{hint}: {tried}; the other "
                    f"{self.untried} {were} not tried: {why}")  # fmt: skip
        return f"no model works on this target{listed}{hint}: {tried}"

    @property
    def untried(self) -> int:
        """How many listed models discovery did not try (it stops after `MAX_PROBES`)."""
        return 0 if self.source == "--model" else max(0, len(self.served) - len(self.probes))

    @property
    def none_of_the_tried(self) -> str:
        """ "none of the first 4 of 6 listed models works": never "no model works" (R61)."""
        return f"none of the first {len(self.probes)} of {len(self.served)} listed models works"

    def not_measured(self, name: str) -> str:
        """Why `name` is not measured, in a few words ("" when it is): a summary's, never "no
        model works" on a target that did not start, nor when no model was tried."""
        if self.model is not None:
            return ""
        if self.error:
            return (self.failure or "{name} could not be asked").format(name=name)
        if self.unreached:
            return f"the calls of {name} never reached the mock"
        if self.untried:
            return f"{self.none_of_the_tried} on {name}"
        return f"no model works on {name}" if self.probes else f"no model was tried on {name}"

    @property
    def flaw(self) -> str:
        """What was wrong with the chosen model's probe answer ("" when nothing)."""
        return next((p.flaw() for p in self.probes if p.model == self.model and p.works), "")

    def as_params(self) -> dict[str, Any]:
        """What goes into a record's params: the chosen model and how it was chosen."""
        return {
            "model": self.model,
            "model_source": self.source,
            "served_models": list(self.served),
            "model_probes": [vars(p) for p in self.probes],
            "model_reason": self.reason,
            "model_error": self.error,
            "model_unreached": self.unreached,
            "model_flaw": self.flaw,
            "model_listing": self.listing,
            "served_upstreams": dict(self.upstreams),
            "target_health": self.health,
            "model_not_measured": self.not_measured("it"),
            "mock_faults": self.mock_faults,
        }

    @classmethod
    def failed(cls, error: str, failure: str = "{name} could not be asked") -> ModelChoice:
        """The target could not be asked (it did not start, or died); `failure` says it in a
        few words, `{name}` standing for the target."""
        return cls(None, "none", error=error, failure=failure)

    def upstream_of(self, model: str) -> str:
        """The Models API model the target's listing says `model` stands for ("": it does not
        say)."""
        return dict(self.upstreams).get(model, "")

    @classmethod
    def given(cls, model: str) -> ModelChoice:
        """The reference variants serve every standard name: no discovery needed."""
        return cls(model, "default")


def discover_model(
    url: str,
    *,
    requested: str | None = None,
    mock_url: str = "",
    max_probes: int = MAX_PROBES,
    get: Get | None = None,
    post: Post | None = None,
    headers: Mapping[str, str] = health.NO_HEADERS,
    tls: TargetTls = DEFAULT_TLS,
    mock: MockView | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ModelChoice:
    """Choose the model to send `url`: `requested`, else the first served one that works.
    `headers` go with every request (`--target-header`), TLS checked as `tls` says; `get` and
    `post` make the HTTP calls, `mock` asks the mock at `mock_url` (tests pass fakes)."""
    send = post or partial(_post_json, headers=headers, tls=tls)
    fetch = get or partial(health.http_get, headers=headers, tls=tls)
    mock = mock or MockView(mock_url)
    asked, answered = ask_routes(url, fetch, mock, clock)
    if requested:
        probes = [probe_until_clear(url, requested, mock, send, clock=clock)]
    else:
        probes = probe_models(
            url, list(asked.served[:max_probes]) or [DEFAULT_MODEL], mock, send, clock
        )
    # The first clean one; else the first that reached the upstream, its flaw on record.
    chosen = next((p for p in probes if p.clean), next((p for p in probes if p.works), None))
    if chosen is None:
        hint = choice_hint(probes, headers, answered=answered, mock=mock)
        return replace(
            asked, source="--model" if requested else "none", probes=tuple(probes), hint=hint
        )
    source = "--model" if requested else "probe" if asked.served else "default"
    return replace(asked, model=chosen.model, source=source, probes=tuple(probes))


def ask_routes(
    url: str, fetch: Get, mock: MockView, clock: Callable[[], float]
) -> tuple[ModelChoice, str]:
    """What the target's other routes and the mock say before any probe: a choice with no
    model yet, and "GET /v1/models answered in 2 ms" ("" when it did not answer)."""
    started_s = clock()
    served, listing, upstreams = list_models(url, fetch)
    listed_ms = (clock() - started_s) * 1000
    faults = mock.faults()
    said = health_route(url, fetch)
    asked = ModelChoice(None, "none", served, (), listing, said, upstreams=upstreams,
                        mock_faults=faults.describe() if faults else "")  # fmt: skip
    answered = (
        "" if listing.endswith("no answer") else f"GET /v1/models answered in {listed_ms:.0f} ms"
    )
    return asked, answered


def choice_hint(
    probes: Sequence[Probe],
    headers: Mapping[str, str],
    *,
    answered: str = "",
    mock: MockView | None = None,
) -> str:
    """Said once when every probe was refused for want of (or with a wrong) credential; when
    the refusal was the upstream's, for the token the target sent it (R88); when the target
    gave up on the mock before its reply every time (R75); when its chat route hangs, while
    `answered` says another route answered (R87); when every try met the mock's faults (R89)."""
    if not probes:
        return ""
    # The mock's doing comes before any explanation on the target's part (a `hang` fault makes
    # a probe hang, a `401` one a refusal).
    if all(p.faulted() for p in probes):
        return "every try met a fault the mock injected: the mock's failures, not the target's"
    if all(p.refused for p in probes):
        return upstream_refusal(probes, mock) or credential_hint(probes[0].status, headers)
    if all(p.gave_up() for p in probes):
        return TOO_SHORT_TIMEOUT
    if all(p.hung for p in probes):
        return chat_hangs(probes, answered)
    return ""


def upstream_refusal(probes: Sequence[Probe], mock: MockView | None) -> str:
    """Why the target relayed the upstream's 401/403: the token it sent ("" when the mock
    refused no token of the probes: the refusal is the target's own)."""
    statuses = {p.token_status for p in probes}
    if "" in statuses or not statuses:
        return ""
    if "unknown" in statuses:
        asked = mock.token_requests() if mock is not None else None
        never = " and never asked its token endpoint" if asked == 0 else ""
        return (f"the refusal is the upstream's: the target sent the Models API a token the mock "
                f"never issued{never}: a static token? Under sfperf it must fetch one by client "
                "credentials from its Salesforce login (the mock issues them); --target-header "
                "changes nothing")  # fmt: skip
    if "expired" in statuses:
        return ("the refusal is the upstream's: the target sent the Models API a token past "
                "its expiry (one it never refreshed)")  # fmt: skip
    return "the refusal is the upstream's: the target called the Models API with no token"


def chat_hangs(probes: Sequence[Probe], answered: str) -> str:
    """ "POST /v1/chat/completions hangs ..." for probes that all waited their whole timeout."""
    before = " before any upstream call" if all(p.reached_mock is False for p in probes) else ""
    waited = " and ".join(dict.fromkeys(f"{p.timeout_s:g} s" for p in probes))
    others = f", while {answered}" if answered else ""
    return f"POST /v1/chat/completions hangs{before}: no answer within {waited}{others}"


TOO_SHORT_TIMEOUT = (
    "it gives up on its upstream sooner than the Models API usually answers, as the default "
    "mock profile does: a median of 450 ms plus 8 ms per token; `--mock-profile fast` (load, "
    "sweep) measures it anyway"
)


Upstreams = tuple[tuple[str, str], ...]


def list_models(url: str, get: Get = health.http_get) -> tuple[tuple[str, ...], str, Upstreams]:
    """The model ids `GET /v1/models` lists, a note when it lists none, and the Models API
    model each stands for where its entry says (`model_upstreams`)."""
    answer = get(endpoint_url(url, MODELS_PATH), 10.0)
    if answer is None:
        return (), "GET /v1/models: no answer", ()
    status, body = answer
    if status != 200:
        return (), f"GET /v1/models answered {status}", ()
    ids = model_ids(body)
    return ids, "" if ids else "GET /v1/models listed no model ids", model_upstreams(body)


def health_route(url: str, get: Get = health.http_get) -> str:
    """What `GET /health` said when it was no 2xx ("" when it was): many gateways have none."""
    answer = get(endpoint_url(url, HEALTH_PATH), 10.0)
    if answer is None:
        return "GET /health: no answer"
    return "" if 200 <= answer[0] < 300 else f"GET /health answered {answer[0]}"


def model_upstreams(body: bytes) -> Upstreams:
    """(id, Models API name) for each listed entry with a field naming one (`root`, `upstream`,
    whatever its name: a value `sfdc_ai__...` other than the id itself)."""
    pairs = []
    for entry in _entries(body):
        named = [v for k, v in entry.items() if k != "id" and isinstance(v, str)
                 and v.startswith(API_NAME_PREFIX) and v != entry.get("id")]  # fmt: skip
        if named and isinstance(entry.get("id"), str):
            pairs.append((str(entry["id"]), named[0]))
    return tuple(pairs)


def _entries(body: bytes) -> list[Mapping[str, Any]]:
    """The entries of an OpenAI model listing (`{"data": [...]}`); [] when it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    entries = document.get("data") if isinstance(document, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def model_ids(body: bytes) -> tuple[str, ...]:
    """Ids from an OpenAI model listing (`{"data": [{"id": ...}]}`); () when it is not one."""
    ids = (e.get("id") for e in _entries(body))
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i))


def _post_json(
    url: str,
    body: Any,
    timeout_s: float,
    headers: Mapping[str, str] = health.NO_HEADERS,
    tls: TargetTls = DEFAULT_TLS,
) -> Answer:
    return health.http_post_json(url, body, timeout_s=timeout_s, headers=headers, tls=tls)
