import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_salesforce.corpus import Corpus, compile_shape, encode_text, load_corpus
from mock_salesforce.errors import ConfigError
from mock_salesforce.replies import embeddings_json

CORPUS = load_corpus()
VALUES = {
    "TEXT": encode_text('he said "hi" \u00e9'),
    "PROMPT_TOKENS": "3",
    "COMPLETION_TOKENS": "4",
    "TOTAL_TOKENS": "7",
    "FINISH_REASON": '"stop"',
    "CREATED": "1712258359",
    "PROVIDER_MODEL": '"gpt-4o-mini"',
    "GENERATION_ID": '"g-1"',
    "COMPLETION_ID": '"chatcmpl-1"',
    "RESPONSE_ID": '"R-1"',
    "EMBEDDINGS": embeddings_json(0, ("a", "b"), 4),
}


def at_path(document: Any, path: str) -> Any:
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d*)\]", path):
        document = document[name] if name else document[int(index) if index else 0]
    return document


def test_the_corpus_has_an_official_shape_for_each_endpoint() -> None:
    official = {s.endpoint for s in CORPUS.shapes.values() if s.official}
    assert official == {"generations", "chat-generations", "embeddings"}
    assert len(CORPUS.for_endpoint("chat-generations")) >= 9


@pytest.mark.parametrize("name", sorted(CORPUS.shapes))
def test_every_shape_renders_valid_json_with_the_text_where_it_says(name: str) -> None:
    shape = CORPUS.get(name)
    document = json.loads(shape.render(VALUES))
    assert "$" not in json.dumps(document)
    if shape.endpoint == "embeddings":
        assert len(document["embeddings"]) == 2
        assert document["embeddings"][1]["index"] == 1
    else:
        assert at_path(document, shape.text_path) == 'he said "hi" \u00e9'


def test_rendering_replaces_whole_values_with_numbers() -> None:
    document = json.loads(CORPUS.get("official-generations").render(VALUES))
    assert document["parameters"]["usage"] == {
        "completion_tokens": 4, "prompt_tokens": 3, "total_tokens": 7,
    }  # fmt: skip
    assert document["parameters"]["created"] == 1712258359


def test_a_shape_without_the_required_fields_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lacks"):
        compile_shape({"name": "x", "body": {}})
    with pytest.raises(ConfigError, match="endpoint"):
        compile_shape({"name": "x", "endpoint": "nope", "text_path": "t", "body": {}})


def test_duplicate_shape_names_are_rejected() -> None:
    shape = CORPUS.get("variant-output")
    with pytest.raises(ConfigError, match="twice"):
        Corpus([shape, shape])


def test_a_mix_naming_a_shape_that_cannot_serve_the_endpoint_is_rejected() -> None:
    with pytest.raises(ConfigError, match="does not serve"):
        CORPUS.check_mix({"embeddings": ["variant-output"]})
    with pytest.raises(ConfigError, match="unknown shape"):
        CORPUS.check_mix({"generations": ["no-such-shape"]})
    CORPUS.check_mix({"generations": ["variant-output", "official-generations"]})


def test_extra_shape_folders_are_loaded(tmp_path: Any) -> None:
    doc = {"name": "my-shape", "endpoint": "*", "text_path": "t", "body": {"t": "$TEXT"}}
    (tmp_path / "my.json").write_text(json.dumps(doc))
    corpus = load_corpus(tmp_path)
    assert corpus.get("my-shape").render({"TEXT": '"x"'}) == b'{"t":"x"}'


@given(st.text())
def test_a_text_is_encoded_exactly_as_json_dumps_encodes_it(text: str) -> None:
    assert encode_text(text) == json.dumps(text)


def test_every_ascii_character_is_encoded_as_json_dumps_encodes_it() -> None:
    for code in range(128):
        assert encode_text(f"a{chr(code)}b") == json.dumps(f"a{chr(code)}b"), hex(code)
