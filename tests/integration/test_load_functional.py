"""`sfperf load` for real: locust children against the mock and a reference gateway on loopback.

Each run is a few seconds with a few users; the mock answers after a fixed 20 ms.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.cli import main
from harness.runners.load import LoadPlan, LoadTarget, run_load
from harness.runners.support.interrupted import Interrupted
from harness.store import load_records
from harness.subjects.gateway.options import GatewayOptions
from harness.subjects.gateway.serve import run_in_thread as serve_gateway
from harness.targets import RunningTarget
from mock_salesforce.config import load_profile
from mock_salesforce.server import run_in_thread as serve_mock

SEED = 99
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "gateways"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    config = dataclasses.replace(load_profile("fast"), seed=SEED)
    config = config.patched({"latency": {"chat-generations": "fixed:20ms"}})
    with serve_mock(config) as mock:
        yield mock.url


@pytest.fixture(scope="module")
def gateway(mock_url: str) -> Iterator[LoadTarget]:
    with serve_gateway(GatewayOptions(upstream_url=mock_url, variant="async")) as running:
        metrics = RunningTarget("async", running.url).metrics_reading
        yield LoadTarget("async", running.url, mock_url, metrics)


class ConstantReply(BaseHTTPRequestHandler):
    """A 'gateway' that answers every chat completion with the same text (unfaithful)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps({
            "choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Locust drops its connections when the run ends: not worth a traceback."""


def test_an_open_loop_stream_run_measures_tokens_at_the_client(
    gateway: LoadTarget, tmp_path: Path
) -> None:
    plan = LoadPlan("streaming", users=4, duration_s=2, rate_rps=20.0, arrival="poisson")
    record, _card, rewrites, _retries = run_load(plan, gateway, tmp_path)
    assert record.labels == {"target": "async", "mode": "open"}
    assert 15 <= len(record.get("latency_ms").values) <= 70  # about 20 req/s for 2 s
    assert len(record.get("ttft_ms").values) == len(record.get("latency_ms").values)
    assert record.get("itl_ms").values  # the gateway sends the text in several chunks
    assert sum(record.get("ok").values) == len(record.get("ok").values)
    assert record.params["streaming"]["mode"] == "relayed"  # the reference relays at once
    assert record.params["fidelity_basis"]["upstream"] == len(record.get("ok").values)
    assert rewrites.matches(target="async") and not rewrites.params["findings"]


def test_an_unfaithful_target_is_caught_on_every_reply(mock_url: str, tmp_path: Path) -> None:
    server = QuietServer(("127.0.0.1", 0), ConstantReply)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        plan = LoadPlan("steady", users=2, duration_s=1)
        record, _card, retried = run_load(plan, LoadTarget("constant", url, mock_url), tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    requests = len(record.get("latency_ms").values)
    assert requests > 0
    assert retried.scenario == "retries"  # its journal is graded even when nothing joined
    assert record.get("fidelity_wrong_content").values == (float(requests),)
    assert sum(record.get("ok").values) == 0
    # It never called the mock: nothing joins, so every verdict is the predicted one.
    assert record.params["fidelity_basis"] == {"upstream": 0, "predicted": requests, "unchecked": 0}


class HoldsAfterTwo(ConstantReply):
    """A 'gateway' that answers two chat completions, then holds every later one (R64: a
    client library sleeping 20 s before its retry)."""

    answered = 0
    release = threading.Event()

    def do_POST(self) -> None:
        HoldsAfterTwo.answered += 1
        if HoldsAfterTwo.answered > 2:
            HoldsAfterTwo.release.wait(10.0)
        super().do_POST()


def test_requests_a_target_still_held_when_the_window_ended_are_kept_as_left_without_a_reply(
    mock_url: str, tmp_path: Path
) -> None:
    server = QuietServer(("127.0.0.1", 0), HoldsAfterTwo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        plan = LoadPlan("steady", users=2, duration_s=3)
        record, card, *_ = run_load(plan, LoadTarget("holds", url, mock_url), tmp_path)
    finally:
        HoldsAfterTwo.release.set()
        server.shutdown()
        server.server_close()
    assert record.params["in_flight"]["held"] == 2 == record.get("no_reply").values[0]
    assert len(record.get("latency_ms").values) == 4
    assert sorted(record.get("latency_ms").values)[-1] > 2000.0  # its wait, a lower bound
    assert card.get("no_reply").values == (2.0,)
    assert "Held" in record.params["no_reply_errors"][0]["body"]


def test_ctrl_c_stops_locust_and_keeps_what_was_measured_as_partial(
    gateway: LoadTarget, tmp_path: Path
) -> None:
    def sleep_then_interrupt(seconds: float) -> None:
        time.sleep(seconds)
        # Ctrl-C once locust has written some rows (it flushes them every second).
        if any(p.stat().st_size for p in tmp_path.glob("load/*/raw/*.tsv")):
            raise KeyboardInterrupt

    plan = LoadPlan("steady", users=2, duration_s=30)
    with pytest.raises(Interrupted) as stopped:
        run_load(plan, gateway, tmp_path, sleep=sleep_then_interrupt)
    record, card, *_ = stopped.value.records
    assert record.partial and card.partial and card.runner == "card"
    assert len(record.get("latency_ms").values) > 0


def test_the_command_refuses_a_remote_target_without_the_opt_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["load", "steady", "--target-url", "http://192.0.2.1:80", "--out", str(tmp_path)])
    assert code == 2
    assert "loopback" in capsys.readouterr().err.lower()


def test_the_command_keeps_every_request_and_the_target_metrics(
    gateway: LoadTarget, mock_url: str, tmp_path: Path
) -> None:
    argv = ["load", "steady", "--target-url", gateway.url, "--mock-url", mock_url]
    argv += ["--users", "3", "--duration", "2s", "--out", str(tmp_path)]
    argv += ["--target-metrics", "/metrics/performance"]
    assert main(argv) == 0
    # as validate: discovery, the start-up and warm-up's token sends, then the window's records
    discovered, warmed, record, card, _rewrites, retried = load_records(tmp_path)
    assert (warmed.runner, warmed.labels["window"]) == ("card", "warm-up")
    assert (retried.runner, retried.scenario, retried.labels["window"]) == (
        "verdict",
        "retries",
        "steady-closed",
    )
    assert retried.params["findings"] == [] and retried.params["entries"] > 0
    assert (discovered.runner, discovered.params["model_source"]) == ("discover", "probe")
    assert record.params["model"] == "gpt-4o-mini" and record.params["warm_up_s"] > 0
    assert card.runner == "card" and card.get("models_requests").values[0] > 0
    assert record.runner == "load" and record.matches(scenario="steady", mode="closed")
    latencies = record.get("latency_ms").values
    assert not record.partial
    assert len(latencies) > 20 and min(latencies) >= 20.0  # the mock's 20 ms are in there
    assert record.get("ok").values == (1.0,) * len(latencies)
    assert record.get("fidelity_wrong_content").values == (0.0,)
    assert record.params["fidelity_checked"] is True
    metrics = record.params["target_metrics"]
    assert metrics["after"]["requests"]["chat"] >= len(latencies) > 0
    assert any(name.endswith("locust_stats.csv") for name in record.artifacts)
    assert all((tmp_path / name).is_file() for name in record.artifacts)


def test_load_faults_grades_how_the_gateway_retries_and_prints_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    launch = f"{sys.executable} {SAMPLES / 'retry_now_stdlib.py'} --port {port}"
    launch += f" --state-dir {tmp_path / 'state'}"
    argv = ["load", "faults", "--launch", launch, "--target-url", f"http://127.0.0.1:{port}"]
    argv += ["--mock-profile", "fast", "--users", "3", "--duration", "3s"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    retried = next(r for r in load_records(tmp_path) if r.scenario == "retries")
    assert retried.labels["window"] == "faults-closed"
    assert retried.get("finding:retry_after_ignored").values[0] > 0
    (journal,) = retried.artifacts  # kept: the mock that wrote it is gone
    assert len((tmp_path / journal).read_text().splitlines()) == retried.params["entries"]
    out = capsys.readouterr().out
    summary, *findings = out.splitlines()
    assert summary.startswith("faults -> launch:retry_now_stdlib (closed)")
    assert any(line.startswith("FAIL retry_after_ignored x") for line in findings)


def test_a_locust_that_crashes_is_a_failed_run_said_in_one_line_never_a_target_with_0_ok(
    gateway: LoadTarget, mock_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As a locust child of an editable install a `git pull` moved on dies at import (R94).
    broken = tmp_path / "broken_locustfile.py"
    broken.write_text("import sfperf_test_module_that_is_not_installed\n")
    argv = ["load", str(broken), "--target-url", gateway.url, "--mock-url", mock_url]
    assert main([*argv, "--duration", "2s", "--out", str(tmp_path / "run")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no "0 requests, 0.0% ok" summary
    (line,) = [x for x in captured.err.splitlines() if x.startswith("sfperf load:")]
    assert line.startswith(f"sfperf load: failed: broken_locustfile -> {gateway.url[7:]}: ")
    said = "locust exited with code 1 before recording a request: ModuleNotFoundError: No module"
    assert f"{said} named 'sfperf_test_module_that_is_not_installed' (log: " in line
    assert "locust-0.log)" in line and "pip install -e ." in line
    assert {r.runner for r in load_records(tmp_path / "run")} == {"discover", "card"}


def test_a_launched_gateway_that_dies_mid_window_is_said_first_and_the_run_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # It exits 137 on its 31st chat request (discovery and warm-up take a few): R85.
    monkeypatch.setenv("SFGW_DIE_AFTER", "30")
    port = free_port()
    launch = f"{sys.executable} {SAMPLES / 'dying_stdlib.py'} --port {port}"
    launch += f" --state-dir {tmp_path / 'state'}"
    argv = ["load", "steady", "--launch", launch, "--target-url", f"http://127.0.0.1:{port}"]
    argv += ["--mock-profile", "fast", "--users", "3", "--duration", "3s"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 1
    said = [line for line in capsys.readouterr().err.splitlines() if "sfperf load:" in line]
    assert said[0].startswith("sfperf load: launch:dying_stdlib exited with code 137 (128 + "
                              "SIGKILL: killed, out of memory?) at ")  # fmt: skip
    assert " s into steady-closed, after " in said[0]
    record = next(r for r in load_records(tmp_path / "run") if r.runner == "load")
    assert record.partial and record.params["target_exit"]["code"] == 137
    upstream = record.params["upstream"]  # what a comparison checks is alike (R102)
    assert (upstream["mock"], upstream["profile"]) == ("sfperf", "fast")
    assert upstream["endpoints"]["chat-generations"]["latency"] == "none"
    assert 0 < record.params["target_exit"]["requests_before"] <= 30
    # The requests refused once it was gone are not measured: no claim counts them (R85).
    assert record.params["target_exit"]["requests_after"] > 0
    assert not [e for e in record.params["no_reply_errors"] if "ConnectionRefused" in e["body"]]
    assert "its exit decided are not measured" in said[0]


class HoldsAfterTwoOpen(ConstantReply):
    """The same, for the open loop's test (its own count and release)."""

    answered = 0
    release = threading.Event()

    def do_POST(self) -> None:
        HoldsAfterTwoOpen.answered += 1
        if HoldsAfterTwoOpen.answered > 2:
            HoldsAfterTwoOpen.release.wait(10.0)
        super().do_POST()


def test_an_open_loop_whose_users_are_all_held_counts_what_it_could_never_send(
    mock_url: str, tmp_path: Path
) -> None:
    # R90: 2 users for 10 req/s; after two replies both are held, so the schedule goes on alone.
    server = QuietServer(("127.0.0.1", 0), HoldsAfterTwoOpen)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        plan = LoadPlan("steady", users=2, duration_s=3, rate_rps=10.0)
        record, *_ = run_load(plan, LoadTarget("holds", url, mock_url), tmp_path)
    finally:
        HoldsAfterTwoOpen.release.set()
        server.shutdown()
        server.server_close()
    kept = record.params["open_loop"]
    assert 20 <= kept["scheduled"] <= 40 and kept["unsent"] + kept["due"] >= kept["scheduled"] - 6
    assert kept["unsent"] > 0  # those overdue by more than 2 s
    unsent = [e for e in record.params["no_reply_errors"] if "Unsent" in e["body"]]
    assert unsent == []  # not a reply the target left: the client never sent them
    assert sum(record.get("ok").values) <= 2 < len(record.get("ok").values)
