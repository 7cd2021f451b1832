"""Tokens that expire during a run, against a mock whose tokens live 2 s.

A well-set provider refreshes before expiry and never sends an expired token; a memory-ttl TTL
longer than the real lifetime sends expired tokens, which the mock rejects (401), the gateway
recovers from with one refresh, and both the mock's journal and the gateway's counters show.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from harness.subjects.gateway.options import GatewayOptions
from harness.subjects.gateway.serve import run_in_thread
from mock_salesforce.config import build_config
from mock_salesforce.pytest_plugin import SfperfMock
from mock_salesforce.server import run_in_thread as run_mock

LIFETIME_S = 2.0
RUN_S = 3.0
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "still there?"}]}


@pytest.fixture
def mock() -> Iterator[SfperfMock]:
    with run_mock(build_config("fast", 9, token_lifetime_s=LIFETIME_S)) as running:
        yield SfperfMock(running.url, running.admin, running.state)


def run_for(
    options: GatewayOptions, until: Callable[[dict[str, Any]], bool] = lambda _m: True
) -> tuple[list[int], dict[str, Any]]:
    """Send requests every 100 ms for RUN_S seconds (then on, up to twice as long, until
    `until(metrics)` holds); the statuses and the gateway's final metrics."""
    statuses = []
    with run_in_thread(options) as gateway:
        started = time.monotonic()
        while True:
            response = requests.post(f"{gateway.url}/v1/chat/completions", json=CHAT, timeout=10)
            statuses.append(response.status_code)
            metrics = requests.get(f"{gateway.url}/metrics/performance", timeout=10).json()
            elapsed_s = time.monotonic() - started
            if elapsed_s >= 2 * RUN_S or (elapsed_s >= RUN_S and until(metrics)):
                return statuses, metrics
            time.sleep(0.1)


def model_calls(mock: SfperfMock) -> list[dict[str, Any]]:
    return [e for e in mock.admin.journal() if e["endpoint"] == "chat-generations"]


@pytest.mark.parametrize("variant", ["sync-legacy", "async"])
def test_a_well_set_provider_refreshes_before_expiry_and_never_sends_an_expired_token(
    mock: SfperfMock, variant: str
) -> None:
    options = GatewayOptions(mock.url, variant=variant, token_refresh_buffer_s=1.0)
    statuses, metrics = run_for(options)
    assert set(statuses) == {200}
    assert {e["token_status"] for e in model_calls(mock)} == {"valid"}
    assert (
        metrics["tokens"]["refreshes"] >= 3
    )  # 3 s of 2 s tokens, 1 s of margin: fetched at 0, 1 and 2 s
    assert metrics["tokens"]["expired_uses"] == 0


def test_a_ttl_longer_than_the_token_lifetime_sends_expired_tokens_and_it_shows(
    mock: SfperfMock,
) -> None:
    options = GatewayOptions(
        mock.url, variant="async", token_ttl_s=60.0, token_refresh_buffer_s=0.0
    )
    # A token can also expire in flight (handed out just before its end); wait for a real use.
    statuses, metrics = run_for(options, until=lambda m: m["tokens"]["expired_uses"] >= 1)
    assert set(statuses) == {200}  # rescued by the refresh-on-401 retry...
    rejected = [e for e in model_calls(mock) if e["token_status"] == "expired"]
    assert rejected and all(e["status"] == 401 for e in rejected)  # ...after the mock said no
    assert metrics["tokens"]["expired_uses"] >= 1
    assert metrics["tokens"]["invalidations"] == len(rejected)
