"""`start_mock` and `open_target` for a reference variant and an already running URL, on
loopback: ready when yielded, faithful through the gateway, stopped afterwards."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UsageError
from harness.fidelity import ReplyOracle, check_chat_completion
from harness.targets import Service, open_target, start_mock, target_from_args
from mock_salesforce.admin_client import AdminClient

SEED = 321


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def mock(run_dir: Path) -> Iterator[Service]:
    with start_mock(run_dir, profile="fast", seed=SEED) as service:
        yield service


def post(url: str, request: dict[str, Any]) -> tuple[int, bytes]:
    data = json.dumps(request).encode()
    http = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(http, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_the_mock_runs_with_the_requested_seed_and_logs_in_the_run_dir(
    mock: Service, run_dir: Path
) -> None:
    assert AdminClient(mock.url).config()["seed"] == SEED
    assert mock.log_path == run_dir / "logs" / "mock.log"
    assert mock.url in mock.log_path.read_text()


def test_a_reference_variant_answers_faithfully_and_exposes_its_metrics(
    mock: Service, run_dir: Path
) -> None:
    oracle = ReplyOracle.from_mock_config(AdminClient(mock.url).config())
    spec = target_from_args("async", None, None)
    with open_target(spec, mock_url=mock.url, run_dir=run_dir) as target:
        for content in ("first question", "second question"):
            request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
            status, body = post(target.url + "/v1/chat/completions", request)
            assert check_chat_completion(request, status, body, oracle.chat(request)) == ()
        metrics = target.metrics()
    assert metrics is not None and metrics["requests"]["chat"] == 2
    assert (target.name, target.io_report()) == ("async", None)
    assert target.log_path == run_dir / "logs" / "gateway-async.log"

    with pytest.raises(ProcessLookupError):
        os.killpg(target.pid or 0, 0)


def test_an_unknown_variant_is_a_usage_error_quoting_the_gateway(
    mock: Service, run_dir: Path
) -> None:
    spec = target_from_args("no-such-variant", None, None)
    with (
        pytest.raises(UsageError, match=r"exited with code 2 .*no-such-variant"),
        open_target(spec, mock_url=mock.url, run_dir=run_dir),
    ):
        pytest.fail("an unknown variant is never yielded")


def test_extra_gateway_arguments_reach_the_reference_gateway(mock: Service, run_dir: Path) -> None:
    spec = target_from_args("async", None, None, name="bad-buffer")
    extra = ["--token-refresh-buffer-s", "soon"]
    with (
        pytest.raises(UsageError, match=r"exited with code 2 .*token-refresh-buffer-s"),
        open_target(spec, mock_url=mock.url, run_dir=run_dir, gateway_args=extra),
    ):
        pytest.fail("a gateway with a bad argument is never yielded")


def test_a_running_url_is_health_checked_and_used_as_is(mock: Service, run_dir: Path) -> None:
    with open_target(
        target_from_args("sync-optimized", None, None), mock_url=mock.url, run_dir=run_dir
    ) as gateway:
        spec = target_from_args(None, gateway.url + "/", None)
        with open_target(spec, mock_url=mock.url, run_dir=run_dir) as target:
            assert target.url == gateway.url
            assert target.metrics() is None  # a user's gateway reports on itself when asked to
            assert target.log_path is None
        asked = target_from_args(None, gateway.url, None, metrics_path="/metrics/performance")
        with open_target(asked, mock_url=mock.url, run_dir=run_dir) as target:
            assert target.metrics() is not None


def test_a_url_where_nothing_answers_http_is_a_usage_error(mock: Service, run_dir: Path) -> None:
    with socket.socket() as sock:  # bound, never listening: every connection is refused
        sock.bind(("127.0.0.1", 0))
        spec = target_from_args(None, f"http://127.0.0.1:{sock.getsockname()[1]}", None)
        with (
            pytest.raises(UsageError, match="is not ready: it answers no HTTP request"),
            open_target(spec, mock_url=mock.url, run_dir=run_dir),
        ):
            pytest.fail("a URL nothing answers at is never yielded")


def test_a_mock_that_cannot_start_is_a_usage_error_naming_its_log(tmp_path: Path) -> None:
    with (
        pytest.raises(UsageError, match=r"mock exited with code 2 .*mock\.log"),
        start_mock(tmp_path, profile="no-such-profile"),
    ):
        pytest.fail("a mock that failed is never yielded")
