"""The framework-neutral gateway: requests, completions, streams and error mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.subjects.extractors import legacy, priority
from harness.subjects.gateway.core import Gateway
from harness.subjects.gateway.model_names import resolve_model
from harness.subjects.gateway.protocol import (
    Prepared,
    Reply,
    RequestError,
    find_usage,
    parse_request,
    split_words,
)
from harness.subjects.upstream import UpstreamResult
from tests.unit.subjects.fakes import FakeProvider
from tests.unit.subjects.shape_bodies import TEXT, load_shapes

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def gateway(extractor: Any = priority) -> Gateway:
    return Gateway(
        "test", extractor, FakeProvider(), lambda: {"calls": 2, "latency_s": 0.5}, lambda: 42.0
    )


def prepared(route: str = "chat", **body: Any) -> Prepared:
    result = gateway().prepare(route, json.dumps({**CHAT, "prompt": "p", **body}).encode())
    assert isinstance(result, Prepared)
    return result


def official(endpoint: str) -> dict[str, Any]:
    return next(s["body"] for s in load_shapes() if s["official"] and s["endpoint"] == endpoint)


def test_openai_names_map_to_salesforce_names_and_sfdc_names_pass_through() -> None:
    assert resolve_model("gpt-4o-mini") == "sfdc_ai__DefaultOpenAIGPT4OmniMini"
    assert resolve_model("claude-3-haiku") == "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"
    assert resolve_model("sfdc_ai__Custom") == "sfdc_ai__Custom"
    assert resolve_model("sfdc_ai__") is None
    assert resolve_model("llama") is None


def test_a_chat_request_becomes_a_chat_generations_body_with_only_role_and_content() -> None:
    body = {
        **CHAT,
        "temperature": 0.2,
        "messages": [{"role": "developer", "content": "sys", "name": "x"}],
    }
    result = parse_request("chat", json.dumps(body).encode())
    assert (result.endpoint, result.upstream_model) == (
        "chat-generations",
        "sfdc_ai__DefaultOpenAIGPT4OmniMini",
    )
    assert result.body == {"messages": [{"role": "system", "content": "sys"}]}


def test_text_content_parts_are_joined_and_a_one_item_prompt_list_is_unwrapped() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    chat = parse_request(
        "chat", json.dumps({**CHAT, "messages": [{"role": "user", "content": parts}]}).encode()
    )
    assert chat.body == {"messages": [{"role": "user", "content": "ab"}]}
    completion = parse_request(
        "completions", json.dumps({"model": "gpt-4", "prompt": ["q"]}).encode()
    )
    assert (completion.endpoint, completion.body) == ("generations", {"prompt": "q"})


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{nope", 400, "invalid_json"),
        (b"[]", 400, "invalid_json"),
        (b'{"messages": []}', 400, "invalid_value"),
        (b'{"model": "gpt-4", "messages": []}', 400, "invalid_value"),
        (
            b'{"model": "gpt-4", "messages": [{"role": "tool", "content": "x"}]}',
            400,
            "invalid_value",
        ),
        (b'{"model": "gpt-4", "messages": [{"role": "user", "content": 3}]}', 400, "invalid_type"),
        (b'{"model": "gpt-4", "messages": [{"role": ["user"]}]}', 400, "invalid_value"),
        (b'{"model": "gpt-4", "messages": ["hi"]}', 400, "invalid_type"),
        (b"\xff\xfe", 400, "invalid_json"),
        (
            b'{"model": "gpt-4", "n": 2, "messages": [{"role": "user", "content": "x"}]}',
            400,
            "unsupported_value",
        ),
        (
            b'{"model": "llama-9", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "model_not_found",
        ),
    ],
)
def test_a_bad_request_is_refused_with_an_openai_error(raw: bytes, status: int, code: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_request("chat", raw)
    assert (caught.value.status, caught.value.code) == (status, code)
    reply = gateway().prepare("chat", raw)
    assert isinstance(reply, Reply)
    assert reply.status == status
    assert reply.body is not None and reply.body["error"]["code"] == code


@pytest.mark.parametrize("extractor", [legacy, priority])
def test_a_completion_carries_exactly_the_upstream_text_usage_and_finish_reason(
    extractor: Any,
) -> None:
    reply = gateway(extractor).finish(
        prepared(), UpstreamResult(200, official("chat-generations"), "rq")
    )
    assert reply.status == 200 and reply.body is not None
    choice = reply.body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": TEXT}
    assert choice["finish_reason"] == "length"
    assert reply.body["usage"]["prompt_tokens"] == 7
    assert (reply.body["usage"]["completion_tokens"], reply.body["usage"]["total_tokens"]) == (
        5,
        12,
    )
    assert (reply.body["model"], reply.body["object"], reply.body["created"]) == (
        "gpt-4o-mini",
        "chat.completion",
        42,
    )


def test_a_text_completion_reads_the_generations_shape() -> None:
    reply = gateway().finish(prepared("completions"), UpstreamResult(200, official("generations")))
    assert reply.body is not None
    assert reply.body["choices"][0]["text"] == TEXT
    assert reply.body["object"] == "text_completion"


def test_usage_is_found_in_every_shape_that_has_one() -> None:
    for shape in load_shapes():
        if shape["endpoint"] != "embeddings":
            usage = find_usage(shape["body"])
            assert usage is not None, shape["name"]
            assert (usage["prompt_tokens"], usage["completion_tokens"]) == (7, 5)


def test_split_words_joins_back_to_the_exact_text() -> None:
    for text in (TEXT, "", "one", " lead", "trail ", "a  b\n\nc\t"):
        assert "".join(split_words(text)) == text
    assert split_words("a b  c") == ["a ", "b  ", "c"]


def test_a_stream_is_role_then_words_then_finish_then_usage_then_done() -> None:
    reply = gateway().finish(
        prepared(stream=True, stream_options={"include_usage": True}),
        UpstreamResult(200, official("chat-generations")),
    )
    assert reply.events is not None and reply.events[-1] == "data: [DONE]\n\n"
    chunks = [json.loads(e.removeprefix("data: ")) for e in reply.events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert text == TEXT
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 12


def test_a_stream_without_include_usage_has_no_usage_chunk() -> None:
    reply = gateway().finish(
        prepared(stream=True), UpstreamResult(200, official("chat-generations"))
    )
    assert reply.events is not None
    assert all('"usage"' not in event for event in reply.events)


@pytest.mark.parametrize(
    ("result", "status", "code"),
    [
        (UpstreamResult(401, {}, error_kind="auth"), 401, "upstream_auth_failed"),
        (UpstreamResult(404, {}, error_kind="client_error"), 404, "model_not_found"),
        (UpstreamResult(400, {}, error_kind="client_error"), 400, "upstream_rejected_request"),
        (UpstreamResult(423, {}, error_kind="client_error"), 503, "upstream_busy"),
        (UpstreamResult(500, {}, error_kind="upstream_error"), 502, "upstream_error"),
        (UpstreamResult(503, {}, error_kind="upstream_error"), 502, "upstream_error"),
        (UpstreamResult(502, None, error_kind="connection"), 502, "upstream_unreachable"),
        (UpstreamResult(504, None, error_kind="timeout"), 504, "upstream_timeout"),
        (UpstreamResult(200, {"weird": 1}), 502, "upstream_unrecognized"),
    ],
)
def test_an_upstream_failure_becomes_an_openai_error_never_a_200(
    result: UpstreamResult, status: int, code: str
) -> None:
    reply = gateway().finish(prepared(), result)
    assert reply.status == status
    assert reply.body is not None and reply.body["error"]["code"] == code
    assert "choices" not in reply.body


def test_a_429_is_passed_on_with_its_retry_after() -> None:
    result = UpstreamResult(429, {}, error_kind="rate_limited", retry_after_s=1.2)
    reply = gateway().finish(prepared(), result)
    assert (reply.status, reply.headers["Retry-After"]) == (429, "2")


def test_metrics_count_requests_paths_errors_tokens_and_upstream_time() -> None:
    core = gateway(legacy)
    core.prepare("chat", b"{}")
    ready = core.prepare("chat", json.dumps(CHAT).encode())
    assert isinstance(ready, Prepared)
    core.finish(ready, UpstreamResult(200, official("chat-generations")))
    metrics = core.metrics().body
    assert metrics is not None
    assert metrics["requests"] == {"chat": 2}
    assert metrics["errors"] == {"request.invalid_value": 1}
    assert metrics["responses_by_status"] == {"400": 1, "200": 1}
    assert metrics["extractor"]["paths"] == {"generationDetails.generations[0].content": 1}
    assert (metrics["extractor"]["fallbacks"], metrics["extractor"]["first_path_hits"]) == (1, 0)
    assert metrics["tokens"]["validations"] == 1
    assert metrics["upstream"]["latency_mean_ms"] == 250.0


def test_every_mapped_model_is_one_the_mock_serves() -> None:
    from harness.subjects.gateway.model_names import MODEL_NAMES
    from mock_salesforce.validation import EMBEDDING_MODELS, TEXT_MODELS

    assert set(MODEL_NAMES.values()) <= TEXT_MODELS | EMBEDDING_MODELS


def test_a_shape_without_a_finish_reason_reports_stop() -> None:
    reply = gateway().finish(prepared(), UpstreamResult(200, {"text": "whole"}))
    assert reply.body is not None
    assert reply.body["choices"][0]["finish_reason"] == "stop"


def test_an_embeddings_request_sends_a_list_of_inputs() -> None:
    one = parse_request("embeddings", b'{"model": "text-embedding-ada-002", "input": "a"}')
    assert (one.endpoint, one.body) == ("embeddings", {"input": ["a"]})
    with pytest.raises(RequestError):
        parse_request("embeddings", b'{"model": "text-embedding-ada-002", "input": [1]}')


def test_embeddings_come_back_as_an_openai_list_with_the_upstream_usage() -> None:
    body = next(s["body"] for s in load_shapes() if s["name"] == "official-embeddings")
    ready = gateway().prepare("embeddings", b'{"model": "text-embedding-ada-002", "input": "a"}')
    assert isinstance(ready, Prepared)
    reply = gateway().finish(ready, UpstreamResult(200, body))
    assert reply.body is not None
    assert reply.body["data"] == [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]
    assert reply.body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
    assert gateway().finish(ready, UpstreamResult(200, {"nothing": 1})).status == 502
