"""What sfperf's clients trust of an https target: the options checked at the edge, the choice
handed to child processes, and which errors are a TLS refusal to say at once."""

from __future__ import annotations

import ssl
import urllib.error
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.targets import target_from_args
from harness.targets.tls import TargetTls, target_tls, tls_refusal

URL = "https://127.0.0.1:8443/health"


def test_the_default_leaves_each_client_its_own_checks() -> None:
    assert TargetTls().default and TargetTls().context() is None
    assert TargetTls().aiohttp_ssl() is True


def test_insecure_checks_neither_the_chain_nor_the_host_name() -> None:
    context = TargetTls(insecure=True).context()
    assert context is not None
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)


def test_the_choice_reaches_a_child_process_as_it_was_made() -> None:
    chosen = TargetTls(ca_file="/etc/ca.pem")
    assert TargetTls.from_json(chosen.as_json()) == chosen
    assert TargetTls.from_json("") == TargetTls()


@pytest.mark.parametrize(
    ("ca_file", "insecure", "said"),
    [
        ("/nonexistent/ca.pem", False, "--target-ca /nonexistent/ca.pem: not a readable PEM file"),
        ("/etc/hostname", True, "--target-ca and --target-insecure exclude each other"),
    ],
)
def test_bad_tls_options_are_one_line_usage_errors(ca_file: str, insecure: bool, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        target_tls(ca_file, insecure)


def test_insecure_is_refused_for_a_remote_target() -> None:
    insecure = TargetTls(insecure=True)
    with pytest.raises(UsageError, match="--target-insecure is for a loopback target only"):
        target_from_args(None, "https://gw.example:443", None, allow_remote=True, tls=insecure)
    assert target_from_args(None, "https://localhost:8443", None, tls=insecure).tls == insecure


def test_a_certificate_refused_says_why_and_the_way_through() -> None:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    refused = tls_refusal(URL, urllib.error.URLError(error))
    assert refused is not None
    assert str(refused) == (
        f"{URL}: certificate verify failed (self-signed certificate): sfperf's clients check "
        "the target's certificate; give its CA with --target-ca FILE, or --target-insecure for "
        "a loopback target"
    )


def test_a_target_not_up_yet_is_no_tls_refusal() -> None:
    assert tls_refusal(URL, urllib.error.URLError(ConnectionRefusedError(111, "refused"))) is None
    assert tls_refusal(URL, TimeoutError()) is None


def test_tls_options_go_with_a_target_of_the_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--target-insecure", "--out", str(tmp_path)]) == 2
    assert "--target-insecure goes with --target-url or --launch" in capsys.readouterr().err
