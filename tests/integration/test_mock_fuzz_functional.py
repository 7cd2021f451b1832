"""Hostile requests: every answer is a well-formed documented error, and the mock keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_salesforce.config import MockConfig
from mock_salesforce.server import ThreadedMock, run_in_thread

API = "/einstein/platform/v1"
PATHS = [
    f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations",
    f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/generations",
    f"{API}/models/sfdc_ai__DefaultOpenAITextEmbeddingAda_002/embeddings",
    f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/embeddings",
    f"{API}/models/%F0%9F%92%A9/chat-generations",
    f"{API}/feedback",
    "/services/oauth2/token",
    "/",
    "/einstein",
]
TOKEN_PATH = "/services/oauth2/token"
DOCUMENTED = {200, 202, 400, 401, 404, 405, 413}

odd_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), max_size=40
) | st.sampled_from(["\u202e", "\x00", "💩" * 10, "\ud7ff", "é" * 30, "\\u0000"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
messages = st.lists(
    st.fixed_dictionaries(
        {}, optional={"role": st.sampled_from(["user", "system", "bot", 5]), "content": json_values}
    ),
    max_size=4,
)
documents = st.fixed_dictionaries(
    {},
    optional={"messages": messages | json_values, "prompt": json_values,
              "input": st.lists(odd_text, max_size=3) | json_values, "id": json_values,
              "generationId": json_values, "localization": json_values, "tags": json_values,
              "max Tokens": json_values},
)  # fmt: skip
bodies = (
    documents.map(lambda d: json.dumps(d).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
    | st.just(b"{" * 5000)
    | st.integers(4097, 20_000).map(lambda n: b'{"prompt": "' + b"x" * n + b'"}')
)


@pytest.fixture(scope="module")
def mock() -> Iterator[tuple[ThreadedMock, str]]:
    with run_in_thread(MockConfig(body_limit_bytes=4096)) as running:
        form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "s"}
        token = requests.post(running.url + TOKEN_PATH, data=form, timeout=5).json()
        yield running, token["access_token"]


def check_answer(path: str, response: requests.Response) -> None:
    assert response.status_code in DOCUMENTED, response.text
    if response.status_code < 300:
        assert isinstance(response.json(), dict)
        return
    document: Any = response.json()
    if path == TOKEN_PATH:
        assert set(document) == {"error", "error_description"}
    else:
        assert set(document) == {"errorCode", "messageCode", "message"}
        assert all(isinstance(v, str) and v for v in document.values())


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"]),
    path=st.sampled_from(PATHS),
    body=bodies,
    bearer=st.sampled_from(["valid", "missing", "garbage"]),
    app_headers=st.booleans(),
    content_type=st.sampled_from(["application/json", "text/plain", "x/\u00e9", ""]),
)
def test_every_hostile_request_gets_a_documented_answer(
    mock: tuple[ThreadedMock, str],
    method: str,
    path: str,
    body: bytes,
    bearer: str,
    app_headers: bool,
    content_type: str,
) -> None:
    running, token = mock
    headers = {"Content-Type": content_type.encode("utf-8").decode("latin-1")}
    if bearer != "missing":
        headers["Authorization"] = "Bearer " + (token if bearer == "valid" else "a.b.c")
    if app_headers:
        headers["x-sfdc-app-context"] = "EinsteinGPT"
        headers["x-client-feature-id"] = "ai-platform-models-connected-app"
    response = requests.request(method, running.url + path, data=body, headers=headers, timeout=10)
    check_answer(path, response)


def test_the_mock_still_serves_after_the_fuzzing(mock: tuple[ThreadedMock, str]) -> None:
    running, token = mock
    headers = {"Authorization": f"Bearer {token}", "x-sfdc-app-context": "EinsteinGPT",
               "x-client-feature-id": "ai-platform-models-connected-app"}  # fmt: skip
    response = requests.post(
        running.url + PATHS[0],
        json={"messages": [{"role": "user", "content": "still there?"}]},
        headers=headers,
        timeout=5,
    )
    assert response.status_code == 200
    counters = running.admin.counters()
    assert counters["by_status"].get("500", 0) == 0
    assert counters["requests"] >= 100  # the fuzzing above went through this very mock
    assert {"400", "401", "404"} <= set(counters["by_status"])
    assert running.admin.health()["status"] == "ok"
