"""What the load users keep of every reply: its facts, for the load runner to judge.

A reply is read once, in the locust child, into `AnswerFacts` (text digest, finish reason,
usage, a few flags); the load runner judges them after the run against what the upstream really
sent for that request (`harness.join`), or, for a request the journal cannot place, against the
reply predicted from the request as sent. The child judges nothing: it only measures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.fidelity import AnswerFacts, chat_answer, stream_answer


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


def readable(answer: AnswerFacts) -> bool:
    """A 200's answer that holds text and is whole: what the child counts as ok until judged."""
    return bool(answer.text_sha256) and answer.complete and not answer.error
