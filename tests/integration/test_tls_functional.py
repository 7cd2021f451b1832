"""An https gateway with a self-signed certificate (tests/samples/gateways/tls_stdlib.py, its
certificate made here with openssl): a certificate sfperf's clients refuse is said at once, in one
line, with the way through, and `--target-ca` / `--target-insecure` reach every client sfperf
runs (discovery, the sweep's and the profile's clients, the metrics read, the locust users)."""

from __future__ import annotations

import shutil
import socket
import subprocess
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
from harness.targets.health import readiness
from harness.targets.tls import TargetTls, TlsRefused
from mock_salesforce.config import load_profile
from mock_salesforce.server import ThreadedMock, run_in_thread

GATEWAY = Path(__file__).resolve().parents[1] / "samples" / "gateways" / "tls_stdlib.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key): self-signed for 127.0.0.1, as a developer makes one for loopback."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)  # fmt: skip
    return cert, key


def command(run_dir: Path, certificate: tuple[Path, Path]) -> tuple[str, str]:
    """(https url, launch command) of the sample on a free port, its state in `run_dir`."""
    port, (cert, key) = free_port(), certificate
    launch = f"{sys.executable} {GATEWAY} --ssl-certfile {cert} --ssl-keyfile {key}"
    return f"https://127.0.0.1:{port}", f"{launch} --port {port} --state-dir {run_dir / 'state'}"


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    with run_in_thread(load_profile("fast")) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    mock: ThreadedMock, certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningTarget]:
    run_dir = tmp_path_factory.mktemp("tls-gateway")
    url, launch = command(run_dir, certificate)
    spec = target_from_args(None, url, launch, metrics_path="/metrics/performance",
                            tls=TargetTls(ca_file=str(certificate[0])))  # fmt: skip
    with open_target(spec, mock_url=mock.url, run_dir=run_dir) as running:
        yield running


def test_a_refused_certificate_is_said_at_once_with_the_way_through(
    tmp_path: Path, certificate: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, launch = command(tmp_path, certificate)
    argv = ["load", "steady", "--launch", launch, "--target-url", url, "--start-timeout", "600"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{url}/health: certificate verify failed (self-signed certificate)" in err
    assert "give its CA with --target-ca FILE, or --target-insecure for a loopback target" in err
    assert "after 600 s" not in err  # refused at the handshake, not waited out


def test_discovery_the_sweep_and_profile_clients_and_the_metrics_trust_the_given_ca(
    gateway: RunningTarget, mock: ThreadedMock
) -> None:
    with pytest.raises(TlsRefused):
        readiness(gateway.url)  # the system's CAs do not know it
    assert readiness(gateway.url, tls=TargetTls(insecure=True)).ready
    choice = discover_model(gateway.url, mock_url=mock.url, tls=gateway.tls)
    assert (choice.model, choice.source) == ("gpt-4o-mini", "probe")
    model = str(choice.model)
    subject = chat_subject(gateway.url, model, iter(range(10**6)), tls=gateway.tls)
    swept = measure_http(subject, 1, 0.3)
    assert swept.window.samples and all(s.ok for s in swept.window.samples)
    profiled = drive_load(gateway.url, 4, 2, 10.0, model=model, tls=gateway.tls)
    assert profiled.oks == [1, 1, 1, 1]
    assert (gateway.metrics() or {}).get("requests", 0) >= 5


@pytest.mark.parametrize("option", ["--target-ca", "--target-insecure"])
def test_the_locust_users_take_the_way_through(
    option: str, gateway: RunningTarget, mock: ThreadedMock, tmp_path: Path
) -> None:
    chosen = [option, str(gateway.tls.ca_file)] if option == "--target-ca" else [option]
    argv = ["load", "steady", "--target-url", gateway.url, "--mock-url", mock.url, *chosen]
    assert main([*argv, "--users", "1", "--duration", "1s", "--out", str(tmp_path)]) == 0
    record = next(r for r in load_records(tmp_path) if r.runner == "load")
    statuses = record.get("status").values
    assert statuses and set(statuses) == {200.0}
