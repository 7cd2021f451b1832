import json
from pathlib import Path

import pytest

from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.corpus import load_corpus
from mock_salesforce.errors import ConfigError
from mock_salesforce.recorder import checked_upstream, endpoint_of, redact
from mock_salesforce.recording import FORMAT, match_shape, parse_recording, recording_to_profile
from mock_salesforce.state import build_runtime

CORPUS = load_corpus()


def test_a_rendered_shape_is_recognised_by_its_structure() -> None:
    values = {k: '"x"' for k in ("TEXT", "FINISH_REASON", "PROVIDER_MODEL", "GENERATION_ID",
              "COMPLETION_ID", "RESPONSE_ID")}  # fmt: skip
    values.update(
        {k: "1" for k in ("PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS", "CREATED")}
    )
    for name in ("official-chat-generations", "variant-openai-choices", "variant-top-text"):
        body = json.loads(CORPUS.get(name).render(values))
        assert match_shape(CORPUS, "chat-generations", body) == name
    assert match_shape(CORPUS, "chat-generations", {"something": "else"}) is None


def test_redaction_keeps_lengths_and_structure_but_no_text() -> None:
    document = {"messages": [{"role": "user", "content": "secret plan"}], "n": 3,
                "embedding": [0.5, -0.2], "finish_reason": "stop"}  # fmt: skip
    redacted = redact(document)
    assert redacted["messages"][0] == {"role": "user", "content": "x" * 11}
    assert redacted["embedding"] == [0.0, 0.0]
    assert redacted["n"] == 3 and redacted["finish_reason"] == "stop"
    assert "secret" not in json.dumps(redacted)


def test_paths_map_to_journal_endpoint_names() -> None:
    assert endpoint_of("/services/oauth2/token") == ("token", None)
    assert endpoint_of("/einstein/platform/v1/models/m/embeddings") == ("embeddings", "m")
    assert endpoint_of("/einstein/platform/v1/feedback") == ("feedback", None)
    assert endpoint_of("/elsewhere") == ("other", None)


def test_a_recording_replays_its_shapes_latencies_and_error_rates() -> None:
    entries = [
        {"endpoint": "chat-generations", "status": 200, "latency_ms": 100.0,
         "shape": "variant-top-text"},
        {"endpoint": "chat-generations", "status": 200, "latency_ms": 300.0,
         "shape": "official-chat-generations"},
        {"endpoint": "chat-generations", "status": 503, "latency_ms": 5.0, "shape": None},
        {"endpoint": "token", "status": 200, "latency_ms": 50.0, "shape": None},
    ]  # fmt: skip
    profile = recording_to_profile({"format": FORMAT, "entries": entries})
    assert profile["mix"] == {
        "chat-generations": {"variant-top-text": 1, "official-chat-generations": 1}
    }
    assert profile["latency"]["chat-generations"].startswith("empirical:[100.000ms,300.000ms")
    assert profile["faults"] == ["503:p=0.333333,endpoint=chat-generations"]
    build_runtime(MockConfig.from_mapping(profile), CORPUS)


def test_a_document_that_is_not_a_recording_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="recording"):
        recording_to_profile({"format": "other"})


def lines(*documents: object) -> str:
    return "".join(json.dumps(document) + "\n" for document in documents)


def test_a_recording_is_read_line_by_line_and_a_cut_last_line_is_left_out() -> None:
    header = {"format": FORMAT, "recorded_from": "http://up", "redacted": True}
    entry = {"endpoint": "chat-generations", "status": 200, "latency_ms": 3.0, "shape": None}
    recording = parse_recording(lines(header, entry, entry) + '{"endpoint": "chat-gen')
    assert recording is not None and recording["entries"] == [entry, entry]
    assert recording["recorded_from"] == "http://up"
    with pytest.raises(ConfigError, match="not JSON"):
        parse_recording(lines(header) + "{broken\n" + lines(entry))
    assert parse_recording('{"format": "sfperf-recording/1", "entries": []}') is None
    assert parse_recording("seed = 3\n") is None


def test_a_format_1_recording_still_replays(tmp_path: Path) -> None:
    entry = {"endpoint": "embeddings", "status": 200, "latency_ms": 9.0, "shape": None}
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": "sfperf-recording/1", "entries": [entry]}, indent=1))
    assert load_profile(str(old)).latency["embeddings"] == "empirical:[9.000ms]"


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://me:hunter2@up.example", "user or password"),
        ("http://me@up.example", "user or password"),
        ("https://", "with a host"),
        ("up.example", "http"),
    ],
)
def test_an_upstream_with_credentials_or_without_a_host_is_refused(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as refused:
        checked_upstream(url)
    assert "hunter2" not in str(refused.value)
    assert checked_upstream("https://up.example/") == "https://up.example"
