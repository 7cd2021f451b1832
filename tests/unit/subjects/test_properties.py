"""Properties over generated inputs: streams never alter text, extractors never crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.subjects.extractors import legacy, priority
from harness.subjects.gateway.protocol import RequestError, parse_request, split_words

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "generation",
        "generatedText",
        "generationDetails",
        "generations",
        "content",
        "text",
        "choices",
    ]
)
SHAPED = st.recursive(
    st.text(max_size=5) | st.none() | st.integers(),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_stream_pieces_always_join_back_to_the_exact_text(text: str) -> None:
    assert "".join(split_words(text)) == text


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(KEYS, SHAPED, max_size=4) | st.dictionaries(st.text(), JSON, max_size=3))
def test_extractors_never_raise_and_agree_on_whether_there_is_text(body: dict[str, Any]) -> None:
    for endpoint in ("generations", "chat-generations"):
        old, new = legacy(body, endpoint), priority(body, endpoint)
        assert old.matched == new.matched
        assert old.text is None or isinstance(old.text, str)


@settings(max_examples=60, deadline=None)
@given(JSON)
def test_any_json_request_is_parsed_or_refused_never_crashes(document: Any) -> None:
    for route in ("chat", "completions"):
        try:
            parse_request(route, json.dumps(document).encode())
        except RequestError as exc:
            assert exc.status in (400, 404)
