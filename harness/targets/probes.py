"""Probes: the chat completions discovery sends a target, and what the mock behind it saw.

A probe is one chat completion with one model. When the mock is known (`MockView`), its journal
says whether the probe reached the Models API, with which token, and whether the mock injected
a fault into the call: a probe that met a fault of the user's own mock (`sfperf mock --fault`) is
sent again, since the failure is the mock's (R89). A probe the target never answered waited the
whole timeout; the next models get a short one, and after two such hangs discovery stops (R87).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.fidelity import answer_facts, answered, judge
from harness.findings.journal import journal_position
from harness.findings.mock_faults import MockFaults, injected, met_fault, read_mock_faults
from harness.join import reply_facts
from harness.runners.support.loadrows import quote_body
from harness.targets.endpoints import CHAT_PATH, endpoint_url
from mock_salesforce.admin_client import AdminClient, AdminError
from mock_salesforce.markers import new_marker

PROBE_TIMEOUT_S = 30.0
# After a probe got no answer within PROBE_TIMEOUT_S, the next models wait this long, and after
# MAX_HANGS such probes in a row the rest are not tried: a chat route that hangs hangs for all.
SHORT_PROBE_TIMEOUT_S = 5.0
MAX_HANGS = 2
# Tries of one model while each meets a fault the mock injected (p=0.2: 1 in 625 meets four).
FAULTED_TRIES = 4
MODELS_ENDPOINTS = frozenset({"generations", "chat-generations", "embeddings"})
# Each probe's prompt is new (a marker): a gateway that caches replies must not answer one from
# an earlier probe, or it reads as "never called the Models API" (R14).
_MARKERS = random.Random()

Answer = tuple[int, bytes] | None  # (status, body), None when nothing answered
Post = Callable[[str, Any, float], Answer]  # (url, JSON body, timeout_s)
Entries = list[dict[str, Any]]


class MockView:
    """What discovery asks the mock behind a target at `url` ("": none known); every answer is
    None when it cannot tell. Tests pass a subclass that answers from memory."""

    def __init__(self, url: str) -> None:
        self.url = url

    def position(self) -> int | None:
        """The journal's last sequence number."""
        return journal_position(self.url)

    def entries_since(self, since: int | None) -> Entries | None:
        """What the mock journaled after `since`."""
        if since is None or not self.url:
            return None
        try:
            return list(AdminClient(self.url).read_journal(since))
        except (AdminError, OSError, ValueError):
            return None

    def token_requests(self) -> int | None:
        """How many token requests the mock has seen since it started."""
        if not self.url:
            return None
        try:
            return int(AdminClient(self.url).counters()["by_endpoint"].get("token", 0))
        except (AdminError, OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def faults(self) -> MockFaults | None:
        """The faults it injects on its own (`--fault`)."""
        return read_mock_faults(self.url)


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
    # The faults the mock injected into the calls of its last try ("500", "hang"), and how many
    # times it was sent: a try that met one is the mock's failure, sent again (R89).
    faults: tuple[str, ...] = ()
    tries: int = 1
    # How long it waited, and the most it would (an answer that never came: R87).
    waited_s: float = 0.0
    timeout_s: float = PROBE_TIMEOUT_S
    # The mock's word on the token of a Models call it refused (401/403): `unknown` (one it never
    # issued), `expired`, `missing` ("": none refused, or no mock): R88.
    token_status: str = ""

    @property
    def works(self) -> bool:
        return self.status == 200 and self.reached_mock is not False

    @property
    def clean(self) -> bool:
        """It works, and its answer was the upstream's (usage aside: it has its own claim)."""
        return self.works and answered(self.status, self.fidelity)

    @property
    def hung(self) -> bool:
        """No answer came within its timeout (a refused or reset connection is not a hang)."""
        return self.status == 0 and self.waited_s >= 0.9 * self.timeout_s

    def flaw(self) -> str:
        """What was wrong with the answer of a probe that works ("" when nothing)."""
        if not self.works or self.clean:
            return ""
        kinds = ", ".join(k.replace("_", " ") for k in self.fidelity if k != "usage_mismatch")
        return f"its answer was not the upstream's ({kinds}): {self.body}"

    def describe(self) -> str:
        """One line: what the target answered to this model."""
        if self.status:
            answer = f"HTTP {self.status}"
        else:
            answer = f"no answer within {self.timeout_s:g} s" if self.hung else "no answer"
        upstream = ""
        if self.reached_mock is False:
            upstream = " and never called the Models API" if not self.status else (
                " but never called the Models API")  # fmt: skip
        if upstream and self.token_refused:
            upstream += f" (the mock refused its token request: {self.token_refused})"
        body = f": {self.body}" if self.body and not self.works else ""
        return f"{self.model!r} -> {answer}{upstream}{body}{self.gave_up()}{self.faulted()}"

    def gave_up(self) -> str:
        """What the mock saw when the target hung up on it before its reply ("" otherwise)."""
        if self.abandoned_ms is None or self.works:
            return ""
        return f" (it gave up on the mock, which was answering in {self.abandoned_ms:.0f} ms)"

    def faulted(self) -> str:
        """Said of a probe whose every try met a fault the mock injected ("" otherwise)."""
        if not self.faults or self.clean:
            return ""
        tries = "its one try" if self.tries == 1 else f"each of its {self.tries} tries"
        met = ", ".join(dict.fromkeys(self.faults))
        return f" ({tries} met a fault the mock injected: {met})"

    @property
    def refused(self) -> bool:
        """The target refused the client itself (401/403), whatever the model."""
        return self.status in (401, 403)


def probe_models(
    url: str,
    models: Sequence[str],
    mock: MockView,
    post: Post,
    clock: Callable[[], float] = time.monotonic,
) -> list[Probe]:
    """Probe `models` in order until one answers cleanly; after a probe hung, the next wait
    `SHORT_PROBE_TIMEOUT_S`, and `MAX_HANGS` hangs in a row end the probing."""
    probes: list[Probe] = []
    for model in models:
        hangs = trailing_hangs(probes)
        if hangs >= MAX_HANGS:
            break
        timeout_s = SHORT_PROBE_TIMEOUT_S if hangs else PROBE_TIMEOUT_S
        probes.append(probe_until_clear(url, model, mock, post, timeout_s, clock))
        if probes[-1].clean:
            break
    return probes


def trailing_hangs(probes: Sequence[Probe]) -> int:
    """How many of the last probes hung, in a row."""
    count = 0
    for probe in reversed(probes):
        if not probe.hung:
            break
        count += 1
    return count


def probe_until_clear(
    url: str,
    model: str,
    mock: MockView,
    post: Post,
    timeout_s: float = PROBE_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
) -> Probe:
    """`probe_model`, sent again (`FAULTED_TRIES` in all) while it fails and its calls met a
    fault the mock injected: the mock's failure is not the target's."""
    probe = probe_model(url, model, mock, post, timeout_s, clock)
    tries = 1
    while probe.faults and not probe.clean and tries < FAULTED_TRIES:
        # A try that hung waited long enough: the next ones wait briefly (a `hang` fault).
        timeout_s = SHORT_PROBE_TIMEOUT_S if probe.hung else timeout_s
        probe = probe_model(url, model, mock, post, timeout_s, clock)
        tries += 1
    return replace(probe, tries=tries)


def probe_model(
    url: str,
    model: str,
    mock: MockView,
    post: Post,
    timeout_s: float = PROBE_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
) -> Probe:
    """Send one chat completion with `model`; ask the mock (if known) whether it was called,
    and judge a 200's answer against the reply the upstream gave (without a mock: only whether
    it reads like an error)."""
    since = mock.position()
    prompt = f"sfperf probe {new_marker(_MARKERS)}: say hi to Zoë in 東京 🚀."  # not ASCII: R77
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    started_s = clock()
    answer = post(endpoint_url(url, CHAT_PATH), body, timeout_s)
    waited_s = clock() - started_s
    status, raw = answer if answer is not None else (0, b"")
    entries = mock.entries_since(since)
    calls = (
        None if entries is None else [e for e in entries if e.get("endpoint") in MODELS_ENDPOINTS]
    )
    abandoned = [float(e.get("latency_ms") or 0) for e in calls or () if e.get("disconnected")]
    return Probe(model, status, quote_body(raw), None if calls is None else bool(calls),
                 probe_fidelity(body, status, raw, calls or ()),
                 "" if calls else token_refusal(entries or ()),
                 max(abandoned) if abandoned else None, tuple(injected(entries or ())),
                 waited_s=round(waited_s, 3), timeout_s=timeout_s,
                 token_status=refused_token(calls or ()))  # fmt: skip


def refused_token(calls: Sequence[Mapping[str, Any]]) -> str:
    """The token status (`unknown`, `expired`, `missing`) of the first Models call the mock
    refused for its token ("" when none was)."""
    refused = (e for e in calls if int(e.get("status") or 0) in (401, 403) and not met_fault(e))
    return next((str(e["token_status"]) for e in refused
                 if e.get("token_status") not in (None, "valid", "not-required")), "")  # fmt: skip


def token_refusal(entries: Sequence[Mapping[str, Any]]) -> str:
    """The last token request the mock refused, as "400 invalid_grant: invalid assertion"
    ("" when none was; an injected fault is not a refusal; an entry of a mock too old to
    journal its `error`: its status alone)."""
    refused = [
        e
        for e in entries
        if e.get("endpoint") == "token" and int(e.get("status") or 0) >= 400 and not met_fault(e)
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
