"""The reference gateway launched as if it were a user's program, its upstream set to the real
Salesforce login host: the shim sends it to the mock, and its token-file reads are measured, so
the "file I/O reduction" claim is checked from the outside."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fidelity import ReplyOracle, check_chat_completion
from harness.targets import open_target, target_from_args
from mock_salesforce.config import load_profile
from mock_salesforce.server import ThreadedMock, run_in_thread

REQUESTS = 4


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    with run_in_thread(load_profile("fast").patched({"seed": 11})) as server:
        yield server


def launch_and_measure(
    variant: str, mock: ThreadedMock, run_dir: Path
) -> tuple[dict[str, Any], Path]:
    token_file = run_dir / f"{variant}-token.json"
    command = (
        f"{sys.executable} -m harness.subjects.gateway --variant {variant} "
        f"--upstream https://login.salesforce.com --token-file {token_file}"
    )
    oracle = ReplyOracle.from_mock_config(mock.admin.config())
    spec = target_from_args(None, None, command, name=variant)
    with open_target(spec, mock_url=mock.url, run_dir=run_dir) as target:
        for index in range(REQUESTS):
            request = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"q{index}"}],
            }
            http = urllib.request.Request(
                target.url + "/v1/chat/completions",
                data=json.dumps(request).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(http, timeout=10) as response:
                kinds = check_chat_completion(
                    request, response.status, response.read(), oracle.chat(request)
                )
            assert kinds == ()
    report = target.io_report()
    assert report is not None, f"no io report (log: {target.log_path})"
    return report, token_file


def test_the_file_token_provider_reads_its_file_on_every_request(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    report, token_file = launch_and_measure("sync-legacy", mock, tmp_path)
    assert report["redirects"] == {"login.salesforce.com": 1}
    entry = report["files"][str(token_file)]
    assert entry["reads"] == REQUESTS
    assert entry["writes"] >= 1  # its atomic write at the first fetch, folded in from the temp file


def test_the_memory_ttl_provider_reads_its_file_only_at_start(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    report, token_file = launch_and_measure("async", mock, tmp_path)
    assert report["redirects"] == {"login.salesforce.com": 1}
    assert report["files"][str(token_file)]["reads"] <= 1
