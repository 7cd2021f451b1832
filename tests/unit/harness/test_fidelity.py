"""Fidelity checks: each mismatch kind is found, and a faithful answer has none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.fidelity import (
    KINDS,
    Answer,
    AnswerFacts,
    FidelityTally,
    ReplyOracle,
    UpstreamError,
    check_chat_completion,
    check_chat_stream,
    check_completion,
    load_check,
    looks_like_error,
    stream_answer,
)
from mock_salesforce.replies import Reply, expected_reply, parse_lengths

CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hi there"}],
}
EXPECTED = Reply.of_text("pie bake oven", "stop", 3, 3, "official")


def chat_body(
    text: Any = "pie bake oven", finish: str = "stop", usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    usage = dict(usage) if usage is not None else {"prompt_tokens": 3, "completion_tokens": 3}
    if "total_tokens" not in usage:
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    choice = {"index": 0, "message": {"role": "assistant", "content": text}}
    return {"choices": [choice | {"finish_reason": finish}], "usage": usage}


def sse(*chunks: dict[str, Any], done: bool = True, ensure_ascii: bool = True) -> bytes:
    lines = [f"data: {json.dumps(c, ensure_ascii=ensure_ascii)}\n\n" for c in chunks]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def delta(content: str | None, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]}


def test_a_faithful_chat_completion_has_no_mismatch() -> None:
    assert check_chat_completion(CHAT_REQUEST, 200, chat_body(), EXPECTED) == ()


def test_a_faithful_answer_given_as_bytes_is_read_as_json() -> None:
    raw = json.dumps(chat_body()).encode()
    assert check_chat_completion(CHAT_REQUEST, 200, raw, EXPECTED) == ()


def test_different_text_is_wrong_content() -> None:
    body = chat_body("pie bake oven.")  # even a stripped or added character counts
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ("wrong_content",)


def test_a_different_finish_reason_is_wrong_content() -> None:
    body = chat_body(finish="length")
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ("wrong_content",)


@pytest.mark.parametrize("body", [{"choices": []}, chat_body(None), chat_body(""), b"not json"])
def test_a_200_without_text_is_missing_content(body: Any) -> None:
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ("missing_content",)


def test_an_error_message_as_completion_text_is_error_in_200() -> None:
    body = chat_body("Error: upstream returned status 500")
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ("error_in_200",)


def test_an_error_object_in_a_200_is_error_in_200() -> None:
    body = {"error": {"message": "rate limited", "type": "rate_limit"}}
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ("error_in_200",)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 3, "completion_tokens": 4},
        {"prompt_tokens": 2, "completion_tokens": 3},
        {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 7},
        {"prompt_tokens": "3", "completion_tokens": 3, "total_tokens": 6},
    ],
)
def test_usage_that_differs_from_the_upstream_is_a_usage_mismatch(usage: dict[str, Any]) -> None:
    body = chat_body(usage=usage)
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ("usage_mismatch",)


def test_missing_usage_is_a_usage_mismatch() -> None:
    body = chat_body()
    del body["usage"]
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ("usage_mismatch",)


def test_more_prompt_tokens_than_the_request_is_allowed_for_an_added_system_prompt() -> None:
    body = chat_body(usage={"prompt_tokens": 9, "completion_tokens": 3})
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ()


def test_wrong_text_and_wrong_usage_are_both_reported() -> None:
    body = chat_body("cake", usage={"prompt_tokens": 3, "completion_tokens": 1})
    kinds = check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED)
    assert kinds == ("wrong_content", "usage_mismatch")


@pytest.mark.parametrize("status", [0, None])
def test_no_http_answer_is_dropped(status: int | None) -> None:
    assert check_chat_completion(CHAT_REQUEST, status, None, EXPECTED) == ("dropped",)


def test_an_error_status_when_the_mock_answered_is_wrong_status() -> None:
    body = {"error": {"message": "bad gateway"}}
    assert check_chat_completion(CHAT_REQUEST, 502, body, EXPECTED) == ("wrong_status",)


def test_an_error_status_is_right_when_the_mock_sent_an_error() -> None:
    body = {"error": {"message": "upstream 503"}}
    assert check_chat_completion(CHAT_REQUEST, 503, body, None) == ()


def test_an_error_status_is_accepted_when_faults_were_injected_at_random() -> None:
    kinds = check_chat_completion(CHAT_REQUEST, 429, b"{}", EXPECTED, errors_allowed=True)
    assert kinds == ()


def test_a_redirect_status_is_never_a_right_answer() -> None:
    assert check_chat_completion(CHAT_REQUEST, 302, b"", None) == ("wrong_status",)


def test_a_200_where_the_mock_sent_an_error_is_wrong_status() -> None:
    assert check_chat_completion(CHAT_REQUEST, 200, chat_body(), None) == ("wrong_status",)


def test_a_200_hiding_an_upstream_error_in_its_text_is_error_in_200() -> None:
    body = chat_body("Upstream failure: 503 Service Unavailable")
    assert check_chat_completion(CHAT_REQUEST, 200, body, None) == ("error_in_200",)


def test_a_faithful_text_completion_has_no_mismatch() -> None:
    body: dict[str, Any] = {
        "choices": [{"index": 0, "text": "pie bake oven", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }
    assert check_completion({"prompt": "hi there"}, 200, body, EXPECTED) == ()
    body["choices"][0]["text"] = "pie"
    assert check_completion({"prompt": "hi there"}, 200, body, EXPECTED) == ("wrong_content",)


STREAM_REQUEST = CHAT_REQUEST | {"stream": True}


def test_a_faithful_stream_reassembles_to_the_mock_text() -> None:
    body = sse(delta("pie "), delta("bake "), delta("oven"), delta(None, "stop"))
    assert check_chat_completion(STREAM_REQUEST, 200, body, EXPECTED) == ()


def test_a_stream_cut_before_done_is_dropped() -> None:
    body = sse(delta("pie "), delta("bake "), done=False)
    assert check_chat_stream(STREAM_REQUEST, 200, body, EXPECTED) == ("dropped",)


def test_a_stream_with_altered_text_is_wrong_content() -> None:
    body = sse(delta("pie bake"), delta(None, "stop"))
    assert check_chat_stream(STREAM_REQUEST, 200, body, EXPECTED) == ("wrong_content",)


def test_a_stream_with_an_error_chunk_is_error_in_200() -> None:
    body = sse({"error": {"message": "upstream timeout"}})
    assert check_chat_stream(STREAM_REQUEST, 200, body, EXPECTED) == ("error_in_200",)


def test_a_stream_answered_with_a_plain_json_error_is_error_in_200() -> None:
    body = json.dumps({"error": {"message": "boom"}}).encode()
    assert check_chat_stream(STREAM_REQUEST, 200, body, EXPECTED) == ("error_in_200",)


def test_a_stream_answered_with_one_whole_json_completion_did_not_stream() -> None:
    assert check_chat_stream(STREAM_REQUEST, 200, chat_body(), EXPECTED) == ("not_streamed",)
    as_bytes = json.dumps(chat_body("pie")).encode()
    assert check_chat_stream(STREAM_REQUEST, 200, as_bytes, EXPECTED) == (
        "not_streamed", "wrong_content",
    )  # fmt: skip


def test_a_stream_of_raw_text_without_sse_framing_is_not_sse_with_its_text_judged() -> None:
    # R117: text/plain chunks of the reply's text, no `data:` events; not a connection cut.
    raw = b"pie bake oven"
    assert check_chat_stream(STREAM_REQUEST, 200, raw, EXPECTED) == ("not_sse",)
    asks_usage = STREAM_REQUEST | {"stream_options": {"include_usage": True}}
    assert check_chat_stream(asks_usage, 200, raw, EXPECTED) == ("not_sse",)
    assert check_chat_stream(STREAM_REQUEST, 200, b"pie bake", EXPECTED) == (
        "not_sse", "wrong_content",
    )  # fmt: skip
    assert check_chat_stream(STREAM_REQUEST, 200, b"", EXPECTED) == ("dropped",)
    assert not AnswerFacts.of(stream_answer(raw)).sse


def test_a_stream_whole_to_its_finish_reason_but_without_done_is_faithful_and_flagged() -> None:
    # R131: the OpenAI SDKs end a stream on its close; only [DONE] is missing.
    whole = sse(delta("pie bake"), delta(" oven", "stop"), done=False)
    assert check_chat_stream(STREAM_REQUEST, 200, whole, EXPECTED) == ()
    assert AnswerFacts.of(stream_answer(whole)).without_done
    assert not AnswerFacts.of(stream_answer(sse(delta("pie bake oven", "stop")))).without_done
    cut = sse(delta("pie bake"), done=False)  # no finish reason, no [DONE]: its end was lost
    assert check_chat_stream(STREAM_REQUEST, 200, cut, EXPECTED) == ("dropped",)


# R77: CRM text beyond ASCII, as the mock's replies carry it: an accent, a dash cp1252 maps
# differently from latin-1, CJK, an emoji beyond the BMP and a combining accent.
WORLD_TEXT = "Café — 東京都 go🚀 ne\u0301"
WORLD = Reply.of_text(WORLD_TEXT, "stop", 3, 3, "official")


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "raw-utf8"])
def test_text_beyond_ascii_is_faithful_escaped_or_as_raw_utf8(ensure_ascii: bool) -> None:
    raw = json.dumps(chat_body(WORLD_TEXT), ensure_ascii=ensure_ascii).encode()
    assert check_chat_completion(CHAT_REQUEST, 200, raw, WORLD) == ()
    stream = sse(delta(WORLD_TEXT[:5]), delta(WORLD_TEXT[5:], "stop"), ensure_ascii=ensure_ascii)
    assert check_chat_stream(STREAM_REQUEST, 200, stream, WORLD) == ()


@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
def test_the_upstreams_utf8_read_one_byte_a_character_is_mojibake(codec: str) -> None:
    text = "Café — été".encode().decode(codec)  # 'CafÃ© â€” Ã©tÃ©' in cp1252
    reply = Reply.of_text("Café — été", "stop", 3, 3, "official")
    assert check_chat_completion(CHAT_REQUEST, 200, chat_body(text), reply) == ("mojibake",)
    mangled = WORLD_TEXT.encode().decode("latin-1")
    assert check_chat_completion(CHAT_REQUEST, 200, chat_body(mangled), WORLD) == ("mojibake",)


def test_a_stream_rechunked_by_bytes_has_broken_characters() -> None:
    data = WORLD_TEXT.encode()
    pieces = [data[at : at + 4].decode("utf-8", "replace") for at in range(0, len(data), 4)]
    body = sse(*(delta(piece) for piece in pieces), delta(None, "stop"))
    assert check_chat_stream(STREAM_REQUEST, 200, body, WORLD) == ("broken_characters",)


def utf16_halves(text: str, at_unit: int) -> tuple[str, str]:
    """`text` cut after `at_unit` UTF-16 code units, as JS String.slice cuts it."""
    units = text.encode("utf-16-le", "surrogatepass")
    cut = 2 * at_unit
    return (units[:cut].decode("utf-16-le", "surrogatepass"),
            units[cut:].decode("utf-16-le", "surrogatepass"))  # fmt: skip


def test_a_stream_cut_inside_an_emoji_by_utf16_code_units_has_split_characters() -> None:
    inside_the_rocket = WORLD_TEXT.encode("utf-16-le").find("🚀".encode("utf-16-le")) // 2 + 1
    first, rest = utf16_halves(WORLD_TEXT, inside_the_rocket)
    body = sse(delta(first), delta(rest, "stop"))  # lone surrogate escapes, one per chunk
    assert b"\\ud83d" in body
    assert check_chat_stream(STREAM_REQUEST, 200, body, WORLD) == ("broken_characters",)
    facts = AnswerFacts.of(stream_answer(body))
    assert facts.split_characters and facts.broken_characters


def test_a_stream_cut_between_characters_has_no_split_characters() -> None:
    first, rest = utf16_halves(WORLD_TEXT, 4)
    facts = AnswerFacts.of(stream_answer(sse(delta(first), delta(rest, "stop"))))
    assert not facts.split_characters and not facts.broken_characters


def test_the_mocks_own_texts_never_read_as_mangled() -> None:
    for index in range(300):
        reply = expected_reply(
            index, "chat-generations", {"messages": [{"role": "user", "content": str(index)}]}
        )
        facts = AnswerFacts.of(Answer(reply.text, reply.finish_reason))
        assert not facts.mojibake and not facts.broken_characters, reply.text
        assert not facts.split_characters, reply.text


def test_stream_usage_is_checked_only_when_the_client_asked_for_it() -> None:
    wrong = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9}}
    body = sse(delta("pie bake oven", "stop"), wrong)
    assert check_chat_stream(STREAM_REQUEST, 200, body, EXPECTED) == ("usage_mismatch",)
    asks = STREAM_REQUEST | {"stream_options": {"include_usage": True}}
    no_usage = sse(delta("pie bake oven", "stop"))
    assert check_chat_stream(STREAM_REQUEST, 200, no_usage, EXPECTED) == ()
    assert check_chat_stream(asks, 200, no_usage, EXPECTED) == ("usage_mismatch",)


def test_the_oracle_agrees_with_the_mock_reply_for_the_last_user_message() -> None:
    oracle = ReplyOracle.from_mock_config(
        {"seed": 7, "reply_lengths": "lognormal:median=5,sigma=0"}
    )
    request = {"messages": [{"role": "system", "content": "be brief"}, *CHAT_REQUEST["messages"]]}
    reply = oracle.chat(request)
    direct = expected_reply(7, "chat-generations", {"messages": CHAT_REQUEST["messages"]})
    assert reply.completion_tokens == 5
    assert reply.text.split()[:1] != [] and reply.finish_reason == "stop"
    assert oracle.chat(CHAT_REQUEST).text == reply.text  # keyed on the last user message
    assert direct.text != reply.text  # the lengths setting changes the text
    assert oracle.completion({"prompt": "hi there"}).text != reply.text


@pytest.mark.parametrize(
    ("text", "is_error"),
    [
        ("Error: timeout", True),
        ("upstream returned HTTP 502", True),
        ("Traceback (most recent call last):", True),
        ("the pie is in the oven", False),
        ("a rate of 500 rows", False),
    ],
)
def test_error_looking_texts_are_recognised(text: str, is_error: bool) -> None:
    assert looks_like_error(text) is is_error


def test_the_tally_counts_checked_failed_and_each_kind() -> None:
    tally = FidelityTally()
    tally.add(())
    tally.add(("wrong_content", "usage_mismatch"), example="req 2")
    tally.add(("dropped",))
    assert (tally.checked, tally.failed, tally.faithful) == (3, 2, False)
    assert tally.counts["wrong_content"] == 1 and tally.counts["dropped"] == 1
    assert tally.examples == {
        "wrong_content": ["req 2"],
        "usage_mismatch": ["req 2"],
        "dropped": [],
    }


def test_tallies_merge_and_round_trip_through_a_dict() -> None:
    first, second = FidelityTally(), FidelityTally()
    first.add(("wrong_status",), example="a")
    second.add(("wrong_status",), example="b")
    second.add(())
    first.merge(FidelityTally.from_dict(json.loads(json.dumps(second.as_dict()))))
    assert (first.checked, first.failed, first.counts["wrong_status"]) == (3, 2, 2)
    assert first.examples["wrong_status"] == ["a", "b"]


def test_the_tally_becomes_one_count_series_per_kind() -> None:
    tally = FidelityTally()
    tally.add(("error_in_200",))
    series = {s.name: s for s in tally.as_series()}
    assert set(series) == {"fidelity_checked", *(f"fidelity_{k}" for k in KINDS)}
    assert series["fidelity_error_in_200"].values == (1.0,)
    assert series["fidelity_checked"].unit == "count"


def test_the_load_check_dispatches_chat_streams_and_completions_to_the_oracle() -> None:
    check = load_check({"seed": 3, "reply_lengths": "lognormal:median=4,sigma=0"})
    oracle = ReplyOracle(3, lengths=parse_lengths("lognormal:median=4,sigma=0"))
    reply = oracle.chat(CHAT_REQUEST)
    usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": 4}
    plain = chat_body(reply.text, usage=usage)
    assert check(CHAT_REQUEST, 200, plain) == ()
    streamed = sse(delta(reply.text, "stop"))
    assert check(CHAT_REQUEST | {"stream": True}, 200, streamed) == ()
    other = oracle.completion({"prompt": "hi there"})
    assert other.text != reply.text  # generations are keyed apart from chat
    completion = {
        "choices": [{"text": other.text, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": other.prompt_tokens, "completion_tokens": 4},
    }
    assert check({"prompt": "hi there"}, 200, completion) == ()


def test_the_load_check_accepts_errors_only_when_told_faults_are_on() -> None:
    assert load_check(3)(CHAT_REQUEST, 503, b"{}") == ("wrong_status",)
    assert load_check(3, errors_allowed=True)(CHAT_REQUEST, 503, b"{}") == ()


@pytest.mark.parametrize(
    ("upstream", "status", "kinds"),
    [(404, 404, ()), (404, 502, ("wrong_status",)), (429, 429, ()), (429, 503, ("wrong_status",)),
     (401, 401, ()), (500, 502, ()), (503, 504, ()), (0, 504, ()), (0, 500, ("wrong_status",)),
     (500, 400, ("wrong_status",)), (0, 200, ("wrong_status",))],
)  # fmt: skip
def test_an_upstream_error_must_come_back_with_a_fitting_status(
    upstream: int, status: int, kinds: tuple[str, ...]
) -> None:
    body = chat_body() if status == 200 else {"error": {"message": "upstream failed"}}
    assert check_chat_completion(CHAT_REQUEST, status, body, UpstreamError(upstream)) == kinds


def test_with_random_faults_any_error_status_is_accepted_for_an_upstream_error() -> None:
    body = {"error": {"message": "x"}}
    kinds = check_chat_completion(CHAT_REQUEST, 502, body, UpstreamError(404), errors_allowed=True)
    assert kinds == ()


@pytest.mark.parametrize(
    "body",
    [{"choices": {"0": "x"}}, {"choices": ["text"]}, {"choices": [{"message": "pie bake oven"}]},
     {"choices": [{"message": {"content": 42}}]}, [1, 2], "null", b"\xff\xfe", "",
     {"choices": [{"message": {"content": "pie bake oven"}, "finish_reason": "stop"}],
      "usage": ["3", "3"]}],
)  # fmt: skip
def test_odd_bodies_are_judged_without_crashing(body: Any) -> None:
    kinds = check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED)
    assert kinds and set(kinds) <= set(KINDS)


@pytest.mark.parametrize(
    "body",
    [b"data: not json\n\ndata: [DONE]\n\n", b"data: [1]\n\n", b"event: ping\n\n", b"",
     b"data: {\"choices\": [{\"delta\": \"pie\"}]}\n\ndata: [DONE]\n\n"],
)  # fmt: skip
def test_odd_streams_are_judged_without_crashing(body: bytes) -> None:
    kinds = check_chat_stream(STREAM_REQUEST, 200, body, EXPECTED)
    assert kinds and set(kinds) <= set(KINDS)


def test_a_null_error_field_in_a_success_body_is_no_error() -> None:
    body = chat_body() | {"error": None}
    assert check_chat_completion(CHAT_REQUEST, 200, body, EXPECTED) == ()


@pytest.mark.parametrize(
    ("status", "kinds", "error", "ok"),
    [(200, (), "", True), (200, ("usage_mismatch",), "", True),
     (200, ("wrong_content",), "", False), (200, (), "Timeout", False), (502, (), "", False)],
)  # fmt: skip
def test_ok_means_a_200_with_the_upstreams_answer_usage_aside(
    status: int, kinds: tuple[str, ...], error: str, ok: bool
) -> None:
    from harness.fidelity import answered

    assert answered(status, kinds, error) is ok
