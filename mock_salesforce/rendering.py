"""Turn a request into response bytes: the hot path.

Everything that depends only on a valid request's bytes (the checks, the reply, the shape with the
reply filled in) is `prepare`d, and cached per runtime once the same bytes come a second time;
per request only the ids and the timestamp are filled in. Bytes seen once are not kept: a load
test with every prompt new would only churn the cache (and the garbage collector).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from mock_salesforce.corpus import Template
from mock_salesforce.replies import (
    Reply,
    embedding_json,
    embeddings_json,
    expected_reply,
    reply_for,
)
from mock_salesforce.state import SEEN_SLOTS, MockState, Runtime
from mock_salesforce.validation import (
    check_body,
    check_input_count,
    check_model,
    parse_body,
    plain_chat,
)

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
# Embeddings replies up to this many vector numbers (about 2 ms of work) are built with the
# request; bigger ones by `render_parts`, a slice of `SLICE_S` at a time.
EAGER_VECTOR_NUMBERS = 4096
SLICE_S = 0.002  # the longest a large reply holds the event loop before it lets others run


class PendingVectors(NamedTuple):
    """The vectors of a large embeddings reply, still to be built."""

    seed: int
    dims: int
    inputs: tuple[str, ...]


@lru_cache(maxsize=1024)
def provider_model(model: str) -> str:
    """The provider model string for a Models API model name."""
    return next((p for key, p in _PROVIDER_MODELS if key in model), model.lower())


@lru_cache(maxsize=1024)
def provider_model_json(model: str) -> bytes:
    """`provider_model` as a JSON string literal (UTF-8)."""
    return json.dumps(provider_model(model)).encode()


@lru_cache(maxsize=1024)
def json_string(value: str) -> bytes:
    """A JSON string literal (UTF-8), memoised: finish reasons and model names repeat."""
    return json.dumps(value).encode()


class Prepared:
    """A valid request's reply, and its shape's template with the reply's values (JSON, as
    UTF-8); `template` fills them in ahead (once the request repeats and is cached).

    No parsed body: thousands stay cached, and nested dicts would cost memory and GC passes."""

    __slots__ = ("pending", "reply", "shape_template", "template", "values")

    def __init__(
        self,
        reply: Reply,
        shape_template: Template,
        values: dict[str, bytes],
        pending: PendingVectors | None = None,
    ) -> None:
        self.reply = reply
        self.shape_template = shape_template
        self.values = values
        self.pending = pending  # a large reply: render it with `render_parts`, not `render`
        self.template: Template | None = None

    def compile(self) -> Prepared:
        """Fill the reply's values into the template now, leaving the per-request slots."""
        self.template = self.shape_template.partial(self.values)
        return self


def prepared_for(runtime: Runtime, endpoint: str, model: str, raw: bytes) -> Prepared:
    """`prepare`, cached per runtime on the request bytes from their second sighting on
    (bounded: cleared when full), and compiled on the first request the cache answers: a body
    met only twice (a client's retry) costs no compile."""
    if len(raw) > PREPARED_MAX_BODY_BYTES:
        return prepare(runtime, endpoint, model, raw)
    cache = runtime.prepared
    key = (endpoint, model, raw)
    found: Prepared | None = cache.get(key)
    if found is not None:
        return found if found.template is not None else found.compile()
    prepared = prepare(runtime, endpoint, model, raw)
    if prepared.pending is not None:
        return prepared  # a large reply is never kept
    seen, fingerprint = runtime.seen, hash(key)
    slot = fingerprint & (SEEN_SLOTS - 1)
    if seen[slot] != fingerprint:  # (another body in the slot since: a sighting forgotten)
        seen[slot] = fingerprint
        return prepared
    if len(cache) >= PREPARED_CACHE_SIZE:
        cache.clear()
    cache[key] = prepared
    return prepared


