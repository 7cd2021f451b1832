"""What the load users keep of each reply (its facts), judged after the run against the reply
predicted for the request as sent: the same verdict as `harness.fidelity`'s full check on every
case; every prompt carries its own marker."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import scenarios.load._fidelity as load_fidelity
from harness.fidelity import ReplyOracle, check_chat_completion
from harness.join import judge_rows
from harness.runners.support.loadrows import Row
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


def judged_after_the_run(body: dict[str, Any], status: int, payload: bytes) -> tuple[str, ...]:
    """What the load runner makes of a row no journaled call carries: the child's facts of the
    reply, judged against the reply predicted for the request as sent."""
    answer = load_fidelity.read_answer(body, status, payload)
    row = Row("chat", 0.0, 0.0, 1.0, status, True, answer=answer, request=json.dumps(body))
    (judged,) = judge_rows([row], None, ORACLE).rows
    return judged.fidelity


def test_the_facts_the_child_keeps_are_judged_as_the_full_check_judges_the_reply() -> None:
    rng = random.Random(5)
    for _ in range(30):
        body, _ = chat_body(rng, "gpt-4o-mini", stream=False)
        faithful = faithful_document(body)
        for document in [faithful, *mutations(faithful)]:
            payload = json.dumps(document).encode()
            full = check_chat_completion(body, 200, payload, ORACLE.chat(body))
            assert judged_after_the_run(body, 200, payload) == full, document
        assert judged_after_the_run(body, 200, json.dumps(faithful).encode()) == ()


def test_error_statuses_and_broken_bodies_get_the_full_verdict() -> None:
    body, _ = chat_body(random.Random(1), "gpt-4o-mini", stream=False)
    assert judged_after_the_run(body, 0, b"") == ("dropped",)
    error = b'{"error": {"message": "bad gateway"}}'
    assert judged_after_the_run(body, 502, error) == ("wrong_status",)
    broken = judged_after_the_run(body, 200, b"not json")
    assert broken == check_chat_completion(body, 200, b"not json", ORACLE.chat(body)) != ()


def test_the_child_counts_as_ok_only_a_readable_whole_answer() -> None:
    body, _ = chat_body(random.Random(2), "gpt-4o-mini", stream=False)
    read = load_fidelity.read_answer
    assert load_fidelity.readable(read(body, 200, json.dumps(faithful_document(body)).encode()))
    assert not load_fidelity.readable(read(body, 200, b'{"error": {"message": "x"}}'))
    assert not load_fidelity.readable(read(body, 200, b"not json"))
    assert not load_fidelity.readable(read(body, 503, b"{}"))


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


def test_a_whole_json_completion_to_a_stream_request_is_not_ok_and_named_as_such() -> None:
    body, _ = chat_body(random.Random(3), "gpt-4o-mini", stream=True)
    whole = json.dumps(faithful_document(body)).encode()
    answer = load_fidelity.read_answer(body, 200, whole)
    assert answer.text_sha256 and not answer.streamed
    assert not load_fidelity.readable(answer)
    assert judged_after_the_run(body, 200, whole) == ("not_streamed",)
