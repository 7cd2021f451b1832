"""Request checks like the real Models API: models, headers, JSON, required fields and types.

Each check raises `ApiError` with the documented error object; unknown extra fields are
tolerated (real gateways send `temperature` or `"max Tokens"`) and reported by `extra_fields`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sized
from typing import Annotated, Any, Literal, get_args

import msgspec
import orjson

from mock_salesforce.errors import ApiError

_PREFIX = "sfdc_ai__Default"
_TEXT_MODEL_NAMES = (
    "BedrockAmazonNovaLite BedrockAmazonNovaPro BedrockAnthropicClaude3Haiku "
    "BedrockAnthropicClaude45Haiku BedrockAnthropicClaude37Sonnet "
    "BedrockAnthropicClaude4Sonnet BedrockAnthropicClaude45Sonnet BedrockAnthropicClaude46Sonnet "
    "GPT4Omni GPT4OmniMini GPT41 "
    "GPT41Mini GPT5 GPT5Mini GPT51 GPT55 O3 O4Mini OpenAIGPT4OmniMini VertexAIGemini20Flash001 "
    "VertexAIGemini20FlashLite001 VertexAIGemini25Flash001 VertexAIGemini25FlashLite001 "
    "VertexAIGeminiPro25 VertexAIGemini30Flash VertexAIGeminiPro30 VertexAIGeminiPro31 "
    "VertexAIGemini31FlashLite AzureOpenAIGPT35Turbo AzureOpenAIGPT35Turbo_16k "
    "AzureOpenAIGPT4Turbo OpenAIGPT35Turbo OpenAIGPT35Turbo_16k OpenAIGPT4 OpenAIGPT4_32k "
    "OpenAIGPT4Turbo"
)
TEXT_MODELS = frozenset(_PREFIX + name for name in _TEXT_MODEL_NAMES.split())
EMBEDDING_MODELS = frozenset(
    {_PREFIX + "OpenAITextEmbeddingAda_002", _PREFIX + "AzureOpenAITextEmbeddingAda_002"}
)
KNOWN_FIELDS = {
    "generations": frozenset({"prompt", "localization", "tags"}),
    "chat-generations": frozenset({"messages", "localization", "tags"}),
    "embeddings": frozenset({"input", "localization", "tags"}),
    "feedback": frozenset(
        {
            "id",
            "generationId",
            "feedback",
            "feedbackText",
            "source",
            "appFeedback",
            "appGenerationId",
            "appGeneration",
        }
    ),
}
Role = Literal["user", "assistant", "system"]
ROLES = frozenset(get_args(Role))  # one list for the checks and `plain_chat`'s schema
# The most body bytes each endpoint reads (413 past it): the Models endpoints take the configured
# `body_limit_bytes`; a token form or a feedback document never needs more than these.
SMALL_BODY_LIMITS_BYTES = {"token": 16_384, "feedback": 65_536}
MAX_EMBEDDING_DIMS = 4096  # text-embedding-3-large has 3072; one vector is one slice of work
REQUIRED_HEADERS = ("x-sfdc-app-context", "x-client-feature-id")


def body_limits_bytes(limit_bytes: int) -> dict[str, int]:
    """Per endpoint, the most body bytes read, given the configured limit."""
    limits = dict.fromkeys(("generations", "chat-generations", "embeddings"), limit_bytes)
    limits.update({e: min(cap, limit_bytes) for e, cap in SMALL_BODY_LIMITS_BYTES.items()})
    return limits


def check_model(endpoint: str, model: str, custom_models: Collection[str] = ()) -> None:
    """404 NOT_FOUND unless `model` serves `endpoint` (embeddings models only on embeddings)."""
    known = EMBEDDING_MODELS if endpoint == "embeddings" else TEXT_MODELS
    if model not in known and model not in custom_models:
        raise ApiError(404, "NOT_FOUND", f"Model {model!r} not found for {endpoint}")


def check_headers(headers: Mapping[str, str]) -> None:
    """400 MISSING_HEADER when a header the API marks required is absent or empty."""
    for name in REQUIRED_HEADERS:
        if not headers.get(name):
            raise ApiError(400, "MISSING_HEADER", f"Header {name} is required")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in `raw`, as `json.loads` makes it (parsed by orjson when it can, in a
    third of the time); 400 JSON_PARSER_ERROR / INVALID_TYPE otherwise.

    orjson refuses what json accepts beyond the JSON standard (NaN, a BOM, lone surrogates,
    numbers past a double), so json decides those and every error message stays json's. An
    integer past 64 bits comes back as a float: no reply, check or journal field reads one."""
    try:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError included
        raise ApiError(400, "JSON_PARSER_ERROR", f"Malformed JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "JSON_PARSER_ERROR", "Malformed JSON: nested too deep") from None
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_TYPE", "Request body must be a JSON object")
    return body


def check_body(endpoint: str, body: Mapping[str, Any]) -> None:
    """400 when a required field is missing or a documented field has the wrong type."""
    _CHECKS[endpoint](body)
    _check_optional_objects(body)


class _Message(msgspec.Struct):
    role: Role
    content: str


class _Localization(msgspec.Struct):
    defaultLocale: str


class _PlainChat(msgspec.Struct):
    """A valid chat-generations body in its common form, as `check_body` judges one (string
    contents; optional objects of the right type); other fields are ignored, as the API does."""

    messages: Annotated[list[_Message], msgspec.Meta(min_length=1)]
    localization: _Localization | None = None
    tags: dict[str, Any] | None = None
    appFeedback: dict[str, Any] | None = None


_PLAIN_CHAT = msgspec.json.Decoder(_PlainChat)


def plain_chat(raw: bytes) -> tuple[str, list[str]] | None:
    """The last user message's content and every message's, when `raw` is a valid
    chat-generations body in its common form with a user message; otherwise None, and
    `parse_body`, `check_body` and `replies.key_and_texts` decide.

    msgspec parses and checks it in one compiled pass (in less time than orjson's parse alone):
    every new chat body comes through here. Its schema restates the checks' rules for such a
    body; a test holds the two to the same answers over ordinary and odd bodies."""
    try:
        body = _PLAIN_CHAT.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # (a ValidationError is a DecodeError)
        return None
    key, texts = None, []
    for message in body.messages:
        texts.append(message.content)
        if message.role == "user":
            key = message.content
    return None if key is None else (key, texts)


def extra_fields(endpoint: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    """Top-level request fields the real API ignores, sorted."""
    known = KNOWN_FIELDS.get(endpoint, frozenset())
    if known.issuperset(body):  # the common case, without a generator
        return ()
    return tuple(sorted(k for k in body if k not in known))


def _required(body: Mapping[str, Any], field: str) -> Any:
    value = body.get(field)
    if value is None or value == "" or value == []:
        raise ApiError(400, "REQUIRED_FIELD_MISSING", f"Field is required: {field}")
    return value


def _wrong_type(field: str, expected: str) -> ApiError:
    return ApiError(400, "INVALID_TYPE", f"Field {field} must be {expected}")


def _check_generations(body: Mapping[str, Any]) -> None:
    if not isinstance(_required(body, "prompt"), str):
        raise _wrong_type("prompt", "a string")


def _check_chat(body: Mapping[str, Any]) -> None:
    messages = _required(body, "messages")
    if not isinstance(messages, list):
        raise _wrong_type("messages", "an array")
    for index, message in enumerate(messages):
        # The common case (a well-formed message) costs two lookups and no string building.
        role = message.get("role") if isinstance(message, dict) else None
        if isinstance(role, str) and role in ROLES and isinstance(message.get("content"), str):
            continue
        _check_message(f"messages[{index}]", message)


def _check_message(where: str, message: Any) -> None:
    """Raise the documented error for a malformed message."""
    if not isinstance(message, dict):
        raise _wrong_type(where, "an object")
    role = message.get("role")
    if role is None or role == "":
        raise ApiError(400, "REQUIRED_FIELD_MISSING", f"Field is required: {where}.role")
    if not isinstance(role, str) or role not in ROLES:
        raise _wrong_type(f"{where}.role", "one of user, assistant, system")
    if message.get("content") is None:
        raise ApiError(400, "REQUIRED_FIELD_MISSING", f"Field is required: {where}.content")
    raise _wrong_type(f"{where}.content", "a string")


def _check_embeddings(body: Mapping[str, Any]) -> None:
    inputs = _required(body, "input")
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise _wrong_type("input", "an array of strings")


def check_input_count(inputs: Sized, limit: int) -> None:
    """400 when an embeddings request has more inputs than `limit` (each costs a vector)."""
    if len(inputs) > limit:
        raise ApiError(400, "INVALID_INPUT", f"Field input has {len(inputs)} items, over {limit}")


def _check_feedback(body: Mapping[str, Any]) -> None:
    for field in ("id", "generationId"):
        if not isinstance(_required(body, field), str):
            raise _wrong_type(field, "a string")
    if body.get("feedback") not in (None, "GOOD", "BAD"):
        raise _wrong_type("feedback", "GOOD or BAD")
    for field in ("feedbackText", "source", "appGenerationId", "appGeneration"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise _wrong_type(field, "a string")


def _check_optional_objects(body: Mapping[str, Any]) -> None:
    for field in ("localization", "tags", "appFeedback"):
        if body.get(field) is not None and not isinstance(body[field], dict):
            raise _wrong_type(field, "an object")
    localization = body.get("localization")
    if isinstance(localization, dict) and not isinstance(localization.get("defaultLocale"), str):
        raise ApiError(
            400, "REQUIRED_FIELD_MISSING", "Field is required: localization.defaultLocale"
        )


_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "generations": _check_generations,
    "chat-generations": _check_chat,
    "embeddings": _check_embeddings,
    "feedback": _check_feedback,
}
