"""The load users' answer facts and their check against the predicted reply: they agree with
`harness.fidelity`'s full check on every case; every prompt carries its own marker."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

import scenarios.load._fidelity as load_fidelity
from harness.fidelity import ReplyOracle, check_chat_completion
from mock_salesforce.markers import find_markers
from scenarios.load._prompts import chat_body

ORACLE = ReplyOracle(1234)


def faithful_document(body: dict[str, Any]) -> dict[str, Any]:
    reply = ORACLE.chat(body)
    return {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens + 5,  # a gateway may add a system prompt
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.total_tokens + 5,
        },
    }


def mutations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Ways a gateway gets a reply wrong (and one harmless extra field)."""
    out = []
    cases: list[tuple[tuple[Any, ...], Any]] = [
        (("choices", 0, "message", "content"), "something else"),
        (("choices", 0, "message", "content"), ""),
        (("choices", 0, "message", "content"), None),
        (("choices", 0, "finish_reason"), "length"),
        (("usage", "completion_tokens"), 1),
        (("usage", "prompt_tokens"), 0),
        (("usage", "total_tokens"), 3),
        (("usage", "prompt_tokens"), True),
        (("error",), {"message": "upstream failed"}),
        (("error",), None),
        (("usage",), None),
        (("choices",), []),
    ]
    for path, value in cases:
        changed = copy.deepcopy(document)
        target: Any = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        out.append(changed)
    return out


@pytest.fixture
def check(monkeypatch: pytest.MonkeyPatch) -> load_fidelity.FidelityCheck:
    monkeypatch.setattr(load_fidelity, "oracle_for", lambda url: ORACLE)
    return load_fidelity.build_check("http://127.0.0.1:1", errors_allowed=False)


def test_no_mock_means_no_check() -> None:
    assert load_fidelity.build_check("", errors_allowed=False) is load_fidelity.no_check


def test_the_check_on_an_answers_facts_agrees_with_the_full_check(
    check: load_fidelity.FidelityCheck,
) -> None:
    rng = random.Random(5)
    for _ in range(30):
        body, _ = chat_body(rng, "gpt-4o-mini", stream=False)
        expected = ORACLE.chat(body)
        faithful = faithful_document(body)
        for document in [faithful, *mutations(faithful)]:
            payload = json.dumps(document).encode()
            full = check_chat_completion(body, 200, payload, expected)
            answer = load_fidelity.read_answer(body, 200, payload)
            assert check(body, 200, answer) == full, document
        assert (
            check(body, 200, load_fidelity.read_answer(body, 200, json.dumps(faithful).encode()))
            == ()
        )


def test_error_statuses_and_broken_bodies_get_the_full_verdict(
    check: load_fidelity.FidelityCheck,
) -> None:
    body, _ = chat_body(random.Random(1), "gpt-4o-mini", stream=False)
    read = load_fidelity.read_answer
    assert check(body, 0, read(body, 0, b"")) == ("dropped",)
    error = b'{"error": {"message": "bad gateway"}}'
    assert check(body, 502, read(body, 502, error)) == ("wrong_status",)
    broken = check(body, 200, read(body, 200, b"not json"))
    assert broken == check_chat_completion(body, 200, b"not json", ORACLE.chat(body)) != ()


def test_a_fault_run_accepts_error_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_fidelity, "oracle_for", lambda url: ORACLE)
    check = load_fidelity.build_check("http://127.0.0.1:1", errors_allowed=True)
    body, _ = chat_body(random.Random(2), "gpt-4o-mini", stream=False)
    answer = load_fidelity.read_answer(body, 429, b'{"error": {"message": "slow down"}}')
    assert check(body, 429, answer) == ()


def test_every_prompt_is_new_and_carries_its_marker_in_the_user_message() -> None:
    rng = random.Random(9)
    sent = [chat_body(rng, "gpt-4o-mini", stream=False) for _ in range(500)]
    assert len({marker for _, marker in sent}) == 500
    for body, marker in sent:
        system, user = body["messages"]
        assert marker in user["content"] and marker not in system["content"]
        assert find_markers(json.dumps(body).encode()) == (marker,)


def test_a_stream_answer_asks_for_usage_only_when_its_request_did() -> None:
    stream = b'data: {"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]}\n\n'
    stream += b"data: [DONE]\n\n"
    plain = load_fidelity.read_answer({"stream": True}, 200, stream)
    asked = load_fidelity.read_answer(
        {"stream": True, "stream_options": {"include_usage": True}}, 200, stream
    )
    assert plain.text_sha256 == asked.text_sha256 != ""
    assert (plain.usage_asked, asked.usage_asked) == (False, True)
