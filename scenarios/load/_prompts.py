"""Request bodies for the load scenarios: varied, seeded chat prompts.

Replies from the mock depend on the request content, so varied prompts give varied reply
lengths; a seeded generator keeps a run reproducible. There are `PROMPT_VARIANTS` distinct
prompts: few enough that the expected replies of the fidelity check stay in their cache (the
check then costs the load generator microseconds, not a reply computation per request), many
enough that a target caching responses sees mostly misses in a short run.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

_TOPICS = ("an account", "a renewal", "a support case", "an opportunity", "a lead", "a contract")
_ASKS = ("Summarise", "Draft a reply about", "List the risks of", "Explain the status of")
_NUMBERS = 50
PROMPT_VARIANTS = len(_TOPICS) * len(_ASKS) * _NUMBERS  # 1,200: computed once, then cached


def messages(ask: str, topic: str, number: int) -> list[dict[str, str]]:
    """The messages of one prompt variant."""
    return [
        {"role": "system", "content": "You are a concise CRM assistant."},
        {"role": "user", "content": f"{ask} {topic} #{number}."},
    ]


def all_messages() -> Iterator[list[dict[str, str]]]:
    """Every prompt variant once (to compute their expected replies ahead of a run)."""
    for ask, topic, number in itertools.product(_ASKS, _TOPICS, range(_NUMBERS)):
        yield messages(ask, topic, number)


def chat_body(rng: random.Random, model: str, stream: bool) -> dict[str, Any]:
    """An OpenAI chat completion request with a system prompt and one varied user message."""
    chosen = messages(rng.choice(_ASKS), rng.choice(_TOPICS), rng.randrange(_NUMBERS))
    body: dict[str, Any] = {"model": model, "messages": chosen}
    if stream:
        body["stream"] = True
    return body
