"""Turn a request into response bytes: the hot path.

Everything that depends only on a valid request's bytes (the checks, the reply, the shape with the
reply filled in) is `prepare`d once and cached per runtime; per request only the ids and the
timestamp are filled in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from mock_salesforce.corpus import Template, encode_text
from mock_salesforce.replies import Reply, embeddings_json, expected_reply
from mock_salesforce.state import MockState, Runtime
from mock_salesforce.validation import check_body, check_model, extra_fields, parse_body

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
PREPARED_CACHE_SIZE = 4096
PREPARED_MAX_BODY_BYTES = 8192  # bigger requests are rare in load tests and costly to keep


@lru_cache(maxsize=1024)
def provider_model(model: str) -> str:
    """The provider model string for a Models API model name."""
    return next((p for key, p in _PROVIDER_MODELS if key in model), model.lower())


@lru_cache(maxsize=1024)
def json_string(value: str) -> str:
    """A JSON string literal, memoised: finish reasons and model names repeat."""
    return json.dumps(value)


@dataclass(frozen=True)
class Prepared:
    """A valid request's digest, ignored fields, reply, and reply-filled template.

    No parsed body: thousands stay cached, and nested dicts would cost memory and GC passes."""

    body_sha256: str
    extra_fields: tuple[str, ...]
    reply: Reply
    template: Template


def prepared_for(runtime: Runtime, endpoint: str, model: str, raw: bytes) -> Prepared:
    """`prepare`, cached per runtime on the request bytes (bounded: cleared when full)."""
    if len(raw) > PREPARED_MAX_BODY_BYTES:
        return prepare(runtime, endpoint, model, raw)
    cache = runtime.prepared
    key = (endpoint, model, raw)
    found = cache.get(key)
    if found is None:
        found = prepare(runtime, endpoint, model, raw)
        if len(cache) >= PREPARED_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    return found


def prepare(runtime: Runtime, endpoint: str, model: str, raw: bytes) -> Prepared:
    """Check the model and body (ApiError on failure), compute the reply, fill its shape."""
    config = runtime.config
    check_model(endpoint, model, config.custom_models)
    body = parse_body(raw)
    check_body(endpoint, body)
    reply = expected_reply(config.seed, endpoint, body, runtime.mix, runtime.lengths)
    values = {
        "PROMPT_TOKENS": str(reply.prompt_tokens),
        "COMPLETION_TOKENS": str(reply.completion_tokens),
        "TOTAL_TOKENS": str(reply.total_tokens),
        "FINISH_REASON": json_string(reply.finish_reason),
        "PROVIDER_MODEL": json_string(provider_model(model)),
    }
    if endpoint == "embeddings":
        inputs = tuple(body["input"])
        values["EMBEDDINGS"] = embeddings_json(config.seed, inputs, config.embedding_dims)
    else:
        values["TEXT"] = encode_text(reply.text)
    template = runtime.corpus.get(reply.shape).template.partial(values)
    sha256 = hashlib.sha256(raw).hexdigest()
    return Prepared(sha256, tuple(extra_fields(endpoint, body)), reply, template)


def render(state: MockState, seq: int, template: Template) -> bytes:
    """Fill the per-request slots (ids, timestamp) of a prepared template."""
    slots = template.slots  # a few names: a tuple is searched as fast as a set
    if not slots:
        return template.pieces[0]
    ids = state.ids
    values = {}
    if "CREATED" in slots:
        values["CREATED"] = str(int(state.now_epoch_s()))
    if "GENERATION_ID" in slots:
        values["GENERATION_ID"] = f'"{ids.uuid("generation", seq)}"'
    if "COMPLETION_ID" in slots:
        values["COMPLETION_ID"] = f'"{ids.completion(seq)}"'
    if "RESPONSE_ID" in slots:
        values["RESPONSE_ID"] = f'"{ids.uuid("response", seq).upper()}"'
    return template.fill(values)
