"""A gateway that wants a client credential (tests/samples/gateways/api_key_stdlib.py) is measured
when `--target-header` (or OPENAI_API_KEY) gives it: every client sfperf runs sends it, and
the secret is written nowhere. `sfperf load` asks a user's gateway which model to send, as
validate does, and stops saying why when none works."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.runners.support.profiling_load import drive_load
from harness.runners.support.sweepsubjects import chat_subject, measure_http
from harness.store import load_records
from harness.targets import RunningTarget, open_target, target_from_args
from harness.targets.discovery import discover_model
from mock_salesforce.config import load_profile
from mock_salesforce.server import ThreadedMock, run_in_thread

GATEWAY = Path(__file__).resolve().parents[1] / "samples" / "gateways" / "api_key_stdlib.py"
SECRET = "sk-local-7f3a9c"
CREDENTIAL = {"Authorization": f"Bearer {SECRET}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(run_dir: Path, key_option: str = f"--api-key {SECRET}") -> tuple[str, str]:
    """(url, launch command) of the sample on a free port, its state in `run_dir`."""
    port = free_port()
    launch = f"{sys.executable} {GATEWAY} {key_option} --port {port}"
    return f"http://127.0.0.1:{port}", f"{launch} --state-dir {run_dir / 'state'}"


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    with run_in_thread(load_profile("fast")) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    mock: ThreadedMock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningTarget]:
    run_dir = tmp_path_factory.mktemp("api-key")
    url, launch = command(run_dir)
    spec = target_from_args(None, url, launch, metrics_path="/metrics/performance",
                            headers=tuple(CREDENTIAL.items()))  # fmt: skip
    with open_target(spec, mock_url=mock.url, run_dir=run_dir) as running:
        yield running


def test_discovery_without_the_credential_tells_the_user_to_pass_a_target_header(
    gateway: RunningTarget, mock: ThreadedMock
) -> None:
    choice = discover_model(gateway.url, mock_url=mock.url)
    assert choice.model is None
    assert "GET /v1/models answered 401" in choice.reason
    assert "the target wants a client credential: pass --target-header" in choice.reason


def test_discovery_the_sweep_client_the_profile_load_and_the_metrics_send_the_credential(
    gateway: RunningTarget, mock: ThreadedMock
) -> None:
    choice = discover_model(gateway.url, mock_url=mock.url, headers=gateway.headers)
    assert (choice.model, choice.source) == ("gpt-4o-mini", "probe")
    model = str(choice.model)
    swept = measure_http(chat_subject(gateway.url, model, iter(range(10**6)), gateway.headers),
                         1, 0.3)  # fmt: skip
    assert swept.window.samples and all(s.ok for s in swept.window.samples)
    profiled = drive_load(gateway.url, 4, 2, 10.0, model=model, headers=gateway.headers)
    assert profiled.oks == [1, 1, 1, 1]
    assert (gateway.metrics() or {}).get("requests", 0) >= 5


def test_load_discovers_the_model_and_sends_openai_api_key_from_every_user_and_nowhere_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("SFGW_API_KEY", SECRET)  # the gateway's key, kept off its command line
    config = json.loads((GATEWAY.parent / "config.json").read_text())
    config["models"] = {"claude-haiku": "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("SFGW_CONFIG", str(tmp_path / "config.json"))  # not the default model
    url, launch = command(tmp_path, key_option="")
    argv = ["load", "steady", "--launch", launch, "--target-url", url, "--users", "2"]
    argv += ["--duration", "2s", "--target-metrics", "/metrics/performance", "--out", str(tmp_path)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "sending the target Authorization (from OPENAI_API_KEY)" in err
    record = next(r for r in load_records(tmp_path) if r.runner == "load")
    statuses = record.get("status").values
    assert statuses and set(statuses) == {200.0}
    assert record.params["target_headers"] == ["Authorization"]
    assert (record.params["model"], record.params["model_source"]) == ("claude-haiku", "probe")
    assert "model 'claude-haiku' (probe)" in err
    assert record.params["target_metrics"]["after"]["requests"] >= len(statuses)
    saved = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()
                    and "state" not in p.parts and not p.name.endswith(".log"))  # fmt: skip
    assert SECRET not in saved + out + err
    assert SECRET not in json.dumps(record.params)


def test_load_stops_before_measuring_and_says_why_when_no_model_works(
    gateway: RunningTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["load", "steady", "--target-url", gateway.url, "--model", "gpt-5-nope"]
    argv += ["--target-header", f"Authorization: Bearer {SECRET}", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no model works on this target" in err and "'gpt-5-nope' -> HTTP 404" in err
    assert "nothing measured" in err
    (discovered,) = load_records(tmp_path)
    assert discovered.runner == "discover" and discovered.params["model"] is None
