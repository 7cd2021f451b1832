"""Inputs of the microbenchmarks: Models API response bodies as the mock would send them.

One response per shape (extraction time per shape) and a seeded sample over a mock profile's
shape mix (time and path hit rates over the mix), both built with the mock's own reply logic and
shape corpus, so what is measured is what the mock serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mock_salesforce.config import load_profile
from mock_salesforce.corpus import Shape, encode_text, load_corpus
from mock_salesforce.replies import OFFICIAL_MIX, Reply, ShapeMix, expected_reply

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
