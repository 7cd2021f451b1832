import hashlib
import json
import random

from mock_salesforce.counters import Counters
from mock_salesforce.journal import (
    FIELDS,
    LARGE_BODY_BYTES,
    STORED,
    Journal,
    kept_body,
    text_sha256,
)
from mock_salesforce.markers import find_markers, new_marker


def entry(seq: int, **values: object) -> tuple[object, ...]:
    stored = dict.fromkeys(STORED) | {"seq": seq, "endpoint": "chat-generations"} | values
    return tuple(stored[name] for name in STORED)


def one_entry(**values: object) -> dict[str, object]:
    journal = Journal(1)
    journal.append(entry(1, **values))
    (document,) = journal.since(0)
    return document


def test_the_journal_keeps_the_newest_entries_and_counts_the_dropped() -> None:
    journal = Journal(3)
    for seq in range(1, 6):
        journal.append(entry(seq))
    assert [e["seq"] for e in journal.since(0)] == [3, 4, 5]
    assert journal.dropped == 2


def test_since_pages_after_a_sequence_number_with_a_limit() -> None:
    journal = Journal(10)
    for seq in range(1, 8):
        journal.append(entry(seq))
    assert [e["seq"] for e in journal.since(4)] == [5, 6, 7]
    assert [e["seq"] for e in journal.since(0, limit=2)] == [1, 2]
    assert set(journal.since(6)[0]) == set(FIELDS)


def test_a_zero_sized_journal_keeps_nothing() -> None:
    journal = Journal(0)
    journal.append(entry(1))
    assert journal.since(0) == [] and journal.dropped == 1


def test_counters_add_up_and_reset() -> None:
    counters = Counters()
    counters.count("chat-generations", 200, "official-chat-generations", None, 5.0)
    counters.count("chat-generations", 500, None, "500", 2.5)
    counters.count_token_check("valid")
    snapshot = counters.snapshot()
    assert snapshot["requests"] == 2
    assert snapshot["by_status"] == {"200": 1, "500": 1}
    assert snapshot["by_fault"] == {"500": 1}
    assert snapshot["injected_latency_ms_total"] == 7.5
    assert snapshot["by_token_status"] == {"valid": 1}
    counters.reset()
    assert counters.snapshot()["requests"] == 0


def test_an_entry_derives_digests_markers_and_system_text_from_the_body_it_kept() -> None:
    marker = new_marker(random.Random(1))
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": f"Summarise a lead. ({marker})"},
    ]
    raw = json.dumps({"messages": messages, "max Tokens": 9}).encode()
    document = one_entry(body=raw, reply_utf8=b"ok then", finish_reason="stop",
                         prompt_tokens=7, completion_tokens=2)  # fmt: skip
    assert document["body_sha256"] == hashlib.sha256(raw).hexdigest()
    assert document["markers"] == [marker]
    content = f"Be brief.\nSummarise a lead. ({marker})".encode()
    assert document["content_sha256"] == hashlib.sha256(content).hexdigest()
    assert document["system_text"] == "Be brief." and document["prompt_head"] is None
    assert document["reply_sha256"] == text_sha256("ok then")
    assert (document["finish_reason"], document["prompt_tokens"]) == ("stop", 7)
    assert document["extra_fields"] == ["max Tokens"]
    assert list(document) == list(FIELDS)


def test_the_fields_the_api_ignores_are_read_from_the_kept_body_of_every_endpoint() -> None:
    feedback = json.dumps({"id": "f", "generationId": "g", "note": 1}).encode()
    assert one_entry(endpoint="feedback", body=feedback)["extra_fields"] == ["note"]
    chat = json.dumps({"messages": [], "top_p": 1, "localization": {}, "n": 2}).encode()
    assert one_entry(body=chat)["extra_fields"] == ["n", "top_p"]
    assert one_entry(body=b'["not", "an object"]')["extra_fields"] == []
    assert one_entry(endpoint="token", body=b"grant_type=client_credentials")["extra_fields"] == []


def test_a_generations_entry_shows_the_head_of_its_prompt() -> None:
    prompt = "System: House rules.\nUser: hi (sfpm0123456789abcdef)\n" + "x" * 3000
    document = one_entry(endpoint="generations", body=json.dumps({"prompt": prompt}).encode())
    assert document["prompt_head"] == prompt[:2000] and document["system_text"] is None


def test_an_entry_without_a_reply_or_a_readable_body_shows_nulls() -> None:
    document = one_entry(body=b"{not json sfpm0123456789abcdef")
    assert document["markers"] == ["sfpm0123456789abcdef"]
    assert document["content_sha256"] is None and document["system_text"] is None
    assert document["reply_sha256"] is None and document["completion_tokens"] is None
    assert one_entry(body=None)["body_sha256"] is None


def test_a_large_body_is_summed_up_at_once_instead_of_kept() -> None:
    raw = json.dumps({"prompt": "x" * LARGE_BODY_BYTES + " sfpm00000000000000ff"}).encode()
    kept = kept_body("generations", raw)
    assert isinstance(kept, tuple)
    document = one_entry(endpoint="generations", body=kept)
    assert document["body_sha256"] == hashlib.sha256(raw).hexdigest()
    assert document["markers"] == ["sfpm00000000000000ff"]
    assert document["extra_fields"] == []
    assert kept_body("generations", b"{}") == b"{}"


def test_markers_are_found_after_escapes_in_any_case_once_and_only_whole() -> None:
    raw = b'{"prompt": "system: x\\nuser: hi\\nSFPM00000000000000AA\\nassistant:"}'
    assert find_markers(raw) == ("sfpm00000000000000aa",)
    assert find_markers(raw + b"sfpm00000000000000aa sfpm00000000000000bb") == (
        "sfpm00000000000000aa",
        "sfpm00000000000000bb",
    )
    assert find_markers(b"sfpm00000000000000aa0") == ()
    rng = random.Random(3)
    assert new_marker(rng) != new_marker(rng)
