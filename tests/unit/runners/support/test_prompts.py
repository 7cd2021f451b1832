"""The load scenarios' request bodies: varied, marked, a share with the fields real clients send,
a share naming customers beyond ASCII, sent as raw UTF-8 or escaped."""

from __future__ import annotations

import json
import random

from scenarios.load._prompts import CLIENT_FIELDS, CUSTOMERS, STREAM_USAGE, chat_body, wire_text


def test_a_third_of_the_requests_carry_the_sampling_fields_real_openai_clients_send() -> None:
    # R82: a gateway that answered 500 to every request with max_tokens was "100.0% ok".
    rng = random.Random(7)
    bodies = [chat_body(rng, "gpt-4o-mini", stream=n % 2 == 0)[0] for n in range(300)]
    with_fields = [b for b in bodies if CLIENT_FIELDS.items() <= b.items()]
    assert 70 <= len(with_fields) <= 130
    plain = {"model", "messages", "stream", *STREAM_USAGE}
    assert all(set(b) <= plain for b in bodies if b not in with_fields)


def test_half_the_streamed_requests_ask_for_usage_in_the_stream_and_no_other_request_does() -> None:
    # R119: a gateway that never sent usage on a stream passed, because no request asked for it.
    rng = random.Random(8)
    streamed = [chat_body(rng, "m", stream=True)[0] for _ in range(400)]
    asking = [b for b in streamed if STREAM_USAGE.items() <= b.items()]
    assert 160 <= len(asking) <= 240
    assert not any("stream_options" in chat_body(rng, "m", False)[0] for _ in range(200))


def test_the_fields_leave_the_prompts_drawn_unchanged() -> None:
    # Chosen from the marker, not drawn: the same seed gives the same prompts, fields or not.
    first, second = random.Random(3), random.Random(3)
    for _ in range(50):
        (body, marker), (again, _) = chat_body(first, "m", False), chat_body(second, "m", True)
        assert body["messages"] == again["messages"] and marker in body["messages"][1]["content"]


def test_a_third_of_the_prompts_name_a_customer_beyond_ascii_and_every_one_is_named() -> None:
    # R77: every prompt was ASCII, so a gateway that mangled UTF-8 on its way up was never seen.
    rng = random.Random(5)
    contents = [chat_body(rng, "m", False)[0]["messages"][1]["content"] for _ in range(600)]
    named = [content for content in contents if not content.isascii()]
    assert 150 <= len(named) <= 250
    assert {c for c in CUSTOMERS if any(c in content for content in named)} == set(CUSTOMERS)


def test_bodies_go_out_raw_or_escaped_by_halves_and_read_back_the_same() -> None:
    rng = random.Random(6)
    sent = [(wire_text(body, marker), body) for body, marker in
            (chat_body(rng, "m", False) for _ in range(600))]  # fmt: skip
    assert all(json.loads(text) == body for text, body in sent)
    beyond = [text for text, body in sent if not json.dumps(body, ensure_ascii=False).isascii()]
    raw = [text for text in beyond if not text.isascii()]
    assert 0.35 < len(raw) / len(beyond) < 0.65
    assert any("\\ud83d\\ude80" in text for text in beyond)  # the emoji as a surrogate pair
