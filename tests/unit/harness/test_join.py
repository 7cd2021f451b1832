"""The join of a load run's rows with the journal, and the fidelity judged on it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from harness.fidelity import AnswerFacts, ReplyFacts, ReplyOracle, UpstreamError
from harness.join import CACHE_HIT, OTHER_PROMPT, ReplyMemory, judge_rows, upstream_expected
from harness.runners.support.loadrows import Row
from mock_salesforce.journal import text_sha256

MARKER = "sfpm00000000000000a1"
TEXT = "pie bake oven"


def call(seq: int, marker: str = MARKER, **fields: Any) -> dict[str, Any]:
    """A journaled chat-generations call that delivered TEXT (3 prompt, 3 completion tokens)."""
    return {
        "seq": seq, "endpoint": "chat-generations", "markers": [marker], "status": 200,
        "fault": None, "disconnected": False, "t_s": float(seq), "duration_s": 0.1,
        "reply_sha256": text_sha256(TEXT), "finish_reason": "stop", "prompt_tokens": 3,
        "completion_tokens": 3,
    } | fields  # fmt: skip


def failed(seq: int, status: int, **fields: Any) -> dict[str, Any]:
    return call(seq, status=status, reply_sha256=None, finish_reason=None, prompt_tokens=None,
                completion_tokens=None, **fields)  # fmt: skip


def answered(text: str = TEXT, usage: tuple[int, int, int] | None = (3, 3, 6)) -> AnswerFacts:
    return AnswerFacts(text_sha256(text) if text else "", "stop", usage)


def row(
    status: int = 200, answer: AnswerFacts | None = None, marker: str = MARKER, prompt: str = "hi"
) -> Row:
    """A row as the child writes it: a request as sent (its prompt carries its marker), its
    answer's facts, not judged yet."""
    content = f"{prompt} (ref {marker})"
    request = json.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    )
    return Row("chat", 1.0, 1.0, 120.0, status, True, marker=marker,
               answer=answer or answered(), request=request)  # fmt: skip


def test_a_relayed_reply_to_a_rewritten_request_is_faithful_against_the_upstream() -> None:
    result = judge_rows([row()], [call(1, endpoint="generations")])
    assert result.rows[0].fidelity == () and result.rows[0].ok
    assert result.basis == {"upstream": 1, "predicted": 0, "unchecked": 0}


def test_usage_the_gateway_dropped_is_a_usage_mismatch_but_the_request_still_ok() -> None:
    result = judge_rows([row(answer=answered(usage=(0, 0, 0)))], [call(1)])
    # Usage has its own count and claim: the answer came back right, so the request is ok.
    assert result.rows[0].fidelity == ("usage_mismatch",) and result.rows[0].ok


def test_prompt_tokens_must_equal_the_upstreams_exactly() -> None:
    (judged,) = judge_rows([row(answer=answered(usage=(5, 3, 8)))], [call(1)]).rows
    assert judged.fidelity == ("usage_mismatch",)


def test_a_text_no_upstream_call_delivered_is_wrong_content() -> None:
    (judged,) = judge_rows([row(answer=answered("cake"))], [call(1)]).rows
    assert judged.fidelity == ("wrong_content",)


def test_a_retried_call_is_judged_on_the_reply_that_came_through() -> None:
    calls = [failed(1, 503, fault="503"), call(2)]
    (judged,) = judge_rows([row()], calls).rows
    assert judged.fidelity == ()


def test_an_error_status_fitting_the_upstreams_last_failure_is_faithful() -> None:
    calls = [failed(1, 503, fault="503"), failed(2, 503, fault="503")]
    (judged,) = judge_rows([row(502, AnswerFacts())], calls).rows
    assert judged.fidelity == () and not judged.ok  # faithful, but not a success
    (hidden,) = judge_rows([row(200, answered("Error: upstream 503"))], calls).rows
    assert hidden.fidelity == ("wrong_status",)


def test_a_broken_or_abandoned_reply_counts_as_no_answer_upstream() -> None:
    assert upstream_expected([failed(1, 200, fault="truncated")]) == UpstreamError(0)
    assert upstream_expected([failed(1, 0, fault="hang")]) == UpstreamError(0)
    assert upstream_expected([call(1)]) == (ReplyFacts(text_sha256(TEXT), "stop", 3, 3),)


def test_rows_no_call_carries_are_judged_against_the_reply_predicted_for_their_request() -> None:
    oracle = ReplyOracle(3)
    reply = oracle.chat(json.loads(row().request))
    usage = (reply.prompt_tokens, reply.completion_tokens, reply.total_tokens)
    faithful = row(answer=AnswerFacts(text_sha256(reply.text), reply.finish_reason, usage))
    unplaced = [faithful, row(), replace(row(marker=""), request="")]
    elsewhere = call(1, marker="sfpm00000000000000ff", reply_sha256=text_sha256("elsewhere"))
    result = judge_rows(unplaced, [elsewhere], oracle)
    assert [r.fidelity[:1] for r in result.rows] == [(), ("wrong_content",), ()]
    assert result.basis == {"upstream": 0, "predicted": 2, "unchecked": 1}
    assert judge_rows(unplaced, None).basis == {"upstream": 0, "predicted": 0, "unchecked": 3}


def test_random_faults_excuse_an_error_status_only_where_the_journal_cannot_say() -> None:
    faulty = replace(row(503, AnswerFacts()), errors_allowed=True)
    (predicted,) = judge_rows([faulty], [], ReplyOracle(3)).rows
    assert predicted.fidelity == ()
    (joined,) = judge_rows([faulty], [call(1)]).rows
    assert joined.fidelity == ("wrong_status",)  # the upstream answered: a 503 is wrong


