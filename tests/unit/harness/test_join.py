"""The join of a load run's rows with the journal, and the fidelity judged on it."""

from __future__ import annotations

from typing import Any

from harness.fidelity import AnswerFacts, ReplyFacts, UpstreamError
from harness.join import judge_rows, upstream_expected
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


def row(status: int = 200, answer: AnswerFacts | None = None, marker: str = MARKER) -> Row:
    """A row the child judged wrong_content against its prediction."""
    return Row("chat", 1.0, 1.0, 120.0, status, False, fidelity=("wrong_content",),
               marker=marker, answer=answer or answered())  # fmt: skip


def test_a_relayed_reply_to_a_rewritten_request_is_faithful_against_the_upstream() -> None:
    result = judge_rows([row()], [call(1, endpoint="generations")], checked=True)
    assert result.rows[0].fidelity == () and result.rows[0].ok
    assert result.basis == {"upstream": 1, "predicted": 0, "unchecked": 0}


def test_usage_the_gateway_dropped_is_a_usage_mismatch_against_the_upstream() -> None:
    result = judge_rows([row(answer=answered(usage=(0, 0, 0)))], [call(1)], checked=True)
    assert result.rows[0].fidelity == ("usage_mismatch",) and not result.rows[0].ok


def test_prompt_tokens_must_equal_the_upstreams_exactly() -> None:
    (judged,) = judge_rows([row(answer=answered(usage=(5, 3, 8)))], [call(1)], checked=True).rows
    assert judged.fidelity == ("usage_mismatch",)


def test_a_text_no_upstream_call_delivered_is_wrong_content() -> None:
    (judged,) = judge_rows([row(answer=answered("cake"))], [call(1)], checked=True).rows
    assert judged.fidelity == ("wrong_content",)


def test_a_retried_call_is_judged_on_the_reply_that_came_through() -> None:
    calls = [failed(1, 503, fault="503"), call(2)]
    (judged,) = judge_rows([row()], calls, checked=True).rows
    assert judged.fidelity == ()


def test_an_error_status_fitting_the_upstreams_last_failure_is_faithful() -> None:
    calls = [failed(1, 503, fault="503"), failed(2, 503, fault="503")]
    (judged,) = judge_rows([row(502, AnswerFacts())], calls, checked=True).rows
    assert judged.fidelity == () and not judged.ok  # faithful, but not a success
    (hidden,) = judge_rows([row(200, answered("Error: upstream 503"))], calls, checked=True).rows
    assert hidden.fidelity == ("wrong_status",)


def test_a_broken_or_abandoned_reply_counts_as_no_answer_upstream() -> None:
    assert upstream_expected([failed(1, 200, fault="truncated")]) == UpstreamError(0)
    assert upstream_expected([failed(1, 0, fault="hang")]) == UpstreamError(0)
    assert upstream_expected([call(1)]) == (ReplyFacts(text_sha256(TEXT), "stop", 3, 3),)


def test_rows_no_call_carries_keep_the_childs_predicted_verdict() -> None:
    rows = [row(marker="sfpm00000000000000ff"), row(marker="")]
    result = judge_rows(rows, [call(1)], checked=True)
    assert [r.fidelity for r in result.rows] == [("wrong_content",)] * 2
    assert result.basis == {"upstream": 0, "predicted": 2, "unchecked": 0}
    assert judge_rows(rows, None, checked=False).basis["unchecked"] == 2


def test_token_requests_and_calls_of_other_requests_are_not_joined() -> None:
    calls = [call(1, endpoint="token"), call(2, marker="sfpm00000000000000b2"), call(3)]
    result = judge_rows([row()], calls, checked=True)
    assert [c["seq"] for c in result.joined[0].calls] == [3]
