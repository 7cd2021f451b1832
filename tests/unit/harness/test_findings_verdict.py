"""`sfperf verdict` and journal reading, with the journal served by a stand-in (no sockets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.findings.journal import fetch_journal
from harness.store import load_records
from mock_salesforce.admin_client import AdminClient

MOCK = "http://127.0.0.1:9"  # never reached: the admin client's calls are answered in process


def entry(seq: int, **fields: Any) -> dict[str, Any]:
    return {
        "seq": seq, "request_id": f"r{seq}", "t_s": float(seq), "endpoint": "chat-generations",
        "model": "sfdc_ai__DefaultGPT4OmniMini", "client": "127.0.0.1:1", "body_sha256": f"b{seq}",
        "token_id": "t", "token_status": "valid", "status": 200, "fault": None,
        "retry_after_s": None, "app_context": "EinsteinGPT",
        "feature_id": "ai-platform-models-connected-app", "extra_fields": [], "duration_s": 0.01,
        "disconnected": False,
    } | fields  # fmt: skip


def serve(monkeypatch: pytest.MonkeyPatch, journal: list[dict[str, Any]], page: int = 2) -> None:
    """Answer the admin client's journal reads from `journal`, `page` entries at a time."""

    def call(client: AdminClient, method: str, path: str, document: Any = None) -> Any:
        since = int(parse_qs(urlsplit(path).query)["since"][0])
        return {"entries": [e for e in journal if e["seq"] > since][:page]}

    monkeypatch.setattr(AdminClient, "call", call)


def test_fetch_reads_every_page_after_since(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, [entry(i) for i in range(1, 8)])
    read = fetch_journal("http://mock", since=2)
    assert [e["seq"] for e in read.entries] == [3, 4, 5, 6, 7]
    assert read.last_seq == 7
    assert not read.lost


def test_fetch_notices_entries_the_ring_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, [entry(i) for i in range(50, 53)])
    assert fetch_journal("http://mock", since=0).lost


def test_an_answer_that_is_not_a_journal_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AdminClient, "call", lambda *_, **__: {"hello": "world"})
    with pytest.raises(UsageError, match="not a request journal"):
        fetch_journal("http://mock")


def test_verdict_saves_a_record_and_exits_zero_without_fail_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, [entry(1, app_context=None), entry(2)])
    code = main(["verdict", "--mock", MOCK, "--target", "gw", "--out", str(tmp_path)])
    (record,) = load_records(tmp_path)
    assert code == 0
    assert record.matches(runner="verdict", scenario="findings", target="gw")
    assert record.get("finding:bad_app_context").values == (1.0,)
    assert record.params["entries"] == 2
    assert record.artifacts == ("journal-gw.jsonl",)
    assert len((tmp_path / "journal-gw.jsonl").read_text().splitlines()) == 2
    assert "bad_app_context" in capsys.readouterr().out


def test_verdict_fails_on_a_fail_finding_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    serve(monkeypatch, [entry(1, token_status="expired", status=401)])
    assert main(["verdict", "--mock", MOCK, "--fail-on", "FAIL", "--out", str(tmp_path)]) == 1


def test_warnings_fail_only_with_fail_on_warn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    serve(monkeypatch, [entry(1, status=429)])  # given up without retry: a warning
    args = ["verdict", "--mock", MOCK, "--out", str(tmp_path), "--fail-on"]
    assert main([*args, "FAIL"]) == 0
    assert main([*args, "warn", "--append"]) == 1
    assert len(load_records(tmp_path)) == 2


def test_a_clean_target_passes_even_with_fail_on_warn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, [entry(i) for i in range(1, 5)])
    assert main(["verdict", "--mock", MOCK, "--fail-on", "WARN", "--out", str(tmp_path)]) == 0
    assert "no findings" in capsys.readouterr().out


def test_a_bad_policy_option_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, [])
    assert main(["verdict", "--mock", MOCK, "--max-attempts", "0"]) == 2
    assert "max-attempts" in capsys.readouterr().err


def test_without_a_mock_or_a_scenario_there_is_nothing_to_grade(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["verdict"]) == 2
    assert "--mock" in capsys.readouterr().err


def test_a_mock_url_with_a_scenario_only_goes_with_a_running_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["verdict", "--scenario", "resilience", "--mock", "http://127.0.0.1:9", "--quick"]
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert "--target-url" in capsys.readouterr().err


def test_json_output_lists_the_findings_for_tools(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, [entry(1, status=429)])
    assert main(["verdict", "--mock", MOCK, "--json", "--out", str(tmp_path)]) == 0
    (finding,) = json.loads(capsys.readouterr().out)
    assert finding["name"] == "gave_up"
    assert finding["severity"] == "WARN"


@pytest.mark.parametrize(
    ("argv", "model"),
    [(["--target-url", "http://127.0.0.1:9"], None), (["--launch", "python gw.py"], None),
     (["--target-url", "http://127.0.0.1:9", "--model", "gpt-4o"], "gpt-4o"),
     (["--variant", "async"], "gpt-4o-mini")],
)  # fmt: skip
def test_the_scenario_sends_a_users_gateway_the_model_discovered_on_it(
    argv: list[str], model: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # R138: the scenario sent sfperf's default to a gateway that serves other names.
    from harness.runners import resilience

    sent: list[str | None] = []

    def scenario(*_: Any, model: str | None = "", **__: Any) -> list[Any]:
        sent.append(model)
        raise UsageError("stop here")

    monkeypatch.setattr(resilience, "run_resilience", scenario)
    mock = ["--mock", "http://127.0.0.1:8"] if "--target-url" in argv else []
    main(["verdict", "--scenario", "resilience", *mock, *argv, "--quick", "--out", str(tmp_path)])
    assert sent == [model]
