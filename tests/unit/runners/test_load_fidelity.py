"""The load users' fidelity check: its fast path agrees with `harness.fidelity` on every case."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

import scenarios.load._fidelity as load_fidelity
from harness.fidelity import ReplyOracle, check_chat_completion
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


def test_the_fast_check_agrees_with_the_full_one(check: load_fidelity.FidelityCheck) -> None:
    rng = random.Random(5)
    for _ in range(30):
        body = chat_body(rng, "gpt-4o-mini", stream=False)
        expected = ORACLE.chat(body)
        faithful = faithful_document(body)
        for document in [faithful, *mutations(faithful)]:
            payload = json.dumps(document).encode()
            full = check_chat_completion(body, 200, payload, expected)
            assert check(body, 200, payload) == full, document
        assert check(body, 200, json.dumps(faithful).encode()) == ()


def test_error_statuses_and_broken_bodies_get_the_full_verdict(
    check: load_fidelity.FidelityCheck,
) -> None:
    body = chat_body(random.Random(1), "gpt-4o-mini", stream=False)
    assert check(body, 0, b"") == ("dropped",)
    assert check(body, 502, b'{"error": {"message": "bad gateway"}}') == ("wrong_status",)
    assert check(body, 200, b"not json") == check_chat_completion(
        body, 200, b"not json", ORACLE.chat(body)
    )
    assert check(body, 200, b"not json") != ()


def test_a_fault_run_accepts_error_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_fidelity, "oracle_for", lambda url: ORACLE)
    check = load_fidelity.build_check("http://127.0.0.1:1", errors_allowed=True)
    body = chat_body(random.Random(2), "gpt-4o-mini", stream=False)
    assert check(body, 429, b'{"error": {"message": "slow down"}}') == ()


def test_every_prompt_sent_is_one_of_the_variants_computed_ahead() -> None:
    from scenarios.load._prompts import PROMPT_VARIANTS, all_messages

    variants = {load_fidelity.key_of(m) for m in all_messages()}
    assert len(variants) == PROMPT_VARIANTS
    rng = random.Random(9)
    for _ in range(500):
        body = chat_body(rng, "gpt-4o-mini", stream=False)
        assert load_fidelity.key_of(body["messages"]) in variants


def test_warming_up_fills_the_expected_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_fidelity, "oracle_for", lambda url: ORACLE)
    load_fidelity.expectations.cache_clear()
    load_fidelity.warm_up("http://127.0.0.1:2")
    expected = load_fidelity.expectations("http://127.0.0.1:2")
    from scenarios.load._prompts import PROMPT_VARIANTS

    assert expected.cache_info().currsize == PROMPT_VARIANTS  # type: ignore[attr-defined]
    load_fidelity.expectations.cache_clear()
