"""A sweep window's replies judged through the join: verdicts reach the samples they belong to."""

from __future__ import annotations

import email.utils
import json
from typing import Any

import pytest

import harness.runners.support.sweepjoin as sweepjoin
from harness.fidelity import ReplyOracle
from harness.runners.support.closedloop import NO_REPLY, Sample, Window
from harness.runners.support.sweepjoin import FaultFlags, WindowJudge, exchange_row, with_verdicts
from harness.runners.support.sweepsubjects import (
    Exchange,
    HttpWindow,
    marker_of,
    messages,
    retry_after_s,
)
from mock_salesforce.journal import text_sha256

ORACLE = ReplyOracle(2)


def reply(n: int, text: str | None = None, usage: tuple[int, int] | None = None) -> bytes:
    """A gateway's reply to prompt `n`: the mock's (predicted) text and usage unless given."""
    expected = ORACLE.chat({"messages": messages(n)})
    prompt, completion = usage or (expected.prompt_tokens, expected.completion_tokens)
    choice = {"message": {"content": text or expected.text}, "finish_reason": "stop"}
    usage_doc = {"prompt_tokens": prompt, "completion_tokens": completion}
    return json.dumps({"choices": [choice | {"finish_reason": expected.finish_reason}],
                       "usage": usage_doc}).encode()  # fmt: skip


def exchange(n: int, status: int = 200, body: bytes | None = None) -> Exchange:
    request = {"model": "gpt-4o-mini", "messages": messages(n)}
    return Exchange(request, status, reply(n) if body is None else body)


def test_a_kept_exchange_becomes_a_row_with_its_marker_facts_and_request() -> None:
    row = exchange_row(exchange(7))
    assert row.marker == marker_of(7) and row.ok
    assert row.answer is not None and row.answer.text_sha256
    assert json.loads(row.request)["messages"] == messages(7)


def test_verdicts_reach_the_samples_whose_replies_they_judged() -> None:
    samples = (
        Sample(0.1, 5.0, True, status=200, tag=0),
        Sample(0.2, 5.0, True, status=200, tag=1),
        Sample(0.3, 5.0, True, status=200),  # its reply was not kept: status alone
        Sample(0.4, 5.0, False, status=NO_REPLY, tag=1),
    )
    judged = with_verdicts(Window(samples, 1.0, 1), [True, False])
    assert [s.ok for s in judged.samples] == [True, False, True, False]


def test_the_judge_joins_the_journal_predicts_the_rest_and_counts_lost_requests_as_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = ORACLE.chat({"messages": messages(1)})
    upstream: dict[str, Any] = {
        "seq": 5, "endpoint": "chat-generations", "markers": [marker_of(1)], "status": 200,
        "fault": None, "disconnected": False, "reply_sha256": text_sha256(expected.text),
        "finish_reason": expected.finish_reason, "prompt_tokens": expected.prompt_tokens,
        "completion_tokens": expected.completion_tokens,
    }  # fmt: skip
    monkeypatch.setattr(sweepjoin, "journal_since", lambda url, since: ((upstream,), False))
    monkeypatch.setattr(sweepjoin, "journal_position", lambda url: 4)
    monkeypatch.setattr(sweepjoin, "fetch_oracle", lambda url: ORACLE)
    exchanges = (exchange(1), exchange(2, body=reply(2, "something else")),
                 exchange(3, body=reply(3, usage=(0, 0))))  # fmt: skip
    samples = tuple(Sample(0.1 * i, 5.0, True, status=200, tag=i) for i in range(3))
    judge = WindowJudge("http://mock")
    judge.start()
    window, tally = judge.judge(HttpWindow(Window(samples, 1.0, errors=2), exchanges))
    # Usage alone is a defect of its own, not a failed request (one definition of ok).
    assert [s.ok for s in window.samples] == [True, False, True]
    assert tally.counts["wrong_content"] == 1 and tally.counts["usage_mismatch"] == 1
    assert tally.counts["dropped"] == 2 and tally.checked == 5


def test_a_request_whose_call_met_the_mocks_injected_fault_is_flagged_and_not_tallied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # review7 B6: behind `sfperf mock --fault 500:p=0.5` the sweep blamed the gateway.
    faulted: dict[str, Any] = {
        "seq": 5, "endpoint": "chat-generations", "markers": [marker_of(1)], "status": 500,
        "fault": "500", "disconnected": False,
    }  # fmt: skip
    monkeypatch.setattr(sweepjoin, "journal_since", lambda url, since: ((faulted,), False))
    monkeypatch.setattr(sweepjoin, "journal_position", lambda url: 4)
    monkeypatch.setattr(sweepjoin, "fetch_oracle", lambda url: ORACLE)
    relayed = json.dumps({"error": {"message": "upstream 500"}}).encode()
    # A 500 relayed as 500 (not 502) would be wrong_status; after the mock's own fault, it is
    # the mock's failure passed on. The 429 the upstream never sent is the subject's own.
    exchanges = (exchange(1, 500, relayed), exchange(2), exchange(3, 429, relayed))
    samples = tuple(Sample(0.1 * (i + 1), 5.0, e.status == 200, status=e.status, tag=i)
                    for i, e in enumerate(exchanges))  # fmt: skip
    judge = WindowJudge("http://mock")
    judge.start()
    window, tally = judge.judge(HttpWindow(Window(samples, 1.0, 0), exchanges))
    assert [(s.ok, s.met_fault) for s in window.samples] == [
        (False, True), (True, False), (False, False)]  # fmt: skip
    assert tally.checked == 2 and tally.counts["wrong_status"] == 1


def test_the_ceilings_requests_that_met_the_mocks_fault_are_flagged_without_judging_replies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faulted = {"seq": 5, "endpoint": "chat-generations", "markers": [marker_of(2)],
               "status": 500, "fault": "500"}  # fmt: skip
    monkeypatch.setattr(sweepjoin, "journal_since", lambda url, since: ((faulted,), False))
    monkeypatch.setattr(sweepjoin, "journal_position", lambda url: 4)
    # The mock's own Models API replies, which an OpenAI answer's judge would call empty.
    exchanges = (exchange(1, body=b'{"generation": {}}'), exchange(2, 500, b"{}"))
    samples = (
        Sample(0.1, 5.0, True, status=200, tag=0),
        Sample(0.2, 5.0, False, status=500, tag=1),
    )
    flags = FaultFlags("http://mock")
    flags.start()
    window = flags.flag(HttpWindow(Window(samples, 1.0, 0), exchanges))
    assert [(s.ok, s.met_fault) for s in window.samples] == [(True, False), (False, True)]


def test_every_third_sweep_prompt_names_a_customer_beyond_ascii_and_keeps_its_marker() -> None:
    # R77: ASCII prompts only could not see a gateway mangle UTF-8 on its way up.
    contents = [messages(n)[0]["content"] for n in range(9)]
    assert [not c.isascii() for c in contents] == [True, False, False] * 3
    assert all(marker_of(n) in content for n, content in enumerate(contents))


def test_retry_after_is_read_as_seconds_or_a_date_on_429_and_503_only() -> None:
    now_s = 1_700_000_000.0
    date = email.utils.formatdate(now_s + 30, usegmt=True)
    assert retry_after_s(429, "1", now_s) == 1.0
    assert retry_after_s(503, date, now_s) == pytest.approx(30.0)
    assert retry_after_s(429, "soon", now_s) == retry_after_s(429, None, now_s) == 0.0
    assert retry_after_s(500, "1", now_s) == 0.0  # a 500's header asks nothing of a client
