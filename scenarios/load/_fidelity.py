"""What the load users keep of every reply: its facts, for the load runner to judge.

A reply is read once, in the locust child, into `AnswerFacts` (`harness.fidelity.answer_facts`:
text digest, finish reason, usage, a few flags); the load runner judges them after the run
against what the upstream really sent for that request (`harness.join`), or, for a request the
journal cannot place, against the reply predicted from the request as sent. The child judges
nothing: it only measures.
"""

from __future__ import annotations

from harness.fidelity import AnswerFacts
from harness.fidelity import answer_facts as read_answer

__all__ = ["read_answer", "readable"]


def readable(answer: AnswerFacts) -> bool:
    """A 200's answer that holds text, is whole and came in the form asked (a stream when one
    was asked for): what the child counts as ok until judged."""
    return bool(answer.text_sha256) and answer.complete and answer.streamed and not answer.error
