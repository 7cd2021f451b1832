"""Upstream failures through the reference gateways: each becomes a fitting OpenAI-style error.

Faults are injected with the mock's admin API; one gateway per server kind (Flask, aiohttp).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from harness.subjects.gateway.options import GatewayOptions
from harness.subjects.gateway.serve import RunningGateway, run_in_thread
from mock_salesforce.config import build_config
from mock_salesforce.pytest_plugin import SfperfMock
from mock_salesforce.server import run_in_thread as run_mock

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def mock() -> Iterator[SfperfMock]:
    with run_mock(build_config("fast", 5)) as running:
        yield SfperfMock(running.url, running.admin, running.state)


@pytest.fixture(scope="module", params=["sync-legacy", "async"])
def gateway(request: pytest.FixtureRequest, mock: SfperfMock) -> Iterator[RunningGateway]:
    options = GatewayOptions(mock.url, variant=request.param, max_retries=1, timeout_s=0.5)
    with run_in_thread(options) as running:
        yield running


@pytest.fixture
def faults(mock: SfperfMock) -> Iterator[Any]:
    yield mock.admin.add_fault
    mock.admin.clear_faults()


def chat(gateway: RunningGateway, body: dict[str, Any] = CHAT) -> requests.Response:
    return requests.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=10)


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("401", 401, "upstream_auth_failed"),
        ("404", 404, "model_not_found"),
        ("423", 503, "upstream_busy"),
        ("500", 502, "upstream_error"),
        ("503", 502, "upstream_error"),
        ("malformed", 502, "upstream_bad_response"),
        ("truncated", 502, "upstream_bad_response"),
        ("reset", 502, "upstream_unreachable"),
        ("empty", 502, "upstream_unreachable"),
        ("hang:duration=2s", 504, "upstream_timeout"),
    ],
)
def test_a_persistent_upstream_fault_becomes_a_fitting_openai_error(
    gateway: RunningGateway, faults: Any, fault: str, status: int, code: str
) -> None:
    faults(fault)
    response = chat(gateway)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert "choices" not in response.json()


def test_a_429_with_a_long_retry_after_is_passed_on_with_it(
    gateway: RunningGateway, faults: Any
) -> None:
    faults("429:retry_after=60s")
    response = chat(gateway)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "60")
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize(
    "fault", ["429:first=1,retry_after=50ms", "500:first=1", "401:first=1", "reset:first=1"]
)
def test_a_transient_fault_is_retried_into_a_success(
    gateway: RunningGateway, mock: SfperfMock, faults: Any, fault: str
) -> None:
    faults(fault)
    before = requests.get(f"{gateway.url}/metrics/performance", timeout=10).json()["upstream"]
    response = chat(gateway)
    after = requests.get(f"{gateway.url}/metrics/performance", timeout=10).json()["upstream"]
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"]
    assert after["attempts"] - before["attempts"] == 2


def test_an_unknown_model_is_refused_without_an_upstream_call(
    gateway: RunningGateway, mock: SfperfMock
) -> None:
    before = mock.admin.counters()
    response = chat(gateway, {**CHAT, "model": "llama-3-70b"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "model_not_found")
    assert mock.admin.counters() == before


def test_an_sfdc_name_the_upstream_does_not_know_comes_back_as_404(gateway: RunningGateway) -> None:
    response = chat(gateway, {**CHAT, "model": "sfdc_ai__DefaultNoSuchModel"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "model_not_found")


def test_a_bad_request_body_is_a_400_in_openai_form(gateway: RunningGateway) -> None:
    response = requests.post(f"{gateway.url}/v1/chat/completions", data=b"{", timeout=10)
    assert (response.status_code, response.json()["error"]["type"]) == (
        400,
        "invalid_request_error",
    )


def test_wrong_client_credentials_are_a_401_not_a_200(mock: SfperfMock) -> None:
    options = GatewayOptions(mock.url, variant="async", client_secret="wrong")
    mock.admin.patch_config({"credentials": ["sfperf-client", "right"]})
    try:
        with run_in_thread(options) as gateway:
            response = chat(gateway)
    finally:
        mock.admin.patch_config({"credentials": None})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "upstream_auth_failed")
