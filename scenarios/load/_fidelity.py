"""What the load users keep of every reply, and the check they can make on it at once.

A reply is read once, in the locust child, into `AnswerFacts` (text digest, finish reason,
usage): what the load runner judges after the run against what the upstream really sent for
that request (`harness.join`). The child also checks each reply against the reply predicted
from the client's request, the fallback verdict for a request the journal cannot place (no
journal, or no upstream call carried its marker); with no mock known, nothing is checked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from harness.fidelity import (
    AnswerFacts,
    ReplyFacts,
    ReplyOracle,
    chat_answer,
    judge,
    stream_answer,
)
from mock_salesforce.admin_client import AdminClient

# (request body, HTTP status (0: no reply), the answer's facts) -> mismatch kinds
FidelityCheck = Callable[[dict[str, Any], int, AnswerFacts], tuple[str, ...]]


def read_answer(body: Mapping[str, Any], status: int, payload: bytes) -> AnswerFacts:
    """The facts of one reply (JSON, or the SSE stream as received); empty facts for a reply
    that is not a 200, whose body is never judged as an answer."""
    if status != 200:
        return AnswerFacts()
    if not body.get("stream"):
        return AnswerFacts.of(chat_answer(payload))
    options = body.get("stream_options")
    asked = isinstance(options, Mapping) and bool(options.get("include_usage"))
    return AnswerFacts.of(stream_answer(payload), usage_asked=asked)


def no_check(body: dict[str, Any], status: int, answer: AnswerFacts) -> tuple[str, ...]:
    """Used when the mock behind the target is unknown: nothing can be compared."""
    return ()


@functools.lru_cache(maxsize=4)
def oracle_for(mock_url: str, timeout_s: float = 10.0) -> ReplyOracle:
    """The mock's expected replies, from its config in force (`GET /__admin/config`), once."""
    return ReplyOracle.from_mock_config(AdminClient(mock_url, timeout_s=timeout_s).config())


def build_check(mock_url: str, errors_allowed: bool) -> FidelityCheck:
    """The check against the reply predicted by the mock at `mock_url` (`no_check` when empty).

    `errors_allowed`: the mock injects faults at random, so an error status is a right answer.
    """
    if not mock_url:
        return no_check
    oracle = oracle_for(mock_url)

    def check(body: dict[str, Any], status: int, answer: AnswerFacts) -> tuple[str, ...]:
        expected = ReplyFacts.predicted(oracle.chat(body))
        return judge(status, answer, expected, errors_allowed=errors_allowed)

    return check
