import json
from typing import Any

import pytest

from mock_salesforce.errors import ApiError
from mock_salesforce.replies import key_and_texts
from mock_salesforce.validation import (
    check_body,
    check_headers,
    check_model,
    extra_fields,
    parse_body,
    plain_chat,
)

CHAT_MODEL = "sfdc_ai__DefaultGPT4OmniMini"
EMBED_MODEL = "sfdc_ai__DefaultOpenAITextEmbeddingAda_002"


def error_of(call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


def test_known_models_pass_and_unknown_ones_are_not_found() -> None:
    check_model("chat-generations", CHAT_MODEL)
    check_model("embeddings", EMBED_MODEL)
    assert error_of(check_model, "chat-generations", "gpt-4").status == 404
    assert error_of(check_model, "chat-generations", "gpt-4").error_code == "NOT_FOUND"


def test_embeddings_models_serve_only_embeddings() -> None:
    assert error_of(check_model, "generations", EMBED_MODEL).status == 404
    assert error_of(check_model, "embeddings", CHAT_MODEL).status == 404


def test_custom_models_are_accepted_when_configured() -> None:
    check_model("generations", "my_byollm", ["my_byollm"])


def test_missing_required_headers_are_bad_requests() -> None:
    check_headers({"x-sfdc-app-context": "EinsteinGPT", "x-client-feature-id": "f"})
    error = error_of(check_headers, {"x-sfdc-app-context": "EinsteinGPT"})
    assert (error.status, error.error_code) == (400, "MISSING_HEADER")
    assert "x-client-feature-id" in error.message


@pytest.mark.parametrize(
    "raw", [b"{", b"", b"\xff\xfe", b"[1, 2]", b"null", b'"text"', b"[" * 5000, b'{"a":' * 5000]
)
def test_malformed_or_non_object_json_is_a_bad_request(raw: bytes) -> None:
    error = error_of(parse_body, raw)
    assert error.status == 400
    assert error.error_code in ("JSON_PARSER_ERROR", "INVALID_TYPE")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"prompt": "x", "n": NaN}',  # beyond the standard: json takes these, orjson does not
        b'{"prompt": "\\ud800"}',
        b'\xef\xbb\xbf{"prompt": "x"}',
        b'{"prompt": "x", "t": 1e400}',
        b'{"prompt": "\\u00e9 \xc3\xa9", "a": 1, "a": [2.5, -0.0, null, true]}',
    ],
)
def test_a_body_parses_to_what_json_loads_makes_of_it(raw: bytes) -> None:
    assert repr(parse_body(raw)) == repr(json.loads(raw))


def test_a_malformed_body_is_described_as_json_describes_it() -> None:
    with pytest.raises(ValueError) as caught:
        json.loads(b'{"prompt": "x",}')
    assert error_of(parse_body, b'{"prompt": "x",}').message == f"Malformed JSON: {caught.value}"


@pytest.mark.parametrize(
    "endpoint, body, code",
    [
        ("generations", {}, "REQUIRED_FIELD_MISSING"),
        ("generations", {"prompt": ""}, "REQUIRED_FIELD_MISSING"),
        ("generations", {"prompt": 5}, "INVALID_TYPE"),
        ("chat-generations", {}, "REQUIRED_FIELD_MISSING"),
        ("chat-generations", {"messages": {}}, "INVALID_TYPE"),
        ("chat-generations", {"messages": ["hi"]}, "INVALID_TYPE"),
        ("chat-generations", {"messages": [{"content": "hi"}]}, "REQUIRED_FIELD_MISSING"),
        ("chat-generations", {"messages": [{"role": "bot", "content": "hi"}]}, "INVALID_TYPE"),
        ("chat-generations", {"messages": [{"role": ["user"], "content": "x"}]}, "INVALID_TYPE"),
        ("chat-generations", {"messages": [{"role": "user"}]}, "REQUIRED_FIELD_MISSING"),
        ("chat-generations", {"messages": [{"role": "user", "content": 1}]}, "INVALID_TYPE"),
        ("embeddings", {}, "REQUIRED_FIELD_MISSING"),
        ("embeddings", {"input": "text"}, "INVALID_TYPE"),
        ("embeddings", {"input": ["a", 1]}, "INVALID_TYPE"),
        ("feedback", {"id": "1"}, "REQUIRED_FIELD_MISSING"),
        ("feedback", {"id": "1", "generationId": "g", "feedback": "MEH"}, "INVALID_TYPE"),
        ("generations", {"prompt": "x", "localization": "en"}, "INVALID_TYPE"),
        ("generations", {"prompt": "x", "localization": {}}, "REQUIRED_FIELD_MISSING"),
        ("generations", {"prompt": "x", "tags": []}, "INVALID_TYPE"),
    ],
)
def test_each_schema_violation_gets_its_documented_error(
    endpoint: str, body: dict[str, Any], code: str
) -> None:
    error = error_of(check_body, endpoint, body)
    assert (error.status, error.error_code) == (400, code)


