"""Probes against a target whose mock says what it saw: a fault the mock injected is the
mock's (R89), a 401 for the token the target sent upstream is the upstream's (R88), and a chat
route that hangs is said so without waiting the whole timeout per model (R87)."""

from __future__ import annotations

import json
from typing import Any

from harness.findings.mock_faults import MockFaults
from harness.targets.discovery import discover_model
from harness.targets.probes import (
    PROBE_TIMEOUT_S,
    SHORT_PROBE_TIMEOUT_S,
    MockView,
    Probe,
    token_refusal,
)
from mock_salesforce.journal import text_sha256
from tests.conftest import FakeClock

URL = "http://127.0.0.1:9"
MOCK = "http://127.0.0.1:9313"
CLEAN_CALL = {"endpoint": "chat-generations", "status": 200, "reply_sha256": text_sha256("hi"),
              "finish_reason": "stop", "prompt_tokens": 5, "completion_tokens": 1}  # fmt: skip
FAULTED_CALL = {"endpoint": "chat-generations", "status": 500, "fault": "500"}


class FakeMock(MockView):
    """A mock that answers from memory: its journal, faults in force and token requests."""

    def __init__(self, faults: MockFaults | None = None, token_requests: int | None = 0) -> None:
        super().__init__(MOCK)
        self.journal: list[dict[str, Any]] = []
        self.fault_rules = faults
        self.tokens = token_requests

    def position(self) -> int | None:
        return len(self.journal)

    def entries_since(self, since: int | None) -> list[dict[str, Any]] | None:
        return None if since is None else self.journal[since:]

    def token_requests(self) -> int | None:
        return self.tokens

    def faults(self) -> MockFaults | None:
        return self.fault_rules


class ScriptedGateway:
    """Answers each chat completion with the next (status, body, journal entries) of `script`,
    journaling the entries at the mock as the gateway's upstream calls; GET /v1/models lists
    `models` after `listing_s` on `clock`."""

    def __init__(self, mock: FakeMock, script: list[tuple[int, bytes, list[dict[str, Any]]]],
                 models: tuple[str, ...] = ("m",), clock: FakeClock | None = None,
                 listing_s: float = 0.0) -> None:  # fmt: skip
        self.mock, self.script, self.models = mock, list(script), models
        self.clock = clock or FakeClock()
        self.listing_s = listing_s
        self.timeouts: list[float] = []

    def get(self, url: str, timeout_s: float) -> tuple[int, bytes] | None:
        self.clock.sleep(self.listing_s if url.endswith("/v1/models") else 0.0)
        return 200, json.dumps({"data": [{"id": m} for m in self.models]}).encode()

    def post(self, url: str, body: Any, timeout_s: float) -> tuple[int, bytes] | None:
        self.timeouts.append(timeout_s)
        status, reply, calls = self.script.pop(0) if self.script else (0, b"", [])
        self.mock.journal.extend(calls)
        if not status:  # it never answers: the client waits its whole timeout
            self.clock.sleep(timeout_s)
            return None
        return status, reply


def chat(text: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 1,
                                 "total_tokens": 6}}).encode()  # fmt: skip


BAD_GATEWAY = json.dumps({"error": {"message": "upstream failed"}}).encode()
FAULTS = MockFaults(MOCK, {"chat-generations": ("500:p=0.2",)})


def discover(gateway: ScriptedGateway, mock: FakeMock, **options: Any) -> Any:
    return discover_model(URL, get=gateway.get, post=gateway.post, mock=mock,
                          clock=gateway.clock, **options)  # fmt: skip


def test_a_probe_whose_upstream_call_met_an_injected_fault_is_sent_again() -> None:
    mock = FakeMock(FAULTS)
    gateway = ScriptedGateway(mock, [(502, BAD_GATEWAY, [FAULTED_CALL]),
                                     (200, chat("hi"), [CLEAN_CALL])])  # fmt: skip
    choice = discover(gateway, mock)
    assert (choice.model, choice.source) == ("m", "probe")
    assert choice.probes[0].tries == 2 and choice.probes[0].faults == ()
    assert choice.as_params()["mock_faults"] == (
        "the mock at http://127.0.0.1:9313 injects 500 at p=0.2 on chat-generations"
    )


def test_a_failure_the_mock_did_not_inject_is_not_sent_again() -> None:
    mock = FakeMock()
    own = {"endpoint": "chat-generations", "status": 200, "fault": None}
    gateway = ScriptedGateway(mock, [(502, BAD_GATEWAY, [own]), (200, chat("hi"), [CLEAN_CALL])])
    choice = discover(gateway, mock)
    assert choice.model is None and choice.probes[0].tries == 1
    assert "met a fault" not in choice.reason


