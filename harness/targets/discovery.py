"""Discovery: which model to send a target before measuring it.

A stranger's gateway serves its own model names. `discover_model` asks `GET /v1/models`, then
sends one chat completion per candidate until one answers 200 with the upstream's answer (when
the mock behind the target is known, the probe must reach it, and its answer is judged against
the mock's reply). A model whose 200 is not the upstream's answer (error text inside it) is
chosen only when no other works, and the choice says so. The `ModelChoice` says what was
chosen and how, or why nothing works, with the probe's status and body.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from harness.fidelity import answer_facts, answered, judge
from harness.findings.journal import journal_position
from harness.findings.rewrites import API_NAME_PREFIX
from harness.join import reply_facts
from harness.runners.support.loadrows import quote_body
from harness.targets import health
from harness.targets.endpoints import CHAT_PATH, HEALTH_PATH, MODELS_PATH, endpoint_url
from harness.targets.headers import credential_hint
from harness.targets.tls import DEFAULT_TLS, TargetTls
from mock_salesforce.admin_client import AdminClient, AdminError
from mock_salesforce.markers import new_marker

DEFAULT_MODEL = "gpt-4o-mini"  # what the load scenarios send when nothing else is known
MAX_PROBES = 4  # a listing of 50 models must not cost 50 requests before the run starts
PROBE_TIMEOUT_S = 30.0
MODELS_ENDPOINTS = frozenset({"generations", "chat-generations", "embeddings"})
# Each probe's prompt is new (a marker): a gateway that caches replies must not answer one from
# an earlier probe, or it reads as "never called the Models API" (R14).
_MARKERS = random.Random()

Answer = tuple[int, bytes] | None  # (status, body), None when nothing answered
Get = Callable[[str, float], Answer]
Post = Callable[[str, Any], Answer]


@dataclass(frozen=True)
class Probe:
    """One chat completion sent with `model`: its status (0: no answer), the start of its body,
    and whether the mock saw a Models API call for it (None: no mock to ask)."""

    model: str
    status: int
    body: str
    reached_mock: bool | None = None
    fidelity: tuple[str, ...] = ()  # what was wrong with a 200's answer (`harness.fidelity`)
    # Why the Models API was never called, when the mock refused the target's token request:
    # "400 invalid_grant: invalid assertion" (the journal's `error`).
    token_refused: str = ""
    # The mock's own latency on a Models call the target hung up on before it was answered
    # (ms, the journal's `latency_ms` of a `disconnected` call; None: none was): R75.
    abandoned_ms: float | None = None

    @property
    def works(self) -> bool:
        return self.status == 200 and self.reached_mock is not False

    @property
    def clean(self) -> bool:
        """It works, and its answer was the upstream's (usage aside: it has its own claim)."""
        return self.works and answered(self.status, self.fidelity)

    def flaw(self) -> str:
        """What was wrong with the answer of a probe that works ("" when nothing)."""
        if not self.works or self.clean:
            return ""
        kinds = ", ".join(k.replace("_", " ") for k in self.fidelity if k != "usage_mismatch")
        return f"its answer was not the upstream's ({kinds}): {self.body}"

    def describe(self) -> str:
        """One line: what the target answered to this model."""
        answer = f"HTTP {self.status}" if self.status else "no answer"
        upstream = " but never called the Models API" if self.reached_mock is False else ""
        if upstream and self.token_refused:
            upstream += f" (the mock refused its token request: {self.token_refused})"
        body = f": {self.body}" if self.body and not self.works else ""
        return f"{self.model!r} -> {answer}{upstream}{body}{self.gave_up()}"

    def gave_up(self) -> str:
        """What the mock saw when the target hung up on it before its reply ("" otherwise)."""
        if self.abandoned_ms is None or self.works:
            return ""
        return f" (it gave up on the mock, which was answering in {self.abandoned_ms:.0f} ms)"

    @property
    def refused(self) -> bool:
        """The target refused the client itself (401/403), whatever the model."""
        return self.status in (401, 403)


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
            return (f"{self.none_of_the_tried} on this target{hint}: {tried}; the other "
                    f"{self.untried} were not tried: pass --model NAME")  # fmt: skip
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
) -> ModelChoice:
    """Choose the model to send `url`: `requested`, else the first served one that works.
    `headers` go with every request (`--target-header`), TLS checked as `tls` says; `get` and
    `post` make the HTTP calls (tests pass fakes)."""
    send = post or partial(_post_json, headers=headers, tls=tls)
    fetch = get or partial(health.http_get, headers=headers, tls=tls)
    served, listing, upstreams = list_models(url, fetch)
    said = health_route(url, fetch)
    if requested:
        probe = probe_model(url, requested, mock_url, send)
        hint = choice_hint((probe,), headers)
        return ModelChoice(requested if probe.works else None, "--model", served, (probe,), listing,
                           said, hint=hint, upstreams=upstreams)  # fmt: skip
    candidates = list(served[:max_probes]) or [DEFAULT_MODEL]
    probes: list[Probe] = []
    for model in candidates:
        probes.append(probe_model(url, model, mock_url, send))
        if probes[-1].clean:
            break
    # The first clean one; else the first that reached the upstream, its flaw on record.
    chosen = next((p for p in probes if p.clean), next((p for p in probes if p.works), None))
    if chosen is None:
        return ModelChoice(None, "none", served, tuple(probes), listing, said,
                           hint=choice_hint(probes, headers), upstreams=upstreams)  # fmt: skip
    return ModelChoice(chosen.model, "probe" if served else "default", served, tuple(probes),
                       listing, said, upstreams=upstreams)  # fmt: skip


