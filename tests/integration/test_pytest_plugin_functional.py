"""The sfperf_mock pytest plugin, exercised the way a user's test suite uses it (pytester)."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Imported once here: pytester's in-process runs drop modules first imported inside them, so
# without this every run would import aiohttp and the mock again.
import mock_salesforce.server  # noqa: F401

pytest_plugins = ["pytester"]

CALL_HELPER = """
import json, urllib.error, urllib.request

MODEL = "sfdc_ai__DefaultGPT4Omni"

def chat(mock, content="hello"):
    body = json.dumps({"messages": [{"role": "user", "content": content}]}).encode()
    headers = {**mock.headers(), "Content-Type": "application/json"}
    request = urllib.request.Request(mock.model_url(MODEL), body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), json.load(reply)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest("")
    pytester.makepyfile(helper=CALL_HELPER)
    # Without hypothesis' plugin: its lazily imported modules would be re-imported (and their
    # asserts rewritten) in every in-process run, taking seconds each time.
    pytester.makeini(
        "[pytest]\naddopts = --strict-markers -p no:cacheprovider -p no:hypothesispytest\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    return pytester


def test_the_fixture_serves_tokens_and_models_api_calls_and_counts_them(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        """
        from helper import chat

        def test_call(sfperf_mock):
            assert sfperf_mock.url.startswith("http://127.0.0.1:")
            assert sfperf_mock.token_url == sfperf_mock.url + "/services/oauth2/token"
            assert sfperf_mock.models_url == sfperf_mock.url + "/einstein/platform/v1"
            status, headers, body = chat(sfperf_mock)
            assert status == 200
            assert headers["x-sfperf-shape"] == "official-chat-generations"
            assert body["generationDetails"]["generations"][0]["content"]
            counters = sfperf_mock.admin.counters()
            assert counters["by_endpoint"] == {"token": 1, "chat-generations": 1}
            assert sfperf_mock.config.profile == "fast"
        """
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_markers_and_the_factory_configure_each_mock(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from helper import chat

        @pytest.mark.sfperf_mock(seed=7, latency="fixed:5ms", faults=["503:first=1"])
        def test_seed_latency_and_faults(sfperf_mock):
            assert sfperf_mock.config.seed == 7
            first, second = chat(sfperf_mock), chat(sfperf_mock)
            assert first[0] == 503 and first[2]["errorCode"]
            assert second[0] == 200
            assert float(second[1]["x-sfperf-latency-ms"]) == 5.0

        @pytest.mark.sfperf_mock(profile="salesforce-prod", quotas={"embeddings": 5})
        def test_profile(sfperf_mock):
            assert sfperf_mock.config.profile == "salesforce-prod"
            assert sfperf_mock.config.quotas_rpm["embeddings"] == 5
            assert sfperf_mock.config.quotas_rpm["generations"] == 10000

        def test_factory(sfperf_mock_factory):
            healthy = sfperf_mock_factory(seed=1)
            broken = sfperf_mock_factory(seed=2, faults=["500"])
            assert healthy.url != broken.url
            assert chat(healthy)[0] == 200
            assert chat(broken)[0] == 500
            assert healthy.admin.counters()["by_status"] == {"200": 2}
        """
    )
    suite.runpytest().assert_outcomes(passed=3)


def test_the_admin_client_changes_the_running_mock(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        from helper import chat

        def test_admin(sfperf_mock):
            sfperf_mock.admin.set_latency("fixed:3ms")
            sfperf_mock.admin.add_fault("429:first=1,retry_after=2")
            status, headers, body = chat(sfperf_mock)
            assert (status, headers["Retry-After"]) == (429, "2")
            assert body["errorCode"] == "LIMIT_EXCEEDED"
            assert chat(sfperf_mock)[1]["x-sfperf-latency-ms"] == "3.000"
            journal = sfperf_mock.admin.journal()
            assert [e["status"] for e in journal if e["endpoint"] != "token"] == [429, 200]
            sfperf_mock.admin.reset()
            assert sfperf_mock.admin.counters()["requests"] == 0
        """
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_same_seed_gives_the_same_replies_in_separate_tests(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import json, pytest
        from helper import chat

        @pytest.mark.parametrize("run", [1, 2])
        def test_reply(sfperf_mock, run, tmp_path_factory):
            status, headers, body = chat(sfperf_mock, "the same question")
            text = body["generationDetails"]["generations"][0]["content"]
            out = tmp_path_factory.getbasetemp() / f"reply-{run}.txt"
            out.write_text(text)
        """
    )
    suite.runpytest(
        "--sfperf-mock-seed", "5", "--basetemp", str(suite.path / "tmp")
    ).assert_outcomes(passed=2)
    replies = [(suite.path / "tmp" / f"reply-{run}.txt").read_text() for run in (1, 2)]
    assert replies[0] == replies[1] != ""


def test_each_mock_stops_when_its_test_ends(suite: pytest.Pytester, tmp_path: Path) -> None:
    url_file = tmp_path / "url.txt"
    suite.makepyfile(
        f"""
        import pathlib

        def test_remember_url(sfperf_mock):
            pathlib.Path({str(url_file)!r}).write_text(sfperf_mock.url)
        """
    )
    suite.runpytest().assert_outcomes(passed=1)
    parts = urlsplit(url_file.read_text())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()


def test_the_responses_fixture_answers_salesforce_urls_per_the_marker(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        """
        import aiohttp, pytest

        FORM = {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}

        @pytest.mark.sfperf_mock(faults=["503:endpoint=token"])
        async def test_token_outage(sfperf_salesforce_responses):
            async with aiohttp.ClientSession() as session:
                url = "https://acme.my.salesforce.com/services/oauth2/token"
                async with session.post(url, data=FORM) as reply:
                    assert reply.status == 503
            counters = sfperf_salesforce_responses.admin.counters()
            assert counters["by_fault"] == {"503": 1}
        """
    )
    suite.runpytest("-o", "asyncio_mode=auto").assert_outcomes(passed=1)


def test_bad_marker_use_fails_setup_with_a_one_line_reason(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.sfperf_mock(faults=["418:p=0.5"])
        def test_bad_spec(sfperf_mock):
            pass

        @pytest.mark.sfperf_mock("salesforce-prod")
        def test_positional(sfperf_mock):
            pass
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*ConfigError*418*", "*keyword arguments only*"])


def test_the_marker_is_registered_for_strict_markers(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.sfperf_mock(*"])
