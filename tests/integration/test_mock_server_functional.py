"""Running the mock: MockServer, run_in_thread with its admin client, and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
import requests

from harness.errors import UsageError
from harness.targets.spec import check_mock_url
from mock_salesforce.config import MockConfig
from mock_salesforce.errors import ConfigError
from mock_salesforce.server import MockServer, run_in_thread

CHAT = "/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
BODY = {"messages": [{"role": "user", "content": "hello"}]}
OPEN = MockConfig(require_auth=False, strict_headers=False)
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


async def test_mock_server_listens_on_a_free_loopback_port_while_open() -> None:
    async with MockServer(OPEN) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        async with (
            aiohttp.ClientSession() as session,
            session.post(server.url + CHAT, json=BODY) as response,
        ):
            assert response.status == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.get(server.url + "/__admin/health")


def test_run_in_thread_serves_and_its_admin_client_drives_the_mock() -> None:
    with run_in_thread(OPEN) as mock:
        assert mock.admin.health()["status"] == "ok"
        mock.admin.set_latency("fixed:7ms", "chat-generations")
        mock.admin.add_fault("503:first=1")
        first = requests.post(mock.url + CHAT, json=BODY, timeout=5)
        second = requests.post(mock.url + CHAT, json=BODY, timeout=5)
        assert (first.status_code, second.status_code) == (503, 200)
        assert second.headers["x-sfperf-latency-ms"] == "7.000"
        expected = mock.admin.expected("chat-generations", BODY)
        assert expected["text"] == second.json()["generationDetails"]["generations"][0]["content"]
        assert [e["status"] for e in mock.admin.journal()] == [503, 200]
        assert mock.admin.counters()["by_status"] == {"200": 1, "503": 1}
        mock.admin.set_quota("chat-generations", 1)
        mock.admin.reset()
        assert mock.admin.counters()["requests"] == 0
        assert mock.admin.config()["quotas_rpm"] == {"chat-generations": 1}


def test_run_in_thread_raises_a_bad_config_in_the_caller() -> None:
    with pytest.raises(ConfigError), run_in_thread(MockConfig(latency={"*": "nope"})):
        pass


@contextmanager
def cli(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_salesforce", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_quiet_cli_prints_only_its_url_and_stops_cleanly_on_signals(signum: int) -> None:
    with cli("--profile", "fast", "--seed", "3", "--lax-headers", "--quiet") as (process, url):
        assert url.startswith("http://127.0.0.1:")
        health = requests.get(url + "/__admin/health", timeout=5).json()
        assert health["seed"] == 3 and health["profile"] == "fast"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=10)
        assert process.returncode == 128 + signum  # as a shell reports a process so stopped
        assert stdout == "" and stderr == ""


def test_cli_overrides_reach_the_served_config() -> None:
    args = ["--latency", "fixed:1ms", "--latency", "embeddings=fixed:2ms", "--fault",
            "500:every=9", "--quota", "feedback=7", "--token-lifetime", "60"]  # fmt: skip
    with cli(*args) as (process, url):
        config = requests.get(url + "/__admin/config", timeout=5).json()
        process.terminate()
    assert config["latency"]["*"] == "fixed:1ms" and config["latency"]["embeddings"] == "fixed:2ms"
    assert config["faults"] == ["500:every=9"] and config["quotas_rpm"] == {"feedback": 7}
    assert config["token_lifetime_s"] == 60


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "mock_salesforce", "--latency", "bogus:1"],
        ["-m", "mock_salesforce", "--fault", "418:p=2"],
        ["-m", "mock_salesforce", "--quota", "chat-generations=lots"],
        ["-m", "mock_salesforce", "--profile", "no-such-profile"],
        ["-m", "mock_salesforce", "--header-timeout", "0"],
        ["-m", "mock_salesforce", "--record-from", "http://127.0.0.1:9"],
        ["-m", "harness.cli", "mock", "--latency", "bogus:1"],
        *(
            [*prog, *spec]
            for prog in (["-m", "mock_salesforce"], ["-m", "harness.cli", "mock"])
            for spec in (
                ["--latency", "chat=fixed:1ms"],
                ["--latency", "embeddings=fixed:1ms,per_token=2ms"],
                ["--quota", "token=5"],
                ["--fault", "500:model=no-such-model"],
                ["--latency", "fixed:1ms", "--latency", "fixed:2ms"],
            )
        ),
    ],
)
def test_bad_specs_are_one_line_errors_with_exit_2(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "error" in done.stderr


def test_workers_share_one_port_and_stop_together() -> None:
    with cli("--profile", "fast", "--workers", "2", "--lax-headers") as (process, url):
        healths = [
            requests.get(url + "/__admin/health", timeout=5, headers={"Connection": "close"}).json()
            for _ in range(40)
        ]
        with pytest.raises(UsageError, match="runs 2 worker processes, each with its own journal"):
            check_mock_url(url)  # sfperf reads one journal: such a mock is refused up front
        process.terminate()
        process.communicate(timeout=15)
    assert {health["instance"] for health in healths} == {0, 1}
    assert {health["workers"] for health in healths} == {2}
    assert process.returncode == 128 + signal.SIGTERM


def test_the_admin_client_reaches_a_local_mock_directly_whatever_proxy_is_set() -> None:
    # corporate shells set HTTP(S)_PROXY: a journal read sent to the proxy would fail, and
    # every reply would go unchecked (a fresh process: urllib reads the proxies once)
    code = "import sys; from mock_salesforce.admin_client import AdminClient as A; "
    code += "print(A(sys.argv[1]).health()['status'])"
    dead = "http://127.0.0.1:9"  # nothing listens there
    with run_in_thread(OPEN) as mock:
        done = subprocess.run(
            [sys.executable, "-c", code, mock.url],
            env={**ENV, "HTTP_PROXY": dead, "http_proxy": dead, "NO_PROXY": "", "no_proxy": ""},
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr[-500:]


def test_a_mock_with_one_process_is_taken_as_the_mock_url() -> None:
    with run_in_thread(OPEN) as mock:
        assert check_mock_url(mock.url + "/") == mock.url


def test_the_admin_token_can_come_from_the_environment_out_of_sight_of_ps() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_salesforce", "--port", "0", "--profile", "fast", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**ENV, "SFPERF_ADMIN_TOKEN": "kept-out-of-argv"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert requests.get(url + "/__admin/counters", timeout=5).status_code == 401
        token = {"Authorization": "Bearer kept-out-of-argv"}
        assert requests.get(url + "/__admin/counters", headers=token, timeout=5).ok
        assert b"kept-out-of-argv" not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