def test_token_requests_and_calls_of_other_requests_are_not_joined() -> None:
    calls = [call(1, endpoint="token"), call(2, marker="sfpm00000000000000b2"), call(3)]
    result = judge_rows([row()], calls)
    assert [c["seq"] for c in result.joined[0].calls] == [3]


OTHER = "sfpm00000000000000b2"
OTHER_TEXT = "tart crust filling sugar"


def test_two_requests_answered_with_each_others_replies_are_crossed_not_wrong_content() -> None:
    # Cross-talk: each client got the reply the upstream gave the other request.
    calls = [call(1), call(2, marker=OTHER, reply_sha256=text_sha256(OTHER_TEXT),
                          completion_tokens=4)]  # fmt: skip
    # The first got the other's reply whole; the second its text, with its own request's usage.
    swapped = [row(answer=answered(OTHER_TEXT, (3, 4, 7))),
               row(answer=answered(TEXT, (3, 4, 7)), marker=OTHER)]  # fmt: skip
    first, second = judge_rows(swapped, calls).rows
    # Usage is judged against the reply the text came from: passed on whole, no mismatch.
    assert first.fidelity == ("crossed",) and not first.ok
    assert second.fidelity == ("crossed", "usage_mismatch") and not second.ok


def test_a_reply_served_without_an_upstream_call_is_crossed_when_another_prompt_got_it() -> None:
    # A cache keyed on too little: the second request never went upstream, and got the answer
    # to another question.
    rows = [row(prompt="Summarise case #12"), row(marker=OTHER, prompt="Summarise case #37")]
    result = judge_rows(rows, [call(1)], ReplyOracle(3))
    assert [r.fidelity for r in result.rows] == [(), ("crossed",)]
    assert result.reuse == ("", OTHER_PROMPT)


def test_a_reply_without_a_journaled_call_that_is_its_own_prompts_reply_is_not_crossed() -> None:
    # The mock cuts every reply from one word stream, so two prompts can get the same text; a
    # window past the journal's 10,000 entries has rows whose calls it lost. Such a row, right
    # for its own prompt, was called "crossed" (a leak) for the text another prompt also got.
    oracle = ReplyOracle(3)
    own, other = row(prompt="Summarise case #12"), row(marker=OTHER, prompt="Summarise case #37")
    reply = oracle.chat(json.loads(own.request))
    text, usage = text_sha256(reply.text), (reply.prompt_tokens, reply.completion_tokens)
    shared = call(1, marker=OTHER, reply_sha256=text, prompt_tokens=usage[0],
                  completion_tokens=usage[1])  # fmt: skip
    own = replace(own, answer=AnswerFacts(text, reply.finish_reason, (*usage, sum(usage))))
    result = judge_rows([own, other], [shared], oracle)
    assert result.rows[0].fidelity == () and result.rows[0].ok
    assert result.reuse[0] == "" and result.basis["predicted"] == 1
    # Without the mock's word on its own reply, the same row is still another prompt's reply.
    assert judge_rows([own, other], [shared]).rows[0].fidelity == ("crossed",)


def test_the_upstreams_reply_to_the_same_prompt_without_a_call_is_a_cache_hit_and_ok() -> None:
    # The same prompt, markers aside: a reply cache answered it; nothing is wrong with that.
    result = judge_rows([row(), row(marker=OTHER)], [call(1)], ReplyOracle(3))
    assert [(r.fidelity, r.ok) for r in result.rows] == [((), True), ((), True)]
    assert result.reuse == ("", CACHE_HIT)
    # Both judged against what the upstream really sent: the hit against the earlier reply.
    assert result.basis == {"upstream": 2, "predicted": 0, "unchecked": 0}


def test_a_cache_hit_on_a_reply_of_an_earlier_window_is_found_in_the_targets_memory() -> None:
    memory = ReplyMemory()
    memory.remember([row()], [call(1)])
    # The next window's request made no call; the reply it got is the earlier window's.
    (later,) = judge_rows([row(marker=OTHER)], [], ReplyOracle(3), memory).rows
    (unaided,) = judge_rows([row(marker=OTHER)], [], ReplyOracle(3)).rows
    assert later.fidelity == () and later.ok
    assert unaided.fidelity[:1] == ("wrong_content",)


def test_a_request_that_made_its_own_call_but_got_anothers_reply_is_crossed_even_on_one_prompt(
) -> None:  # fmt: skip
    # A race between two clients asking the same thing: each called, one got the other's reply.
    calls = [call(1), call(2, marker=OTHER, reply_sha256=text_sha256(OTHER_TEXT))]
    result = judge_rows([row(), row(marker=OTHER)], calls)
    assert result.rows[1].fidelity[:1] == ("crossed",) and result.reuse == ("", "")


def test_a_reply_of_its_own_with_a_wrong_finish_reason_or_of_no_request_is_not_crossed() -> None:
    cut = replace(answered(), finish_reason="length")
    (own,) = judge_rows([row(answer=cut)], [call(1)]).rows
    unmarked = call(2, marker=OTHER, markers=[], reply_sha256=text_sha256("probe"))
    (stray,) = judge_rows([row(answer=answered("probe"))], [call(1), unmarked]).rows
    assert own.fidelity == ("wrong_content",) and stray.fidelity[:1] == ("wrong_content",)
