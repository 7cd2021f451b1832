"""Inputs of the microbenchmarks: Models API responses as the mock sends them, token providers.

One response per shape (extraction time per shape) and a seeded sample over a mock profile's
shape mix (time and path hit rates over the mix), both built with the mock's own reply logic and
shape corpus, so what is measured is what the mock serves; token providers by name or import path
with a fetch that issues tokens without a network.
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.subjects.token_providers import (
    FileTokenProvider,
    MemoryTtlTokenProvider,
    TokenGrant,
    TokenStore,
)
from mock_salesforce.config import load_profile
from mock_salesforce.corpus import Shape, encode_text, load_corpus
from mock_salesforce.replies import OFFICIAL_MIX, Reply, ShapeMix, expected_reply

Fetch = Callable[[], TokenGrant]
MIX_ENDPOINT = "chat-generations"  # what `/v1/chat/completions` calls upstream


@dataclass(frozen=True)
class Sample:
    """One response body, the endpoint it answers, its shape and the text the mock put in it."""

    endpoint: str
    shape: str
    text: str
    response: dict[str, Any]


def shape_endpoint(shape: Shape) -> str:
    """The endpoint to extract a shape's text for (variants serve both text endpoints)."""
    return MIX_ENDPOINT if shape.endpoint == "*" else shape.endpoint


def text_shapes() -> list[Shape]:
    """Every shape that carries generated text (all but embeddings), by name."""
    shapes = load_corpus().shapes.values()
    return sorted((s for s in shapes if s.endpoint != "embeddings"), key=lambda s: s.name)


def shape_samples(seed: int) -> dict[str, Sample]:
    """One response per text shape, keyed by shape name."""
    samples = {}
    for shape in text_shapes():
        endpoint = shape_endpoint(shape)
        reply = expected_reply(seed, endpoint, _request(endpoint, "shape " + shape.name))
        samples[shape.name] = Sample(endpoint, shape.name, reply.text, render(shape, reply))
    return samples


def mix_samples(mix: ShapeMix, count: int, seed: int) -> list[Sample]:
    """`count` chat-generations responses whose shapes follow `mix` as the mock chooses them."""
    shapes = load_corpus()
    samples = []
    for index in range(count):
        reply = expected_reply(seed, MIX_ENDPOINT, _request(MIX_ENDPOINT, f"question {index}"), mix)
        shape = shapes.get(reply.shape)
        samples.append(Sample(MIX_ENDPOINT, shape.name, reply.text, render(shape, reply)))
    return samples


def profile_mix(profile: str) -> ShapeMix:
    """The shape mix a mock profile (name or file) serves; official shapes when it has none."""
    mix = load_profile(profile).mix
    return ShapeMix.from_mapping(mix) if mix else OFFICIAL_MIX


def render(shape: Shape, reply: Reply) -> dict[str, Any]:
    """The response body `shape` carries `reply` in, parsed as a gateway would receive it."""
    values = {
        "TEXT": encode_text(reply.text),
        "PROMPT_TOKENS": str(reply.prompt_tokens),
        "COMPLETION_TOKENS": str(reply.completion_tokens),
        "TOTAL_TOKENS": str(reply.total_tokens),
        "FINISH_REASON": encode_text(reply.finish_reason),
        "CREATED": "1754352000",
        "PROVIDER_MODEL": encode_text("gpt-4o-mini-2024-07-18"),
        "GENERATION_ID": encode_text("gen-0001"),
        "COMPLETION_ID": encode_text("cmpl-0001"),
        "RESPONSE_ID": encode_text("resp-0001"),
        "EMBEDDINGS": "[]",
    }
    body: dict[str, Any] = json.loads(shape.render(values))
    return body


def _request(endpoint: str, content: str) -> dict[str, Any]:
    if endpoint == "generations":
        return {"prompt": content}
    return {"messages": [{"role": "user", "content": content}]}


def make_provider(spec: str, store: TokenStore, fetch: Fetch, clock: Callable[[], float]) -> Any:
    """A token provider by name (`file`, `memory-ttl`: reference defaults) or `pkg.mod:Class`
    (called with `store=`, `fetch=`, `clock=`); ValueError naming the problem otherwise."""
    if spec == "file":
        return FileTokenProvider(store, fetch, clock)
    if spec == "memory-ttl":
        return MemoryTtlTokenProvider(store, fetch, clock)
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"unknown token provider {spec!r} (file, memory-ttl or pkg.module:Class)")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load token provider {spec!r}: {exc}") from exc
    return cls(store=store, fetch=fetch, clock=clock)


def grant_issuer(
    clock: Callable[[], float], lifetime_s: float = 1800.0
) -> Callable[[], TokenGrant]:
    """A fetch that issues numbered tokens living `lifetime_s` on `clock` (no network)."""
    issued = itertools.count(1)

    def fetch() -> TokenGrant:
        now_s = clock()
        return TokenGrant(f"bench-{next(issued)}", now_s, now_s + lifetime_s)

    return fetch
