import json
from collections.abc import Coroutine
from typing import Any

import pytest

from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.errors import ApiError
from mock_salesforce.rendering import (
    PREPARED_CACHE_SIZE,
    prepare,
    prepared_for,
    render,
    render_parts,
)
from mock_salesforce.replies import expected_reply
from mock_salesforce.state import MockState

MODEL = "sfdc_ai__DefaultGPT4OmniMini"
RAW = json.dumps({"messages": [{"role": "user", "content": "hi"}], "temperature": 1}).encode()


def state_for(config: MockConfig) -> MockState:
    return MockState(config, clock=lambda: 10.0, wall_clock=lambda: 1_700_000_000.0)


def test_a_reply_says_the_epoch_second_it_was_made_in_as_the_clock_moves() -> None:
    now_s = [10.0]
    state = MockState(MockConfig(), clock=lambda: now_s[0], wall_clock=lambda: 1_700_000_000.5)
    prepared = prepare(state.runtime, "chat-generations", MODEL, RAW)
    created = []
    for step_s in (0.0, 0.4, 0.2, 5.0, -3.0):  # (an injected clock may go back)
        now_s[0] += step_s
        reply = json.loads(render(state, 1, prepared))
        created.append(reply["generationDetails"]["parameters"]["created"])
    assert created == [1_700_000_000, 1_700_000_000, 1_700_000_001, 1_700_000_006, 1_700_000_003]


def test_a_prepared_request_renders_the_expected_reply_with_fresh_ids() -> None:
    state = state_for(MockConfig(seed=4))
    prepared = prepare(state.runtime, "chat-generations", MODEL, RAW)
    first = json.loads(render(state, 1, prepared))
    second = json.loads(render(state, 2, prepared))
    expected = expected_reply(4, "chat-generations", json.loads(RAW))
    generation = first["generationDetails"]["generations"][0]
    assert generation["content"] == expected.text
    assert generation["timestamp"] == 1_700_000_000
    assert first["generationDetails"]["parameters"]["model"] == "gpt-4o-mini-2024-07-18"
    assert first["id"] != second["id"]
    assert generation["id"] != second["generationDetails"]["generations"][0]["id"]


def test_every_shape_of_the_mix_profile_renders_valid_json() -> None:
    state = state_for(load_profile("mixed-shapes"))
    for index in range(60):
        raw = json.dumps({"prompt": f"p{index}"}).encode()
        prepared = prepare(state.runtime, "generations", MODEL, raw)
        assert expected_reply(
            0, "generations", {"prompt": f"p{index}"}, state.runtime.mix
        ).text in (render(state, index, prepared).decode())


def test_invalid_requests_are_refused_and_not_cached() -> None:
    state = state_for(MockConfig())
    with pytest.raises(ApiError):
        prepared_for(state.runtime, "chat-generations", MODEL, b"{")
    with pytest.raises(ApiError):
        prepared_for(state.runtime, "chat-generations", "unknown-model", RAW)
    assert state.runtime.prepared == {}


def test_the_prepared_cache_is_reused_and_bounded() -> None:
    state = state_for(MockConfig())
    prepared_for(state.runtime, "chat-generations", MODEL, RAW)  # seen once: not kept
    assert state.runtime.prepared == {}
    second = prepared_for(state.runtime, "chat-generations", MODEL, bytes(RAW))
    assert second.template is None  # kept, not compiled: a body met twice may be a retry
    assert prepared_for(state.runtime, "chat-generations", MODEL, bytes(RAW)) is second
    assert second.template is not None  # compiled once it is asked again
    for index in range(PREPARED_CACHE_SIZE + 5):
        raw = json.dumps({"prompt": str(index)}).encode()
        prepared_for(state.runtime, "generations", MODEL, raw)
        prepared_for(state.runtime, "generations", MODEL, raw)
    assert len(state.runtime.prepared) <= PREPARED_CACHE_SIZE


