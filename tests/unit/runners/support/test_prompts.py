"""The load scenarios' request bodies: varied, marked, a share with the fields real clients send."""

from __future__ import annotations

import random

from scenarios.load._prompts import CLIENT_FIELDS, chat_body


def test_a_third_of_the_requests_carry_the_sampling_fields_real_openai_clients_send() -> None:
    # R82: a gateway that answered 500 to every request with max_tokens was "100.0% ok".
    rng = random.Random(7)
    bodies = [chat_body(rng, "gpt-4o-mini", stream=n % 2 == 0)[0] for n in range(300)]
    with_fields = [b for b in bodies if CLIENT_FIELDS.items() <= b.items()]
    assert 70 <= len(with_fields) <= 130
    assert all(set(b) <= {"model", "messages", "stream"} for b in bodies if b not in with_fields)


def test_the_fields_leave_the_prompts_drawn_unchanged() -> None:
    # Chosen from the marker, not drawn: the same seed gives the same prompts, fields or not.
    first, second = random.Random(3), random.Random(3)
    for _ in range(50):
        (body, marker), (again, _) = chat_body(first, "m", False), chat_body(second, "m", True)
        assert body["messages"] == again["messages"] and marker in body["messages"][1]["content"]
