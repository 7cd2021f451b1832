"""`python -m harness.subjects.gateway` and `sfperf gateway` as a user runs them."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from mock_salesforce.config import build_config
from mock_salesforce.pytest_plugin import SfperfMock
from mock_salesforce.server import run_in_thread as run_mock

MODULE = [sys.executable, "-m", "harness.subjects.gateway"]
SFPERF = [sys.executable, "-m", "harness.cli", "gateway"]


@pytest.fixture(scope="module")
def mock() -> Iterator[SfperfMock]:
    with run_mock(build_config("fast", 1)) as running:
        yield SfperfMock(running.url, running.admin, running.state)


@pytest.mark.parametrize(
    ("command", "variant", "loop", "stop", "runtime"),
    [
        (MODULE, "async", "auto", signal.SIGTERM, {"server": "aiohttp", "loop": "uvloop"}),
        (SFPERF, "async", "asyncio", signal.SIGINT, {"server": "aiohttp", "loop": "asyncio"}),
        (SFPERF, "sync-legacy", "auto", signal.SIGINT, {"server": "flask"}),
    ],
)
def test_the_gateway_prints_its_url_alone_serves_and_stops_cleanly_on_a_signal(
    mock: SfperfMock,
    command: list[str],
    variant: str,
    loop: str,
    stop: signal.Signals,
    runtime: dict[str, str],
) -> None:
    argv = [*command, "--variant", variant, "--upstream", mock.url, "--port", "0", "--loop", loop]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        health = requests.get(f"{url}/health", timeout=10).json()
        assert health == {"status": "ok", "variant": variant, **runtime}
        body = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}
        assert requests.post(f"{url}/v1/chat/completions", json=body, timeout=10).ok
        child.send_signal(stop)
        out, err = child.communicate(timeout=15)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 128 + stop, err  # as a shell reports a process so stopped
    assert out == ""  # nothing after the URL line


BAD_ARGS = [
    (SFPERF, ["--variant", "turbo", "--upstream", "http://127.0.0.1:9"], "unknown variant"),
    (SFPERF, ["--upstream", "ftp://x"], "http"),
    (SFPERF, ["--upstream", "http://127.0.0.1:9", "--port", "many"], "invalid int"),
    (SFPERF, ["--upstream", "http://127.0.0.1:9", "--extractor", "no_such_mod:f"], "extractor"),
    (MODULE, ["--variant", "turbo", "--upstream", "http://127.0.0.1:9"], "unknown variant"),
    (MODULE, [], "--upstream"),
    (MODULE, ["--upstream", "http://127.0.0.1:9", "--loop", "trio"], "invalid choice"),
]


@pytest.mark.parametrize(("command", "args", "message"), BAD_ARGS)
def test_bad_arguments_exit_2_with_one_line(
    command: list[str], args: list[str], message: str
) -> None:
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_a_port_in_use_is_a_usage_error(mock: SfperfMock) -> None:
    port = mock.url.rsplit(":", 1)[1]
    done = subprocess.run(
        [*SFPERF, "--upstream", mock.url, "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "cannot listen" in done.stderr