def test_a_model_whose_every_try_met_an_injected_fault_says_the_failures_are_the_mocks() -> None:
    mock = FakeMock(FAULTS)
    gateway = ScriptedGateway(mock, [(502, BAD_GATEWAY, [FAULTED_CALL])] * 4)
    choice = discover(gateway, mock)
    assert choice.model is None
    assert "each of its 4 tries met a fault the mock injected: 500" in choice.reason
    assert "every try met a fault the mock injected: the mock's failures" in choice.reason


def test_a_relayed_401_for_a_token_the_mock_never_issued_blames_the_token_not_the_client() -> None:
    mock = FakeMock(token_requests=0)
    unknown = {"endpoint": "chat-generations", "status": 401, "token_status": "unknown"}
    gateway = ScriptedGateway(mock, [(401, b'{"message": "Access bearer token is unknown"}',
                                      [unknown])])  # fmt: skip
    choice = discover(gateway, mock)
    assert choice.probes[0].token_status == "unknown"
    assert ("the target sent the Models API a token the mock never issued and never asked its "
            "token endpoint: a static token?") in choice.reason  # fmt: skip
    assert "pass --target-header" not in choice.reason


def test_a_401_the_gateway_gave_without_calling_the_upstream_asks_for_a_client_credential() -> None:
    mock = FakeMock()
    gateway = ScriptedGateway(mock, [(401, b'{"error": "missing api key"}', [])])
    choice = discover(gateway, mock)
    assert "pass --target-header 'Authorization: Bearer KEY'" in choice.reason


def test_an_expired_token_relayed_as_401_is_said_to_be_the_upstreams_refusal() -> None:
    mock = FakeMock(token_requests=3)
    expired = {"endpoint": "chat-generations", "status": 401, "token_status": "expired"}
    gateway = ScriptedGateway(mock, [(401, b"{}", [expired])])
    assert "a token past its expiry" in discover(gateway, mock).reason


def test_a_hanging_chat_route_waits_the_timeout_once_then_briefly_and_says_what_answered() -> None:
    mock = FakeMock()
    gateway = ScriptedGateway(mock, [], models=("a", "b", "c"), listing_s=0.002)
    choice = discover(gateway, mock)
    assert gateway.timeouts == [PROBE_TIMEOUT_S, SHORT_PROBE_TIMEOUT_S]
    assert gateway.clock.now_s < PROBE_TIMEOUT_S + SHORT_PROBE_TIMEOUT_S + 1
    assert "'a' -> no answer within 30 s and never called the Models API" in choice.reason
    assert ("POST /v1/chat/completions hangs before any upstream call: no answer within 30 s "
            "and 5 s, while GET /v1/models answered in 2 ms") in choice.reason  # fmt: skip
    assert choice.reason.endswith("the other 1 was not tried: after two hung")


def test_a_refused_connection_is_no_hang() -> None:
    assert not Probe("m", 0, "", waited_s=0.01).hung
    assert Probe("m", 0, "", waited_s=PROBE_TIMEOUT_S).hung
    assert Probe("m", 0, "", waited_s=PROBE_TIMEOUT_S).describe() == "'m' -> no answer within 30 s"


def test_an_injected_fault_on_the_token_endpoint_is_not_called_a_refusal() -> None:
    entries = [{"endpoint": "token", "status": 500, "fault": "500"}]
    assert token_refusal(entries) == ""


def test_behind_a_mock_that_injects_hangs_the_mock_is_blamed_and_retries_wait_briefly() -> None:
    # review7 B1: every try hung AND met the mock's `hang`: not "the chat route hangs", and the
    # tries after the first hang wait 5 s, not 30 s each.
    mock = FakeMock(MockFaults(MOCK, {"chat-generations": ("hang",)}))
    hung_call = {"endpoint": "chat-generations", "status": 0, "fault": "hang"}
    gateway = ScriptedGateway(mock, [(0, b"", [hung_call])] * 4)
    choice = discover(gateway, mock)
    assert gateway.timeouts == [PROBE_TIMEOUT_S] + [SHORT_PROBE_TIMEOUT_S] * 3
    assert "every try met a fault the mock injected" in choice.reason
    assert "each of its 4 tries met a fault the mock injected: hang" in choice.reason
    assert "POST /v1/chat/completions hangs" not in choice.reason


def test_one_hang_after_models_that_refused_still_asks_for_a_model_name() -> None:
    # review7 B2: a, b, c answer 404, d hangs, e is never tried: not "after two hung".
    mock = FakeMock()
    refusal: tuple[int, bytes, list[dict[str, Any]]] = (404, b"{}", [])
    gateway = ScriptedGateway(mock, [refusal] * 3, models=("a", "b", "c", "d", "e"))
    choice = discover(gateway, mock)
    assert choice.reason.endswith("the other 1 was not tried: pass --model NAME")