def choice_hint(probes: Sequence[Probe], headers: Mapping[str, str]) -> str:
    """Said once when every probe was refused for want of (or with a wrong) credential, or
    when the target gave up on the mock before its reply every time (R75)."""
    refused = [p.status for p in probes if p.refused]
    if probes and len(refused) == len(probes):
        return credential_hint(refused[0], headers)
    if probes and all(p.gave_up() for p in probes):
        return TOO_SHORT_TIMEOUT
    return ""


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


def probe_model(url: str, model: str, mock_url: str, post: Post) -> Probe:
    """Send one chat completion with `model`; ask the mock (if known) whether it was called,
    and judge a 200's answer against the reply the upstream gave (without a mock: only whether
    it reads like an error)."""
    since = journal_position(mock_url)
    prompt = f"sfperf probe {new_marker(_MARKERS)}: say hi."
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    answer = post(endpoint_url(url, CHAT_PATH), body)
    status, raw = answer if answer is not None else (0, b"")
    text = quote_body(raw)
    entries = _journal_since(mock_url, since)
    calls = (
        None if entries is None else [e for e in entries if e.get("endpoint") in MODELS_ENDPOINTS]
    )
    reached = None if calls is None else bool(calls)
    abandoned = [float(e.get("latency_ms") or 0) for e in calls or () if e.get("disconnected")]
    return Probe(model, status, text, reached, probe_fidelity(body, status, raw, calls or ()),
                 "" if calls else token_refusal(entries or ()),
                 max(abandoned) if abandoned else None)  # fmt: skip


def token_refusal(entries: Sequence[Mapping[str, Any]]) -> str:
    """The last token request the mock refused, as "400 invalid_grant: invalid assertion"
    ("" when none was; an entry of a mock too old to journal its `error`: its status alone)."""
    refused = [
        e for e in entries if e.get("endpoint") == "token" and int(e.get("status") or 0) >= 400
    ]
    if not refused:
        return ""
    last = refused[-1]
    return f"{last['status']} {last['error']}" if last.get("error") else f"HTTP {last['status']}"


def probe_fidelity(
    request: Mapping[str, Any], status: int, raw: bytes, calls: Sequence[Mapping[str, Any]]
) -> tuple[str, ...]:
    """The mismatch kinds of a probe's 200 against the upstream's last reply for it (a gateway
    may retry); with none to compare, error text or an error object inside the 200 only."""
    if status != 200:
        return ()
    facts = answer_facts(request, status, raw)
    reply = next((r for r in map(reply_facts, reversed(calls)) if r is not None), None)
    if reply is None:
        return ("error_in_200",) if facts.error or facts.error_text else ()
    return judge(status, facts, reply)


def _post_json(
    url: str,
    body: Any,
    headers: Mapping[str, str] = health.NO_HEADERS,
    tls: TargetTls = DEFAULT_TLS,
) -> Answer:
    return health.http_post_json(url, body, timeout_s=PROBE_TIMEOUT_S, headers=headers, tls=tls)


def _journal_since(mock_url: str, since: int | None) -> list[dict[str, Any]] | None:
    """What the mock journaled after `since` (None: cannot tell)."""
    if since is None:
        return None
    try:
        return list(AdminClient(mock_url).read_journal(since))
    except (AdminError, OSError, ValueError):
        return None
