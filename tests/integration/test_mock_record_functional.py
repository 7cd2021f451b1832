"""Record mode: proxy to a second mock on loopback, write a redacted recording, replay it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.recording import parse_recording
from mock_salesforce.server import run_in_thread

CHAT = "/einstein/platform/v1/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
SECRET_PROMPT = "the launch code is swordfish"
FORM = {"grant_type": "client_credentials", "client_id": "my-client-id", "client_secret": "hunter2"}
UPSTREAM = MockConfig(
    mix={"chat-generations": {"official-chat-generations": 1, "variant-openai-choices": 1}},
    latency={"chat-generations": "fixed:25ms"},
    faults=("503:every=5,endpoint=chat-generations",),
)


def drive(url: str, count: int) -> list[int]:
    """A client that gets its token and instance URL through `url`, then chats."""
    token = requests.post(url + "/services/oauth2/token", data=FORM, timeout=5).json()
    api = token["api_instance_url"]
    headers = {"Authorization": f"Bearer {token['access_token']}",
               "x-sfdc-app-context": "EinsteinGPT", "x-client-feature-id": "f"}  # fmt: skip
    statuses = []
    for index in range(count):
        body = {"messages": [{"role": "user", "content": f"{SECRET_PROMPT} {index}"}]}
        statuses.append(
            requests.post(api + CHAT, json=body, headers=headers, timeout=5).status_code
        )
    return statuses


def recorder(upstream_url: str, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mock_salesforce", "--port", "0", "--record-from", upstream_url,
         "--record-to", str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def record(upstream_url: str, out: Path, *extra: str) -> list[int]:
    process = recorder(upstream_url, out, *extra)
    assert process.stdout is not None
    try:
        recorder_url = process.stdout.readline().strip()
        statuses = drive(recorder_url, 20)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 128 + signal.SIGINT  # stopped cleanly by that signal
    return statuses


def test_a_recording_is_redacted_and_replays_shapes_latency_and_errors(tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    with run_in_thread(UPSTREAM) as upstream:
        statuses = record(upstream.url, out)
        assert upstream.admin.counters()["by_endpoint"] == {"token": 1, "chat-generations": 20}
    text = out.read_text()
    assert statuses.count(503) == 4
    for secret in ("swordfish", "hunter2", "my-client-id", "Bearer", "eyJ"):
        assert secret not in text
    recording = parse_recording(text)
    assert recording is not None
    chats = [e for e in recording["entries"] if e["endpoint"] == "chat-generations"]
    assert len(chats) == 20 and all(e["latency_ms"] >= 25 for e in chats)
    assert {e["shape"] for e in chats if e["status"] == 200} == {
        "official-chat-generations", "variant-openai-choices",
    }  # fmt: skip
    prompt = chats[0]["request"]["messages"][0]["content"]
    assert prompt == "x" * len(f"{SECRET_PROMPT} 0")

    replay = load_profile(str(out))
    assert set(replay.mix["chat-generations"]) == {
        "official-chat-generations", "variant-openai-choices",
    }  # fmt: skip
    assert replay.faults == ("503:p=0.2,endpoint=chat-generations",)
    with run_in_thread(replay) as mock:
        assert mock.admin.config()["latency"]["chat-generations"].startswith("empirical:")


def test_keep_text_keeps_prompts_but_never_credentials(tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    with run_in_thread(UPSTREAM.patched({"faults": []})) as upstream:
        record(upstream.url, out, "--keep-text")
    text = out.read_text()
    assert SECRET_PROMPT in text
    assert "hunter2" not in text and "Bearer" not in text


def test_a_recorder_killed_mid_run_has_kept_every_exchange_it_finished(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    with run_in_thread(UPSTREAM.patched({"faults": []})) as upstream:
        process = recorder(upstream.url, out)
        assert process.stdout is not None
        try:
            drive(process.stdout.readline().strip(), 7)
        finally:
            process.kill()  # no clean shutdown: nothing is written on the way out
            process.communicate(timeout=10)
    recording = parse_recording(out.read_text())
    assert recording is not None and len(recording["entries"]) == 8  # the token and 7 chats
    assert load_profile(str(out)).mix  # and it replays


@pytest.mark.parametrize(
    "upstream, record_to, says",
    [
        ("http://me:hunter2@127.0.0.1:9", "rec.json", "user or password"),
        ("ftp://127.0.0.1:9", "rec.json", "http"),
        ("http://127.0.0.1:9", "a-file/rec.json", "cannot write the recording"),
    ],
)
def test_a_recorder_that_cannot_keep_its_recording_exits_2_at_once(
    tmp_path: Path, upstream: str, record_to: str, says: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    process = recorder(upstream, tmp_path / record_to)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and says in stderr
    assert "hunter2" not in stderr
