"""The sample third-party gateways (tests/samples/gateways/) start as launched targets against
the real mock, and each shows its one known defect where an outside observer can see it: the
launch shim's io report, the mock's journal, or the client's response. The clean one shows none.
"""

from __future__ import annotations

import contextlib
import http.client as http_client
import importlib.util
import itertools
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fidelity import ReplyOracle, UpstreamError, check_chat_completion
from harness.runners.load import LoadPlan, LoadTarget, run_load
from harness.targets import RunningTarget, open_target, target_from_args
from harness.targets.discovery import discover_model
from mock_salesforce.config import load_profile
from mock_salesforce.replies import expected_reply
from mock_salesforce.server import ThreadedMock, run_in_thread

GATEWAYS = Path(__file__).resolve().parents[1] / "samples" / "gateways"
SEED = 11
FRAMEWORKS = {"flask": "flask", "quart": "hypercorn", "fastapi": "uvicorn", "starlette": "uvicorn"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def needs(framework: str) -> pytest.MarkDecorator:
    """Skip (with how to fix it) when a sample's framework is not installed here."""
    missing = [m for m in (framework, FRAMEWORKS[framework]) if importlib.util.find_spec(m) is None]
    reason = f"{', '.join(missing)} not installed: pip install -e '.[dev]'"
    return pytest.mark.skipif(bool(missing), reason=reason)


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    with run_in_thread(load_profile("fast").patched({"seed": SEED})) as server:
        yield server


@pytest.fixture(scope="module")
def oracle(mock: ThreadedMock) -> ReplyOracle:
    return ReplyOracle.from_mock_config(mock.admin.config())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def launched(
    sample: str, mock_url: str, run_dir: Path, python: str = sys.executable, prefix: str = ""
) -> Iterator[RunningTarget]:
    """`sample`.py started as `--launch` does it, on a fixed port, state kept in `run_dir`;
    its --target-url ends in `prefix` (the path its routes live under)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{prefix}"
    command = f"{python} {GATEWAYS / sample}.py --port {port} --state-dir {run_dir / 'state'}"
    spec = target_from_args(None, url, command, metrics_path="/metrics/performance")
    with open_target(spec, mock_url=mock_url, run_dir=run_dir) as t:
        yield t


def http(url: str, body: Any = None) -> tuple[int, bytes]:
    """GET (or POST `body` as JSON): status and raw body, error statuses included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with _NO_PROXY.open(request, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read()


def ask(url: str, content: str, **fields: Any) -> tuple[dict[str, Any], int, bytes]:
    """One chat completion: (request, status, raw body)."""
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    request |= fields
    return (request, *http(url + "/v1/chat/completions", request))


def models_calls(mock: ThreadedMock, since: int) -> list[dict[str, Any]]:
    """The mock's journal entries for Models API requests after `since`."""
    return [e for e in mock.admin.journal(since=since) if e["endpoint"] not in ("token", "other")]


def last_seq(mock: ThreadedMock) -> int:
    return max((e["seq"] for e in mock.admin.journal()), default=0)


@needs("flask")
def test_the_token_file_gateway_reads_its_token_file_for_every_request(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    with launched("token_file_flask", mock.url, tmp_path) as target:
        for n in range(4):
            request, status, body = ask(target.url, f"token file {n}")
            assert check_chat_completion(request, status, body, oracle.chat(request)) == ()
    report = target.io_report()
    assert report is not None
    token_file = tmp_path / "state" / "token-file-flask" / "token.json"
    assert report["files"][str(token_file)]["reads"] >= 4
    assert report["files"][str(token_file)]["writes"] == 1  # one token, fetched once
    assert report["redirects"]["acme-sample.my.salesforce.com"] == 1


def test_a_gateway_on_bare_http_client_reaches_the_mock_and_discovery_chooses_its_model(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    from harness.targets.discovery import discover_model

    with launched("httpclient_stdlib", mock.url, tmp_path) as target:
        choice = discover_model(target.url, mock_url=mock.url)
        request, status, body = ask(target.url, "over http.client", model=choice.model)
        assert check_chat_completion(request, status, body, oracle.chat(request)) == ()
    assert choice.source == "probe" and choice.probes[-1].reached_mock is True
    report = target.io_report()
    assert report is not None and {"socket", "ssl"} <= set(report["patched"])
    assert report["redirects"]["api.salesforce.com"] >= 2  # a connection a call
    assert report["redirects"]["acme-sample.my.salesforce.com"] == 1


@needs("quart")
def test_the_zero_usage_gateway_relays_the_text_and_reports_zero_tokens(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    with launched("zero_usage_quart", mock.url, tmp_path) as target:
        request, status, body = ask(target.url, "count my tokens")
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["content"] == oracle.chat(request).text
    assert answer["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    kinds = check_chat_completion(request, status, body, oracle.chat(request))
    assert kinds == ("usage_mismatch",)


def test_the_error_200_gateway_answers_an_upstream_failure_with_200_and_the_error_as_text(
    oracle: ReplyOracle, tmp_path: Path
) -> None:
    failing = load_profile("fast").patched(
        {"seed": SEED, "faults": ["500:endpoint=chat-generations"]}
    )
    with run_in_thread(failing) as mock, launched("error_200_stdlib", mock.url, tmp_path) as target:
        request, status, body = ask(target.url, "this will fail upstream")
        journaled = models_calls(mock, 0)
    assert [e["status"] for e in journaled] == [500]
    assert status == 200
    assert json.loads(body)["choices"][0]["message"]["content"].startswith("Error: ")
    assert check_chat_completion(request, status, body, UpstreamError(500)) == ("error_in_200",)


def test_the_dropped_reply_gateway_closes_the_connection_when_the_upstream_fails_for_good(
    tmp_path: Path,
) -> None:
    failing = load_profile("fast").patched(
        {"seed": SEED, "faults": ["500:endpoint=chat-generations"]}
    )
    dropped = (urllib.error.URLError, ConnectionError, http_client.HTTPException)
    with run_in_thread(failing) as mock, launched("dropped_reply_stdlib", mock.url, tmp_path) as t:
        with pytest.raises(dropped):  # no status line came back: the connection just ended
            ask(t.url, "this will fail upstream")
        assert [e["status"] for e in models_calls(mock, 0)] == [500]


def test_a_sample_gateway_asks_for_a_fresh_token_when_a_retry_outlives_the_old_one(
    tmp_path: Path,
) -> None:
    """No second defect in what the samples share: a token that expires while a retry waits
    out a Retry-After is replaced before the retry, not sent expired."""
    short = load_profile("fast").patched({
        "seed": SEED, "token_lifetime_s": 1.5,
        "faults": ["429:first=1,retry_after=2,endpoint=chat-generations"],
    })  # fmt: skip
    with run_in_thread(short) as mock, launched("error_200_stdlib", mock.url, tmp_path) as target:
        status = ask(target.url, "retry me later")[1]
        journal = mock.admin.journal()
    calls = [e for e in journal if e["endpoint"] == "chat-generations"]
    assert status == 200
    assert [(e["status"], e["token_status"]) for e in calls] == [(429, "valid"), (200, "valid")]
    assert [e["endpoint"] for e in journal].count("token") == 2


@needs("flask")
def test_the_closed_loop_gateway_fails_every_request_after_the_first_without_calling_upstream(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    since = last_seq(mock)
    with launched("closed_loop_flask", mock.url, tmp_path) as target:
        answers = [ask(target.url, f"loop {n}")[1:] for n in range(3)]
        journaled = models_calls(mock, since)
    assert [status for status, _ in answers] == [200, 500, 500]
    assert json.loads(answers[1][1])["error"]["message"] == "Event loop is closed"
    assert len(journaled) == 1


def sse_arrivals(url: str, request: dict[str, Any]) -> tuple[bytes, list[float]]:
    """A streamed reply and the arrival times (s) of its `data:` lines."""
    data = json.dumps(request).encode()
    http_request = urllib.request.Request(
        url + "/v1/chat/completions", data=data, headers={"Content-Type": "application/json"}
    )
    lines, arrivals_s = [], []
    with _NO_PROXY.open(http_request, timeout=30) as response:
        for line in response:
            lines.append(line)
            if line.startswith(b"data:"):
                arrivals_s.append(time.perf_counter())
    return b"".join(lines), arrivals_s


@needs("fastapi")
def test_the_fake_stream_gateway_plays_a_finished_reply_back_at_its_own_pace(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    since = last_seq(mock)
    request = {"model": "gpt-4o-mini", "stream": True,
               "messages": [{"role": "user", "content": "stream it to me"}]}  # fmt: skip
    with launched("fake_stream_fastapi", mock.url, tmp_path) as target:
        raw, arrivals_s = sse_arrivals(target.url, request)
        journaled = models_calls(mock, since)
    assert check_chat_completion(request, 200, raw, oracle.chat(request)) == ()
    assert [e["latency_ms"] for e in journaled] == [0]  # the upstream took no time at all...
    gaps_s = [b - a for a, b in itertools.pairwise(arrivals_s)]
    assert len(gaps_s) > 5
    assert statistics.median(gaps_s) >= 0.015  # ...the gateway's 20 ms sleeps did


@needs("fastapi")
def test_the_uncounted_metrics_gateway_reports_no_requests_where_the_clean_one_counts_them(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    reports = {}
    for sample in ("uncounted_metrics_stdlib", "clean_fastapi"):
        since = last_seq(mock)
        with launched(sample, mock.url, tmp_path / sample) as target:
            assert [ask(target.url, f"{sample} {n}")[1] for n in range(3)] == [200, 200, 200]
            reports[sample] = target.metrics()
            assert len(models_calls(mock, since)) == 3
    assert reports["uncounted_metrics_stdlib"] == {
        "requests_total": 0, "upstream_calls_total": 0, "token_requests_total": 1,
        "token_cache_hit_rate": 1.0, "avg_latency_ms": 0.0,
    }  # fmt: skip
    clean = reports["clean_fastapi"] or {}
    assert (clean["requests_total"], clean["upstream_calls_total"]) == (3, 3)
    assert clean["token_cache_hit_rate"] == pytest.approx(2 / 3)
    assert clean["avg_latency_ms"] > 0


@needs("starlette")
def test_the_model_names_gateway_refuses_the_default_model_naming_the_ones_it_serves(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    since = last_seq(mock)
    with launched("model_names_starlette", mock.url, tmp_path) as target:
        listed = json.loads(http(target.url + "/v1/models")[1])
        _, refused_status, refused = ask(target.url, "default model")
        request, status, body = ask(target.url, "served model", model="claude-haiku")
        journaled = models_calls(mock, since)
    assert [m["id"] for m in listed["data"]] == ["claude-haiku", "gpt-4-mini"]
    assert refused_status == 404
    assert "claude-haiku" in refused.decode() and "gpt-4-mini" in refused.decode()
    assert check_chat_completion(request, status, body, oracle.chat(request)) == ()
    assert [e["model"] for e in journaled] == ["sfdc_ai__DefaultBedrockAnthropicClaude3Haiku"]


@needs("quart")
def test_the_rewrite_gateway_relays_the_reply_to_a_request_it_rewrote(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    since = last_seq(mock)
    with launched("rewrite_quart", mock.url, tmp_path) as target:
        request, status, body = ask(target.url, "rewrite me")
        journaled = models_calls(mock, since)
    [call] = journaled
    assert (call["endpoint"], call["model"]) == (
        "generations",
        "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku",
    )
    assert call["extra_fields"] == ["max Tokens"]
    rewritten = {"prompt": "user: rewrite me\nassistant:"}
    upstream = expected_reply(SEED, "generations", rewritten)
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["content"] == upstream.text  # relayed unchanged
    assert answer["usage"]["completion_tokens"] == upstream.completion_tokens
    # Judged against the client's request, the faithful relay looks wrong: the gap to close.
    assert "wrong_content" in check_chat_completion(request, status, body, oracle.chat(request))


@needs("fastapi")
def test_the_clean_gateway_is_faithful_plain_and_streamed_and_speaks_the_api_right(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    since = last_seq(mock)
    with launched("clean_fastapi", mock.url, tmp_path) as target:
        plain = ask(target.url, "clean plain")
        streamed = ask(target.url, "clean stream", stream=True,
                       stream_options={"include_usage": True})  # fmt: skip
        journal = mock.admin.journal(since=since)
    for request, status, body in (plain, streamed):
        assert check_chat_completion(request, status, body, oracle.chat(request)) == ()
    assert [e["endpoint"] for e in journal] == ["token", "chat-generations", "chat-generations"]
    calls = journal[1:]
    assert {(e["app_context"], e["feature_id"]) for e in calls} == {
        ("EinsteinGPT", "ai-platform-models-connected-app")
    }
    assert {e["token_status"] for e in calls} == {"valid"}
    assert all(not e["extra_fields"] for e in calls)


def test_a_gateway_that_mangles_utf8_is_named_for_it_and_the_raw_utf8_control_is_clean(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    # R77: every prompt and reply was ASCII, so a latin-1 decode or a stream cut inside
    # characters passed. The reply to this prompt holds characters of 2 to 4 UTF-8 bytes, one
    # of them across a 16-byte cut of the byte-chunking gateway.
    content = "Zoë's account in 東京"
    expected = oracle.chat({"messages": [{"role": "user", "content": content}]})
    assert max(map(ord, expected.text)) > 0xFFFF
    found: dict[str, list[tuple[str, ...]]] = {}
    for sample in ("latin1_stdlib", "byte_chunks_stdlib", "raw_utf8_stdlib"):
        with launched(sample, mock.url, tmp_path / sample) as target:
            asked = [ask(target.url, content), ask(target.url, content, stream=True)]
        found[sample] = [check_chat_completion(r, s, b, expected) for r, s, b in asked]
        escaped = [body.isascii() for _, _, body in asked]  # \u escapes, or raw UTF-8
        assert escaped == [sample != "raw_utf8_stdlib"] * 2
    assert found == {
        "latin1_stdlib": [("mojibake",), ("mojibake",)],
        "byte_chunks_stdlib": [(), ("broken_characters",)],
        "raw_utf8_stdlib": [(), ()],  # raw UTF-8, a stream cut inside characters on the wire
    }


def test_a_stdlib_gateway_launches_from_its_own_virtualenv_that_lacks_sfperf(
    mock: ThreadedMock, oracle: ReplyOracle, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "import harness"], capture_output=True, check=False, cwd=tmp_path
    )
    assert probe.returncode != 0  # the gateway's interpreter cannot import sfperf
    with launched("error_200_stdlib", mock.url, tmp_path, python=python) as target:
        health = json.loads(http(target.url + "/health")[1])
        request, status, body = ask(target.url, "from a foreign interpreter")
    assert health["python"] == python
    assert check_chat_completion(request, status, body, oracle.chat(request)) == ()
    report = target.io_report()
    assert report is not None
    assert report["redirects"] == {"acme-sample.my.salesforce.com": 1, "api.salesforce.com": 1}


def test_every_client_keeps_the_path_prefix_of_a_gateway_served_under_one(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    with launched("prefixed_stdlib", mock.url, tmp_path, prefix="/openai") as target:
        choice = discover_model(target.url, mock_url=mock.url)
        plan = LoadPlan("steady", users=2, duration_s=1, model=str(choice.model))
        record, *_ = run_load(plan, LoadTarget.of(target, mock.url), tmp_path)
        at_the_root = http(target.url.removesuffix("/openai") + "/v1/models")[0]
    assert choice.source == "probe" and choice.probes[0].reached_mock
    ok = record.get("ok").values
    assert ok and sum(ok) == len(ok)  # R47: the load sent them all to /v1/... at the root
    assert at_the_root == 404  # what a client dropping the prefix gets


def test_a_gateway_serving_only_chat_completions_is_ready_and_asked_the_given_model(
    mock: ThreadedMock, tmp_path: Path
) -> None:
    chat_only = f"env SFGW_CHAT_ONLY=1 {sys.executable}"  # no /health, no /v1/models (R41)
    with launched("prefixed_stdlib", mock.url, tmp_path, chat_only, "/openai") as target:
        choice = discover_model(target.url, requested="gpt-4o-mini", mock_url=mock.url)
    assert choice.model == "gpt-4o-mini" and choice.probes[0].reached_mock
    assert (choice.health, choice.listing) == (
        "GET /health answered 404",
        "GET /v1/models answered 404",
    )


def test_discovery_says_why_the_mock_refused_a_gateways_token_request(tmp_path: Path) -> None:
    # R59: the gateway only says "401 for .../oauth2/token"; the mock's journal says why.
    from harness.targets.discovery import discover_model

    others = ["3MVG9sample.gateway.consumer.key", "not-the-samples-secret"]
    config = load_profile("fast").patched({"seed": SEED, "credentials": others})
    with run_in_thread(config) as strict, launched("httpclient_stdlib", strict.url, tmp_path) as t:
        choice = discover_model(t.url, requested="gpt-4o-mini", mock_url=strict.url)
    assert choice.model is None
    assert ("never called the Models API (the mock refused its token request: 401 "
            "invalid_client: invalid client credentials)") in choice.reason  # fmt: skip
