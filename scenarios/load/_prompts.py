"""Request bodies for the load scenarios: varied, seeded chat prompts, each with its marker.

Replies from the mock depend on the request content, so varied prompts give varied reply
lengths; a seeded generator keeps a run reproducible. Every prompt carries a marker
(`mock_salesforce.markers`), so each one is new and the mock's journal names the upstream calls a
gateway made for it, however the gateway rewrote it (`harness.join`). A third of the requests
also carry the sampling fields real OpenAI clients send (`CLIENT_FIELDS`: the SDKs, LangChain and
chat UIs set them), so a gateway that breaks on them, or forwards them where the Models API
ignores them, shows; the mock's reply never depends on them. A third name a customer beyond ASCII
(`CUSTOMERS`: accents, CJK, Hangul, Greek, Cyrillic, an emoji beyond the BMP, a combining
accent), as CRM text does, and half of all bodies go out as raw UTF-8 (`wire_text`), the other
half with `\\u` escapes (a surrogate pair for the emoji), both as real clients send them. Half
the streamed requests ask for usage in the stream (`STREAM_USAGE`), as the OpenAI SDK's and
LangChain's token accounting do, so a gateway that never sends it on a stream shows.
"""

from __future__ import annotations

import json
import random
from typing import Any

from mock_salesforce.markers import new_marker

SYSTEM_TEXT = "You are a concise CRM assistant."
_TOPICS = ("an account", "a renewal", "a support case", "an opportunity", "a lead", "a contract")
_ASKS = ("Summarise", "Draft a reply about", "List the risks of", "Explain the status of")
_NUMBERS = 50
# What a third of the requests carry besides the messages. max_tokens is above any reply the
# mock gives (512 tokens at most), so a gateway that honours it never has to cut one.
CLIENT_FIELDS = {"max_tokens": 1024, "temperature": 0.7, "top_p": 1.0}
# What half the streamed requests carry: a stream without usage leaves the client's token
# accounting blind (R119).
STREAM_USAGE = {"stream_options": {"include_usage": True}}
# Customers a third of the prompts name (R77): every UTF-8 width and a combining accent.
CUSTOMERS = (
    "Zoë Ångström", "Café Müller GmbH", "東京支店", "김민준", "São Paulo 🚀", "Beyonce\u0301",
    "Ελληνικά ΑΕ", "ООО Ромашка",
)  # fmt: skip


def messages(
    ask: str, topic: str, number: int, marker: str, customer: str = ""
) -> list[dict[str, str]]:
    """The system prompt and one user message that carries `marker` (and names `customer`)."""
    named = f" for {customer}" if customer else ""
    return [
        {"role": "system", "content": SYSTEM_TEXT},
        {"role": "user", "content": f"{ask} {topic}{named} #{number}. (ref {marker})"},
    ]


def chat_body(rng: random.Random, model: str, stream: bool) -> tuple[dict[str, Any], str]:
    """An OpenAI chat completion request with a system prompt and one varied, marked user
    message (a third of them with `CLIENT_FIELDS`, a third naming one of `CUSTOMERS`, half the
    streamed ones with `STREAM_USAGE`); and its marker."""
    marker = new_marker(rng)
    # Fields and customer from the marker's digits, not drawn: the prompts drawn stay the same.
    named = int(marker[-2], 16) % 3 == 0
    customer = CUSTOMERS[int(marker[-5], 16) % len(CUSTOMERS)] if named else ""
    ask, topic, number = rng.choice(_ASKS), rng.choice(_TOPICS), rng.randrange(_NUMBERS)
    chosen = messages(ask, topic, number, marker, customer)
    body: dict[str, Any] = {"model": model, "messages": chosen}
    if int(marker[-1], 16) % 3 == 0:
        body |= CLIENT_FIELDS
    if stream:
        body["stream"] = True
        if int(marker[-4], 16) % 2 == 0:
            body |= STREAM_USAGE
    return body, marker


def wire_text(body: dict[str, Any], marker: str) -> str:
    """The JSON text a body goes out as: compact, beyond ASCII raw (as httpx, the OpenAI SDK and
    JavaScript clients write it) for half the markers, `\\u`-escaped (Python's json, requests)
    for the other half."""
    raw = int(marker[-3], 16) % 2 == 0
    return json.dumps(body, separators=(",", ":"), ensure_ascii=not raw)
