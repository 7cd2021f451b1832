"""Discovery as a step: when no probe of a launched gateway reached the mock, the shim's counts
say whether the redirect is to blame before the gateway is."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.card import discover
from harness.card.discover import _judged_by_the_mock_url, _judged_by_the_redirect, why_unreached
from harness.runners.load import LoadTarget
from harness.targets import TargetSpec
from harness.targets.discovery import ModelChoice
from harness.targets.probes import Probe
from harness.targets.tls import TlsRefused

URL = "http://127.0.0.1:9"
UNREACHABLE = Probe("gpt-4o-mini", 504, "upstream unreachable: Name or service not known", False)


def io(redirects: Mapping[str, int] = {}, others: Mapping[str, int] = {}) -> dict[str, Any]:
    return {"patched": ["socket", "ssl"], "redirects": dict(redirects), "other_hosts": dict(others)}


def test_nothing_redirected_blames_the_redirect_and_names_what_was_patched() -> None:
    said = why_unreached(io())
    assert "did not go through a client the shim redirects (patched: socket, ssl)" in said
    assert "never reached the mock" in said


def test_hosts_the_shim_does_not_redirect_are_named() -> None:
    said = why_unreached(io(others={"acme.lightning.force.com": 3}))
    assert "it looked up acme.lightning.force.com, which the shim does not redirect" in said


def test_a_gateway_that_is_not_shimmed_is_said_so_and_told_to_read_the_mocks_url() -> None:
    said = why_unreached(None, "http://127.0.0.1:4000")
    assert "the launch shim did not answer from the gateway" in said
    assert "must read SFPERF_MOCK_URL (set to http://127.0.0.1:4000 in its environment)" in said


def test_redirected_calls_leave_the_answers_to_the_gateway() -> None:
    assert why_unreached(io(redirects={"api.salesforce.com": 2})) == ""


def failed_choice(*probes: Probe) -> ModelChoice:
    return ModelChoice(None, "none", ("gpt-4o-mini",), probes)


def silent(mock_url: str) -> bool:
    return False  # the mock heard nothing from the gateway


def test_a_launched_gateway_whose_probes_never_reached_the_mock_is_not_judged_on_them() -> None:
    spec = TargetSpec(command="python gw.py", url=URL)
    target = LoadTarget("launch:gw", URL, "http://mock", io_snapshot=lambda label: io())
    choice = _judged_by_the_redirect(failed_choice(UNREACHABLE), spec, target, silent)
    assert choice.reason.startswith("its Salesforce calls never reached the mock")
    assert "no verdict on the gateway from its answers: 'gpt-4o-mini' -> HTTP 504" in choice.reason
    assert choice.as_params()["model_unreached"] == choice.unreached != ""


def test_a_probe_that_reached_the_mock_or_a_running_target_keeps_the_plain_reason() -> None:
    target = LoadTarget("t", URL, "http://mock", io_snapshot=lambda label: io())
    launched, running = TargetSpec(command="python gw.py", url=URL), TargetSpec(url=URL)
    reached = failed_choice(Probe("gpt-4o-mini", 500, "boom", True))
    assert _judged_by_the_redirect(reached, launched, target, silent) == reached
    unreached = failed_choice(UNREACHABLE)
    assert _judged_by_the_redirect(unreached, running, target, silent) == unreached
    assert unreached.reason.startswith("no model works on this target")


def test_a_refusal_of_the_gateways_own_or_a_mock_that_heard_from_it_blames_no_redirect() -> None:
    launched = TargetSpec(command="python gw.py", url=URL)
    target = LoadTarget("t", URL, "http://mock", io_snapshot=lambda label: io())
    refused = failed_choice(Probe("no-such-model", 404, "unknown model", False))
    assert _judged_by_the_redirect(refused, launched, target, silent) == refused
    unreached = failed_choice(UNREACHABLE)  # a token call reached the mock, by its own setting
    assert _judged_by_the_redirect(unreached, launched, target, lambda url: True) == unreached


def test_a_running_gateway_the_mock_heard_nothing_from_is_asked_whether_it_is_pointed_there() -> (
    None
):
    wrong_host = Probe("gpt-4o", 502, "ConnectError('Name or service not known')", False)
    choice = _judged_by_the_mock_url(failed_choice(wrong_host), "http://127.0.0.1:9211", ())
    assert choice.reason.startswith(
        "the gateway answered but never called the mock at http://127.0.0.1:9211: is it "
        "configured to use it"
    )
    assert "'gpt-4o' -> HTTP 502 but never called the Models API" in choice.reason


def test_a_running_gateway_that_refused_or_reached_the_mock_somehow_is_not_asked() -> None:
    wrong_host = failed_choice(Probe("gpt-4o", 502, "boom", False))
    token_only = ({"endpoint": "token", "status": 401},)  # it did call the mock: a bad secret
    assert _judged_by_the_mock_url(wrong_host, "http://mock", token_only) == wrong_host
    assert _judged_by_the_mock_url(wrong_host, "http://mock", None) == wrong_host  # cannot say
    refused = failed_choice(Probe("gpt-4o", 404, "unknown model", False))
    assert _judged_by_the_mock_url(refused, "http://mock", ()) == refused


def test_a_certificate_sfperf_refuses_is_said_as_such_not_as_a_target_that_did_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    said = "https://127.0.0.1:9/health: certificate verify failed (self-signed certificate): ..."

    def refuse(*args: object, **kwargs: object) -> None:
        raise TlsRefused(said)

    monkeypatch.setattr(discover, "serve_target", refuse)
    spec = TargetSpec(url="https://127.0.0.1:9", command="python gw.py")
    choice, journal = discover.discover_journaled(spec, tmp_path, seed=1)
    assert choice.model is None and journal is None
    assert choice.reason == f"sfperf could not talk to it: {said}"
    assert "did not start" not in choice.not_measured("it")
