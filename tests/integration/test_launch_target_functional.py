"""`open_target` with `--launch`: a user's unmodified gateway started with the shim, pointed at
the mock, health-checked, stopped with its process group, its io report collected."""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UsageError
from harness.fidelity import ReplyOracle, check_chat_completion
from harness.targets import RunningTarget, open_target, target_from_args
from mock_salesforce.config import load_profile
from mock_salesforce.server import ThreadedMock, run_in_thread

GATEWAY = Path(__file__).resolve().parents[1] / "samples" / "gateway_app.py"
SEED = 5


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    with run_in_thread(load_profile("fast").patched({"seed": SEED})) as server:
        yield server


def post_chat(url: str, content: str) -> tuple[dict[str, Any], int, bytes]:
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    data = json.dumps(request).encode()
    headers = {"Content-Type": "application/json"}
    http = urllib.request.Request(url + "/v1/chat/completions", data=data, headers=headers)
    with urllib.request.urlopen(http, timeout=10) as response:
        return request, response.status, response.read()


def process_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting for a reaper that may never come."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_launched_gateway_answers_faithfully_and_reports_its_file_opens(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.json"
    spec = target_from_args(None, None, f"{sys.executable} {GATEWAY} {token_file}")
    oracle = ReplyOracle.from_mock_config(mock.admin.config())
    with open_target(spec, mock_url=mock.url, run_dir=tmp_path) as target:
        for content in ("one", "two", "three"):
            request, status, body = post_chat(target.url, content)
            assert check_chat_completion(request, status, body, oracle.chat(request)) == ()
        assert target.metrics() is None  # this gateway keeps no /metrics/performance
    assert not group_alive(target.pid or 0)
    report = target.io_report()
    assert report is not None
    assert report["redirects"] == {"login.salesforce.com": 1, "api.salesforce.com": 3}
    # a failed read before the token existed and one write, then one read per later request
    assert report["files"][str(token_file)] == {"opens": 4, "reads": 3, "writes": 1}
    assert "gateway listening on" in (target.log_path or Path()).read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_launched_gateway_on_a_fixed_address_is_ready_when_that_address_answers(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    command = f"{sys.executable} {GATEWAY} {tmp_path / 'token.json'} {url.rsplit(':', 1)[1]}"
    spec = target_from_args(None, url, command, name="fixed")
    with open_target(spec, mock_url=mock.url, run_dir=tmp_path) as target:
        assert (target.url, target.name) == (url, "fixed")
        assert post_chat(target.url, "hi")[1] == 200
    assert (tmp_path / "logs" / "target-fixed.log").exists()


def test_a_target_url_on_the_wrong_port_names_the_port_the_program_listens_on(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    listening, asked = free_port(), free_port()
    command = f"{sys.executable} -m http.server {listening} --bind 127.0.0.1"
    spec = target_from_args(None, f"http://127.0.0.1:{asked}", command, name="elsewhere")
    with (
        pytest.raises(UsageError, match=rf"it listens on 127\.0\.0\.1:{listening}: is the port"),
        open_target(spec, mock_url=mock.url, run_dir=tmp_path, timeout_s=3.0),
    ):
        pytest.fail("a program listening elsewhere is never yielded")


def test_a_program_that_exits_early_is_a_usage_error_naming_its_log(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    command = f"{sys.executable} -c \"print('config missing'); raise SystemExit(4)\""
    spec = target_from_args(None, None, command, name="early")
    with (
        pytest.raises(UsageError, match=r"exited with code 4 .*config missing.*target-early\.log"),
        open_target(spec, mock_url=mock.url, run_dir=tmp_path),
    ):
        pytest.fail("an exited program is never yielded")


def test_a_program_that_never_gets_ready_is_stopped_with_its_children(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "signal_ignored = __import__('signal').signal(15, lambda *a: None)\n"
        "time.sleep(60)\n"
    )
    (tmp_path / "stuck.py").write_text(script)
    spec = target_from_args(None, None, f"{sys.executable} {tmp_path / 'stuck.py'}")
    with (
        pytest.raises(UsageError, match="printed no URL within 1 s"),
        open_target(spec, mock_url=mock.url, run_dir=tmp_path, timeout_s=1.0),
    ):
        pytest.fail("a program without a URL is never yielded")
    assert not process_running(int(pid_file.read_text()))


def test_stopped_targets_leave_the_url_they_had_unanswered(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    spec = target_from_args(None, None, f"{sys.executable} {GATEWAY} {tmp_path / 't.json'}")
    with open_target(spec, mock_url=mock.url, run_dir=tmp_path) as target:
        url = target.url
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/health", timeout=2)
    assert isinstance(target, RunningTarget)


def test_a_slow_starter_gets_its_start_timeout_and_is_told_how_to_give_it_longer(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)'"  # listens nowhere (yet)
    spec = target_from_args(None, url, sleeper, start_timeout_s=1.0)
    with (
        pytest.raises(
            UsageError,
            match=r"after 1 s; it listens on no TCP port \(yet\); if it "
            r"needs longer to start, give it --start-timeout 90",
        ),  # fmt: skip
        open_target(spec, mock_url=mock.url, run_dir=tmp_path),
    ):
        pytest.fail("a target that never got ready is never yielded")