def test_a_config_change_starts_a_fresh_cache() -> None:
    state = state_for(MockConfig())
    prepared_for(state.runtime, "chat-generations", MODEL, RAW)
    state.apply(state.config.patched({"mix": {"chat-generations": {"variant-top-text": 1}}}))
    prepared = prepared_for(state.runtime, "chat-generations", MODEL, RAW)
    assert prepared.reply.shape == "variant-top-text"


def test_big_requests_are_answered_but_not_kept() -> None:
    state = state_for(MockConfig())
    raw = json.dumps({"prompt": "wor " * 5000}).encode()  # 20,000 characters
    prepared = prepared_for(state.runtime, "generations", MODEL, raw)
    assert prepared.reply.prompt_tokens == 5000
    assert state.runtime.prepared == {}


@pytest.mark.parametrize("endpoint", ["chat-generations", "generations", "embeddings"])
def test_a_compiled_request_renders_the_same_bytes_as_a_fresh_one(endpoint: str) -> None:
    state = state_for(load_profile("mixed-shapes"))
    model = "sfdc_ai__DefaultOpenAITextEmbeddingAda_002" if endpoint == "embeddings" else MODEL
    bodies = {"generations": {"prompt": "hi"}, "embeddings": {"input": ["a", "b"]}}
    raw = json.dumps(bodies.get(endpoint, json.loads(RAW))).encode()
    fresh = prepare(state.runtime, endpoint, model, raw)
    compiled = prepare(state.runtime, endpoint, model, raw).compile()
    assert fresh.template is None and compiled.template is not None
    assert render(state, 7, fresh) == render(state, 7, compiled)


EMBED = "sfdc_ai__DefaultOpenAITextEmbeddingAda_002"


def embeddings_request(count: int) -> bytes:
    return json.dumps({"input": [f"text {index}" for index in range(count)]}).encode()


class StepClock:
    """A performance clock that moves `step_s` on every read."""

    def __init__(self, step_s: float) -> None:
        self.now_s, self.step_s = 0.0, step_s

    def __call__(self) -> float:
        self.now_s += self.step_s
        return self.now_s


def run_counting_yields(coroutine: Coroutine[Any, Any, list[bytes]]) -> tuple[list[bytes], int]:
    """Drive a coroutine that only ever yields to the loop; its result and how often it did."""
    yields = 0
    while True:
        try:
            coroutine.send(None)
        except StopIteration as done:
            return done.value, yields
        yields += 1


def test_a_large_embeddings_reply_is_built_in_slices_and_says_the_same() -> None:
    state = state_for(MockConfig(seed=3, embedding_dims=8))
    large = prepare(state.runtime, "embeddings", EMBED, embeddings_request(600))
    assert large.pending is not None  # 600 x 8 numbers: over the eager bound
    parts, yields = run_counting_yields(render_parts(state, 5, large, StepClock(0.001)))
    assert yields >= 600 // 3  # a slice of 2 ms, one vector a millisecond
    document = json.loads(b"".join(parts))
    vectors = [item["embedding"] for item in document["embeddings"]]
    one = prepare(state.runtime, "embeddings", EMBED, b'{"input": ["text 7"]}')
    small = json.loads(render(state, 5, one))
    assert len(vectors) == 600 and vectors[7] == small["embeddings"][0]["embedding"]
    assert [item["index"] for item in document["embeddings"]] == list(range(600))


def test_a_large_reply_is_never_cached() -> None:
    state = state_for(MockConfig(embedding_dims=8))
    for _ in range(3):
        assert prepared_for(state.runtime, "embeddings", EMBED, embeddings_request(600)).pending
    assert not state.runtime.prepared


def test_more_embeddings_inputs_than_the_cap_are_a_bad_request() -> None:
    state = state_for(MockConfig(embeddings_max_inputs=10))
    prepare(state.runtime, "embeddings", EMBED, embeddings_request(10))
    with pytest.raises(ApiError) as refused:
        prepare(state.runtime, "embeddings", EMBED, embeddings_request(11))
    assert (refused.value.status, refused.value.error_code) == (400, "INVALID_INPUT")