def prepare(runtime: Runtime, endpoint: str, model: str, raw: bytes) -> Prepared:
    """Check the model and body (ApiError on failure) and compute the reply and its values."""
    config = runtime.config
    check_model(endpoint, model, config.custom_models)
    plain = plain_chat(raw) if endpoint == "chat-generations" else None
    inputs: tuple[str, ...] = ()  # an embeddings request's
    if plain is None:
        body = parse_body(raw)
        check_body(endpoint, body)
        if endpoint == "embeddings":
            inputs = tuple(body["input"])
            check_input_count(inputs, config.embeddings_max_inputs)
        reply = expected_reply(config.seed, endpoint, body, runtime.mix, runtime.lengths)
    else:  # the common chat body: parsed, checked and keyed in one pass
        reply = reply_for(config.seed, endpoint, *plain, runtime.mix, runtime.lengths)
    prompt_tokens, completion_tokens = reply.prompt_tokens, reply.completion_tokens
    values = {
        "PROMPT_TOKENS": b"%d" % prompt_tokens,
        "COMPLETION_TOKENS": b"%d" % completion_tokens,
        "TOTAL_TOKENS": b"%d" % (prompt_tokens + completion_tokens),
        "FINISH_REASON": json_string(reply.finish_reason),
        "PROVIDER_MODEL": provider_model_json(model),
    }
    pending = None
    if endpoint == "embeddings":
        dims = config.embedding_dims
        if len(inputs) * dims <= EAGER_VECTOR_NUMBERS:
            values["EMBEDDINGS"] = embeddings_json(config.seed, inputs, dims).encode()
        else:
            pending = PendingVectors(config.seed, dims, inputs)
    else:
        # A reply's words need no JSON escapes (`replies._VOCAB`; its tests check): quoted as
        # they are, where encoding them was 2.7k instructions a new body.
        values["TEXT"] = b'"%s"' % reply.utf8
    template = runtime.corpus.shapes[reply.shape].template  # (the mix names known shapes)
    return Prepared(reply, template, values, pending)


def render(state: MockState, seq: int, prepared: Prepared) -> bytes:
    """The reply bytes: the per-request slots (ids, timestamp) filled in, and the reply's own
    values too unless `prepared` is compiled."""
    template = prepared.template
    if template is None:
        template, values = prepared.shape_template, dict(prepared.values)
    else:
        values = {}
    slots = template.slots  # a few names: a tuple is searched as fast as a set
    if not slots:
        return template.pieces[0]
    _add_request_values(state, seq, slots, values)
    return template.fill(values)


def _add_request_values(
    state: MockState, seq: int, slots: tuple[str, ...], values: dict[str, bytes]
) -> None:
    """The values that differ per request: ids and the timestamp."""
    ids, digits = state.ids, b"%012x" % seq  # every id ends in `seq` in hex: formatted once
    if "CREATED" in slots:  # the epoch second, remade only when it changes
        second = state.now_epoch_s() // 1
        if second != state.second:
            state.second, state.second_json = second, b"%d" % second
        values["CREATED"] = state.second_json
    if "GENERATION_ID" in slots:
        values["GENERATION_ID"] = ids.generation_open + digits + b'"'
    if "COMPLETION_ID" in slots:  # ten digits (`seq:010x`), more only past 16 ** 10
        short = digits[2:] if digits.startswith(b"00") else b"%010x" % seq
        values["COMPLETION_ID"] = ids.completion_open + short + b'"'
    if "RESPONSE_ID" in slots:
        values["RESPONSE_ID"] = ids.response_open + digits.upper() + b'"'


async def render_parts(
    state: MockState,
    seq: int,
    prepared: Prepared,
    clock: Callable[[], float] = time.perf_counter,
) -> list[bytes]:
    """A large reply in pieces, to be written one by one: its vectors built `SLICE_S` of
    `clock` (CPU-bound work, so a performance clock) at a time, letting the loop run between."""
    pending = prepared.pending
    assert pending is not None, "render_parts is for replies with pending vectors"
    pieces, due_s = [b"["], clock() + SLICE_S
    for index, text in enumerate(pending.inputs):
        item = embedding_json(pending.seed, text, index, pending.dims)
        pieces.append((("," if index else "") + item).encode())
        if clock() > due_s:
            await asyncio.sleep(0)
            due_s = clock() + SLICE_S
    pieces.append(b"]")
    template, values = prepared.shape_template, dict(prepared.values)
    _add_request_values(state, seq, template.slots, values)
    return template.fill_parts(values, {"EMBEDDINGS": pieces})
