"""Every reference gateway variant against the real mock on loopback: faithful answers.

"Faithful" means the text, finish reason and usage the client gets are exactly what the mock
says it sent for that request (`/__admin/expected`), for plain, streamed and concurrent calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from harness.subjects.gateway.options import VARIANT_NAMES, GatewayOptions
from harness.subjects.gateway.serve import RunningGateway, run_in_thread
from mock_salesforce.config import build_config
from mock_salesforce.pytest_plugin import SfperfMock
from mock_salesforce.server import run_in_thread as run_mock


@pytest.fixture(scope="module")
def mock() -> Iterator[SfperfMock]:
    """One mock for the module (the per-test `sfperf_mock` fixture would restart it each time)."""
    with run_mock(build_config("fast", 3)) as running:
        yield SfperfMock(running.url, running.admin, running.state)


@pytest.fixture(scope="module", params=VARIANT_NAMES)
def gateway(request: pytest.FixtureRequest, mock: SfperfMock) -> Iterator[RunningGateway]:
    with run_in_thread(GatewayOptions(mock.url, variant=request.param)) as running:
        yield running


def chat_body(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


def assert_faithful(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    usage = answer["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        expected["prompt_tokens"],
        expected["completion_tokens"],
        expected["total_tokens"],
    )


def test_a_chat_completion_is_exactly_what_the_mock_sent(
    gateway: RunningGateway, mock: SfperfMock
) -> None:
    body = chat_body("What is a good pie?")
    answer = requests.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=10).json()
    expected = mock.admin.expected("chat-generations", {"messages": body["messages"]})
    assert answer["choices"][0]["message"]["content"] == expected["text"]
    assert answer["choices"][0]["finish_reason"] == expected["finish_reason"]
    assert_faithful(answer, expected)


def test_a_text_completion_is_exactly_what_the_mock_sent(
    gateway: RunningGateway, mock: SfperfMock
) -> None:
    body = {"model": "sfdc_ai__DefaultGPT4Omni", "prompt": "Name three donuts"}
    answer = requests.post(f"{gateway.url}/v1/completions", json=body, timeout=10).json()
    expected = mock.admin.expected("generations", {"prompt": body["prompt"]})
    assert answer["choices"][0]["text"] == expected["text"]
    assert_faithful(answer, expected)


def test_a_stream_reassembles_to_the_mocks_text_and_ends_with_done(
    gateway: RunningGateway, mock: SfperfMock
) -> None:
    body = chat_body("Stream me a story", stream=True, stream_options={"include_usage": True})
    with requests.post(
        f"{gateway.url}/v1/chat/completions", json=body, stream=True, timeout=10
    ) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        # An event stream is UTF-8 (the SSE spec), whatever requests guesses for a text/* type
        # without a charset (ISO-8859-1: mojibake of every accent).
        events = [line[6:].decode() for line in response.iter_lines() if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    expected = mock.admin.expected("chat-generations", {"messages": body["messages"]})
    assert text == expected["text"]
    assert_faithful(chunks[-1], expected)


def test_fifty_concurrent_requests_all_come_back_faithful(
    gateway: RunningGateway, mock: SfperfMock
) -> None:
    bodies = [chat_body(f"question number {i}") for i in range(50)]

    def ask(body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = requests.post(
            f"{gateway.url}/v1/chat/completions", json=body, timeout=20
        ).json()
        return answer

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(ask, bodies))
    failures = []
    for body, answer in zip(bodies, answers, strict=True):
        expected = mock.admin.expected("chat-generations", {"messages": body["messages"]})
        got = answer.get("choices", [{}])[0].get("message", {}).get("content")
        if (
            got != expected["text"]
            or answer["usage"]["completion_tokens"] != expected["completion_tokens"]
        ):
            failures.append(body["messages"][0]["content"])
    assert failures == []


def test_the_gateway_reports_its_own_counters(gateway: RunningGateway) -> None:
    requests.post(f"{gateway.url}/v1/chat/completions", json=chat_body("count me"), timeout=10)
    metrics = requests.get(f"{gateway.url}/metrics/performance", timeout=10).json()
    assert metrics["requests"]["chat"] >= 1
    assert metrics["extractor"]["paths"]["generationDetails.generations[0].content"] >= 1
    assert metrics["tokens"]["validations"] >= 1
    assert metrics["upstream"]["calls"] >= 1
    assert requests.get(f"{gateway.url}/health", timeout=10).json()["status"] == "ok"


@pytest.mark.parametrize(
    ("variant", "client"), [("sync-legacy", "async-batching"), ("async", "sync-wrapper")]
)
def test_a_client_bridged_into_the_other_server_kind_answers_faithfully(
    mock: SfperfMock, variant: str, client: str
) -> None:
    body = chat_body(f"bridged through {client}")
    with run_in_thread(GatewayOptions(mock.url, variant=variant, client=client)) as gateway:
        answer = requests.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=10).json()
        assert requests.get(f"{gateway.url}/health", timeout=10).json()["variant"] == f"{variant}*"
    expected = mock.admin.expected("chat-generations", {"messages": body["messages"]})
    assert answer["choices"][0]["message"]["content"] == expected["text"]


def test_the_harness_fidelity_check_finds_nothing_wrong(
    gateway: RunningGateway, mock: SfperfMock
) -> None:
    from harness.fidelity import load_check

    check = load_check(mock.url)
    requests_sent = [
        ("/v1/chat/completions", chat_body("plain one")),
        ("/v1/chat/completions", chat_body("streamed one", stream=True)),
        (
            "/v1/chat/completions",
            chat_body("streamed with usage", stream=True, stream_options={"include_usage": True}),
        ),
        ("/v1/completions", {"model": "gpt-3.5-turbo", "prompt": "complete me"}),
    ]
    kinds = []
    for path, body in requests_sent:
        response = requests.post(f"{gateway.url}{path}", json=body, timeout=10)
        kinds.append(check(body, response.status_code, response.content))
    assert kinds == [()] * len(requests_sent)


@pytest.mark.parametrize("variant", ["sync-legacy", "async"])
def test_variant_shapes_come_through_faithfully_and_the_fallbacks_are_counted(
    variant: str,
) -> None:
    from harness.fidelity import load_check

    with run_mock(build_config("mixed-shapes", 12)) as running:
        check = load_check(running.url)
        with run_in_thread(GatewayOptions(running.url, variant=variant)) as gateway:
            kinds = []
            for n in range(30):
                body = chat_body(f"mixed shapes, question {n}")
                response = requests.post(
                    f"{gateway.url}/v1/chat/completions", json=body, timeout=10
                )
                kinds.append(check(body, response.status_code, response.content))
            for n in range(10):
                prompt = {"model": "gpt-4o", "prompt": f"mixed completion {n}"}
                response = requests.post(f"{gateway.url}/v1/completions", json=prompt, timeout=10)
                kinds.append(check(prompt, response.status_code, response.content))
            metrics = requests.get(f"{gateway.url}/metrics/performance", timeout=10).json()
    assert kinds == [()] * 40
    extractor = metrics["extractor"]
    assert extractor["extractions"] == 40
    if variant == "async":  # priority: only the variant shapes need the fallback routine
        assert 0 < extractor["fallbacks"] < 40
    else:  # legacy tries generation.generatedText first, so every chat reply is a fallback
        assert extractor["fallbacks"] >= 30
    assert len(extractor["paths"]) >= 2


def test_embeddings_pass_through_with_one_vector_per_input(
    gateway: RunningGateway, mock: SfperfMock
) -> None:
    body = {"model": "text-embedding-ada-002", "input": ["first text", "second text"]}
    answer = requests.post(f"{gateway.url}/v1/embeddings", json=body, timeout=10).json()
    expected = mock.admin.expected("embeddings", {"input": body["input"]})
    assert [item["index"] for item in answer["data"]] == [0, 1]
    assert all(len(item["embedding"]) > 0 for item in answer["data"])
    assert answer["usage"]["prompt_tokens"] == expected["prompt_tokens"]