# Replies of a few requests, byte for byte, as the mock gave them before its hot path was last
# reworked: the reply is a function of the seed and the request, so a faster path must not move
# a byte (fixed clocks; ids depend only on the seed, the start time and the sequence number).
PINNED_SEED, PINNED_SEQ = 4, 3
PINNED_REQUESTS = {
    "chat-generations": (
        MODEL,
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Crème brûlée\tfor 4?"},
            ]
        },
    ),
    "generations": (MODEL, {"prompt": "hello world"}),
    "embeddings": (EMBED, {"input": ["a", "b"]}),
}
PINNED_REPLIES = {
    "chat-generations": (
        b'{"id":"902B98CE-71A0-464F-9C8C-000000000003","generationDetails":{"generations":[{"id"'
        b':"fde19669-356f-4a46-ab86-000000000003","role":"assistant","content":"top api top min '
        b'way web","timestamp":1700000000,"parameters":{"finish_reason":"stop","refusal":null,"i'
        b'ndex":0,"logprobs":null},"contentQuality":{"scanToxicity":{"isDetected":false,"categor'
        b'ies":[{"categoryName":"identity","score":2e-05},{"categoryName":"hate","score":0.0},{"'
        b'categoryName":"profanity","score":3e-05},{"categoryName":"violence","score":2e-05},{"c'
        b'ategoryName":"sexual","score":0.00015},{"categoryName":"physical","score":0.0}]}}}],"p'
        b'arameters":{"provider":"openai","created":1700000000,"model":"gpt-4o-mini-2024-07-18",'
        b'"object":"chat.completion","system_fingerprint":"fp_sfperf","usage":{"completion_token'
        b's":6,"prompt_tokens":8,"total_tokens":14,"completion_tokens_details":{"reasoning_token'
        b's":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0},"'
        b'prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}}}}}'
    ),
    "generations": (
        b'{"id":"chatcmpl-5a9a48e5990c6b2b0000000003","generation":{"id":"fde19669-356f-4a46-ab8'
        b'6-000000000003","generatedText":"too do. box max add \xed\x95\x9c\xea\xb5\xad\xec\x96'
        b'\xb4","contentQuality":{"scanToxicity":{"isDetected":false,"categories":[{"categoryNam'
        b'e":"identity","score":2e-05},{"categoryName":"hate","score":0.0},{"categoryName":"prof'
        b'anity","score":3e-05},{"categoryName":"violence","score":2e-05},{"categoryName":"sexua'
        b'l","score":0.00015},{"categoryName":"physical","score":0.0}]}},"parameters":{"finish_r'
        b'eason":"stop","index":0,"logprobs":null}},"moreGenerations":null,"prompt":null,"parame'
        b'ters":{"created":1700000000,"usage":{"completion_tokens":6,"prompt_tokens":3,"total_to'
        b'kens":9},"model":"gpt-4o-mini-2024-07-18","system_fingerprint":null,"object":"chat.com'
        b'pletion"}}'
    ),
    "embeddings": (
        b'{"embeddings":[{"embedding":[-0.01747034, 0.00028861, -0.00792012],"index":0},{"embed'
        b'ding":[-0.01424427, 0.03732579, 0.04121118],"index":1}],"parameters":{"usage":{"promp'
        b't_tokens":1,"total_tokens":1},"model":"text-embedding-ada-002-v2","object":"list"}}'
    ),
}


@pytest.mark.parametrize("endpoint", sorted(PINNED_REQUESTS))
def test_a_pinned_request_gets_the_same_reply_byte_for_byte(endpoint: str) -> None:
    config = MockConfig(seed=PINNED_SEED, reply_lengths="fixed:6", embedding_dims=3)
    model, body = PINNED_REQUESTS[endpoint]
    prepared = prepare(state_for(config).runtime, endpoint, model, json.dumps(body).encode())
    fresh = render(state_for(config), PINNED_SEQ, prepared)
    compiled = render(state_for(config), PINNED_SEQ, prepared.compile())
    assert fresh == compiled == PINNED_REPLIES[endpoint]
