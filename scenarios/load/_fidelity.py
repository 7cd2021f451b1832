"""The fidelity check the load users run on every reply (a thin seam over `harness.fidelity`).

The mock's reply is a pure function of its config (seed, reply lengths, shape mix) and the
request content, so with the mock behind the target known, each reply seen through the target
is compared with what the mock sent for it. With no mock known, nothing is checked.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from harness.fidelity import ReplyOracle, check_chat_completion
from mock_salesforce.admin_client import AdminClient
from mock_salesforce.replies import Reply
from scenarios.load._prompts import all_messages

# (request body, HTTP status (0: no reply), raw body (JSON, or the SSE stream)) -> mismatch kinds
FidelityCheck = Callable[[dict[str, Any], int, bytes], tuple[str, ...]]


def no_check(body: dict[str, Any], status: int, payload: bytes) -> tuple[str, ...]:
    """Used when the mock behind the target is unknown: nothing can be compared."""
    return ()


@functools.lru_cache(maxsize=4)
def oracle_for(mock_url: str, timeout_s: float = 10.0) -> ReplyOracle:
    """The mock's expected replies, from its config in force (`GET /__admin/config`), once."""
    return ReplyOracle.from_mock_config(AdminClient(mock_url, timeout_s=timeout_s).config())


MessagesKey = tuple[tuple[str, str], ...]


def key_of(messages: list[dict[str, Any]]) -> MessagesKey:
    return tuple((str(m.get("role")), str(m.get("content"))) for m in messages)


@functools.lru_cache(maxsize=4)
def expectations(mock_url: str) -> Callable[[MessagesKey], Reply]:
    """The mock's expected reply per request messages, remembered.

    Prompts repeat (see `_prompts.PROMPT_VARIANTS`), so the load generator pays a dictionary
    lookup per request, not a reply computation.
    """
    oracle = oracle_for(mock_url)

    @functools.lru_cache(maxsize=16_384)
    def expected(key: MessagesKey) -> Reply:
        return oracle.chat({"messages": [{"role": r, "content": c} for r, c in key]})

    return expected


def warm_up(mock_url: str) -> None:
    """Compute the expected reply of every prompt variant now, before the load starts."""
    expected = expectations(mock_url)
    for messages in all_messages():
        expected(key_of(messages))


def build_check(mock_url: str, errors_allowed: bool) -> FidelityCheck:
    """The check against the mock at `mock_url` (`no_check` when empty).

    `errors_allowed`: the mock injects faults at random, so an error status is a right answer.
    """
    if not mock_url:
        return no_check
    expected = expectations(mock_url)

    def check(body: dict[str, Any], status: int, payload: bytes) -> tuple[str, ...]:
        reply = expected(key_of(body["messages"]))
        if status != 200 or body.get("stream"):
            return check_chat_completion(
                body, status, payload, reply, errors_allowed=errors_allowed
            )
        try:
            document = json.loads(payload)
        except ValueError:
            document = None
        if plainly_faithful(document, reply):
            return ()
        return check_chat_completion(body, status, document, reply, errors_allowed=errors_allowed)

    return check


def plainly_faithful(document: Any, expected: Reply) -> bool:
    """The common case, decided fast: a 200 body with exactly the mock's text and usage.

    Only ever answers True where `harness.fidelity.check_chat_completion` finds nothing wrong
    (stricter on types); anything else goes to that check, which names what is wrong.
    """
    if not isinstance(document, dict) or document.get("error") not in (None, "", {}, []):
        return False
    choices = document.get("choices")
    if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
        return False
    message, usage = choices[0].get("message"), document.get("usage")
    if not (isinstance(message, dict) and isinstance(usage, dict) and expected.text):
        return False
    if message.get("content") != expected.text:
        return False
    if choices[0].get("finish_reason") != expected.finish_reason:
        return False
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (
        type(prompt) is int
        and type(completion) is int
        and completion == expected.completion_tokens
        and prompt >= expected.prompt_tokens
        and usage.get("total_tokens", prompt + completion) == prompt + completion
    )