def test_valid_bodies_pass_and_extra_fields_are_tolerated_and_reported() -> None:
    body = {
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
        "temperature": 0.2,
        "max Tokens": 10,
        "localization": {"defaultLocale": "en_US"},
        "tags": None,
    }
    check_body("chat-generations", body)
    check_body("feedback", {"id": "1", "generationId": "g", "feedback": "GOOD"})
    assert extra_fields("chat-generations", body) == ("max Tokens", "temperature")


SYSTEM, USER = {"role": "system", "content": "s"}, {"role": "user", "content": "u"}
CHAT_BODIES: list[dict[str, Any]] = [
    {"messages": [SYSTEM, USER]},
    {"messages": [USER, {"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]},
    {"messages": [USER], "localization": {"defaultLocale": "en_US"}, "tags": {"a": "b"}},
    {"messages": [USER], "appFeedback": {}, "temperature": 0.2, "tags": None},
    {"messages": [SYSTEM]},  # valid, but no user message: keyed on the whole list
    {"messages": [USER], "localization": {}},
    {"messages": [USER], "localization": "en_US"},
    {"messages": [USER], "tags": []},
    {"messages": [USER], "appFeedback": "good"},
    {"messages": [USER, "hi"]},
    {"messages": [{"role": ["user"], "content": "x"}]},
    {"messages": [{"role": "user", "content": None}]},
    {"messages": [{"role": "user", "content": ["x"]}]},
    {"messages": [{"role": "bot", "content": "x"}]},
    {"messages": []},
    {"messages": {"role": "user", "content": "x"}},
    {},
]


A = '{"role": "user", "content": "a"}'
RAW_CHAT_BODIES = [json.dumps(body).encode() for body in CHAT_BODIES] + [
    f'{{"messages": [{A}], "messages": [{{"role": "system", "content": "s"}}]}}'.encode(),
    f'{{"messages": [{A}], "messages": [{{"role": "user", "content": "b"}}]}}'.encode(),
    f'{{"messages": [{A}], "x": NaN}}'.encode(),
    b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    f'{{"messages": [{A}], "localization": {{"defaultLocale": "en", "x": 1}}}}'.encode(),
    b'{"messages": [{"role": "user", "content": "a", "name": "n"}]}',
    f'{{"messages": [{A}], "n": 123456789012345678901234567890}}'.encode(),
    f'{{"messages": [{A}], "tags": {{"k": [1, {{"deep": null}}]}}}}'.encode(),
    f"[{A}]".encode(),
    b"\xef\xbb\xbf" + f'{{"messages": [{A}]}}'.encode(),
    f'{{"messages": [{A}]}} x'.encode(),
    f'{{"messages": [{A}], "tags": '.encode() + b'{"a":' * 3000,
    f'{{"messages": [{A}], "tags": {{"a": '.encode() + b"[" * 5000 + b"]" * 5000 + b"}}",
]  # fmt: skip


@pytest.mark.parametrize("raw", RAW_CHAT_BODIES)
def test_the_one_pass_chat_check_accepts_only_valid_bodies_and_keys_them_as_replies_do(
    raw: bytes,
) -> None:
    plain = plain_chat(raw)
    try:
        body = parse_body(raw)
        check_body("chat-generations", body)
    except ApiError:
        assert plain is None
    else:
        assert plain is None or plain == key_and_texts("chat-generations", body)


def test_the_common_chat_bodies_take_the_one_pass() -> None:
    assert plain_chat(RAW_CHAT_BODIES[0]) == ("u", ["s", "u"])
    taken = [plain_chat(raw) is not None for raw in RAW_CHAT_BODIES[:5]]
    assert taken == [True] * 4 + [False]
    assert plain_chat(RAW_CHAT_BODIES[len(CHAT_BODIES) + 1]) == ("b", ["b"])  # the last wins
