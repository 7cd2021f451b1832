"""The fidelity check the load users run on every reply (a thin seam over `harness.fidelity`).

The mock's reply is a pure function of its config (seed, reply lengths, shape mix) and the
request content, so with the mock behind the target known, each reply seen through the target
is compared with what the mock sent for it. With no mock known, nothing is checked.
"""

from __future__ import annotations

import functools
import json
import urllib.request
from collections.abc import Callable
from typing import Any

from harness.fidelity import ReplyOracle, check_chat_completion
from mock_salesforce.replies import Reply

# (request body, HTTP status (0: no reply), raw body (JSON, or the SSE stream)) -> mismatch kinds
FidelityCheck = Callable[[dict[str, Any], int, bytes], tuple[str, ...]]


def no_check(body: dict[str, Any], status: int, payload: bytes) -> tuple[str, ...]:
    """Used when the mock behind the target is unknown: nothing can be compared."""
    return ()


@functools.lru_cache(maxsize=4)
def oracle_for(mock_url: str, timeout_s: float = 10.0) -> ReplyOracle:
    """The mock's expected replies, from its config in force (`GET /__admin/config`), once."""
    with urllib.request.urlopen(mock_url.rstrip("/") + "/__admin/config", timeout=timeout_s) as r:
        return ReplyOracle.from_mock_config(json.loads(r.read()))


def build_check(mock_url: str, errors_allowed: bool) -> FidelityCheck:
    """The check against the mock at `mock_url` (`no_check` when empty).

    `errors_allowed`: the mock injects faults at random, so an error status is a right answer.
    """
    if not mock_url:
        return no_check
    oracle = oracle_for(mock_url)

    # Prompts repeat (see _prompts.PROMPT_VARIANTS): remember each expected reply, so the load
    # generator pays a dictionary lookup per request, not a reply computation.
    @functools.lru_cache(maxsize=16_384)
    def expected(messages: tuple[tuple[str, str], ...]) -> Reply:
        return oracle.chat({"messages": [{"role": r, "content": c} for r, c in messages]})

    def check(body: dict[str, Any], status: int, payload: bytes) -> tuple[str, ...]:
        key = tuple((str(m.get("role")), str(m.get("content"))) for m in body["messages"])
        return check_chat_completion(
            body, status, payload, expected(key), errors_allowed=errors_allowed
        )

    return check
