"""Turn a `Reply` into response bytes in its shape (the hot path: precompiled templates)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from mock_salesforce.corpus import encode_text
from mock_salesforce.exchange import Exchange, new_uuid
from mock_salesforce.replies import Reply, embeddings_json
from mock_salesforce.state import MockState

# What the provider reports as `model` for a Models API name (by name fragment, first match).
_PROVIDER_MODELS = (
    ("GPT4OmniMini", "gpt-4o-mini-2024-07-18"),
    ("GPT4Omni", "gpt-4o-2024-08-06"),
    ("GPT41Mini", "gpt-4.1-mini-2025-04-14"),
    ("GPT41", "gpt-4.1-2025-04-14"),
    ("GPT5Mini", "gpt-5-mini-2025-08-07"),
    ("GPT", "gpt-4o-mini-2024-07-18"),
    ("O4Mini", "o4-mini-2025-04-16"),
    ("O3", "o3-2025-04-16"),
    ("Claude", "claude-3-haiku-20240307"),
    ("Nova", "amazon.nova-lite-v1:0"),
    ("Gemini", "gemini-2.0-flash-001"),
    ("Embedding", "text-embedding-ada-002-v2"),
)


@lru_cache(maxsize=1024)
def provider_model(model: str) -> str:
    """The provider model string for a Models API model name."""
    return next((p for key, p in _PROVIDER_MODELS if key in model), model.lower())


def render_reply(state: MockState, exchange: Exchange, reply: Reply, body: dict[str, Any]) -> bytes:
    """The 200 body for `reply` in its shape."""
    shape = state.corpus.shapes[reply.shape]
    rng = exchange.runtime.rng
    values = {
        "PROMPT_TOKENS": str(reply.prompt_tokens),
        "COMPLETION_TOKENS": str(reply.completion_tokens),
        "TOTAL_TOKENS": str(reply.total_tokens),
        "FINISH_REASON": '"' + reply.finish_reason + '"',
        "CREATED": str(int(state.now_epoch_s())),
        "PROVIDER_MODEL": json.dumps(provider_model(exchange.model or "")),
        "GENERATION_ID": '"' + new_uuid(rng.getrandbits(128)) + '"',
        "COMPLETION_ID": '"chatcmpl-' + f"{rng.getrandbits(120):030x}" + '"',
        "RESPONSE_ID": '"' + new_uuid(rng.getrandbits(128)).upper() + '"',
    }
    if exchange.endpoint == "embeddings":
        config = exchange.runtime.config
        inputs = tuple(body["input"])
        values["EMBEDDINGS"] = embeddings_json(config.seed, inputs, config.embedding_dims)
    else:
        values["TEXT"] = encode_text(reply.text)
    return shape.render(values)
