"""The OpenAI side of the gateway: parse requests, build completions, chunks and error bodies.

Pure functions over dicts, shared by the Flask and aiohttp servers. Text and usage are copied
from the upstream reply unchanged; nothing here strips, trims or rewrites them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness.subjects.gateway.model_names import resolve_model

ROUTES = {"chat": "chat-generations", "completions": "generations", "embeddings": "embeddings"}
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_WORD_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")

_USAGE_PATHS: tuple[tuple[str | int, ...], ...] = (
    ("generationDetails", "parameters", "usage"),
    ("parameters", "usage"),
    ("usage",),
)
_FINISH_PATHS: tuple[tuple[str | int, ...], ...] = (
    ("generation", "parameters", "finish_reason"),
    ("generationDetails", "generations", 0, "parameters", "finish_reason"),
    ("choices", 0, "finish_reason"),
    ("generations", 0, "finish_reason"),
    ("response", "finishReason"),
    ("result", "finish_reason"),
    ("candidates", 0, "finishReason"),
)


class RequestError(Exception):
    """A request the gateway refuses before calling upstream (OpenAI-style error fields)."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


# Not frozen: a frozen dataclass sets each field through object.__setattr__ (~5x slower to
# build), and these are built for every proxied request. Treat them as immutable all the same.
@dataclass(slots=True)
class Prepared:
    """A validated OpenAI request and the Models API call it becomes."""

    route: str
    endpoint: str
    model: str
    upstream_model: str
    body: Mapping[str, Any]
    stream: bool = False
    include_usage: bool = False


@dataclass(slots=True)  # not frozen: see Prepared
class Reply:
    """What the server sends: a JSON body, or SSE `events` when streaming."""

    status: int
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    events: tuple[str, ...] | None = None


def error_body(
    message: str, error_type: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def dig(node: Any, path: tuple[str | int, ...]) -> Any:
    """The value at `path` in nested dicts/lists, or None."""
    for step in path:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and len(node) > step else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _content(message: Any, index: int) -> dict[str, str]:
    if not isinstance(message, dict):
        raise RequestError(400, f"messages[{index}] must be an object", "invalid_type")
    role_name = message.get("role")
    role = _ROLES.get(role_name) if isinstance(role_name, str) else None
    if role is None:
        raise RequestError(400, f"messages[{index}].role is not supported", "invalid_value")
    content = message.get("content")
    if isinstance(content, list):  # content parts: only text parts can be forwarded
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        content = "".join(p for p in parts if isinstance(p, str)) if parts else None
    if not isinstance(content, str):
        raise RequestError(400, f"messages[{index}].content must be text", "invalid_type")
    return {"role": role, "content": content}


def _embeddings_body(request: Mapping[str, Any]) -> dict[str, Any]:
    texts = request.get("input")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise RequestError(400, "input must be a string or strings", "invalid_value", "input")
    return {"input": texts}


def _models_body(route: str, request: Mapping[str, Any]) -> dict[str, Any]:
    if route == "embeddings":
        return _embeddings_body(request)
    if route == "chat":
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(
                400, "messages must be a non-empty list", "invalid_value", "messages"
            )
        return {"messages": [_content(m, i) for i, m in enumerate(messages)]}
    prompt = request.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise RequestError(400, "prompt must be one string", "invalid_value", "prompt")
    return {"prompt": prompt}


def parse_request(route: str, raw: bytes) -> Prepared:
    """Validate an OpenAI request body for `route` (`chat` or `completions`)."""
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"request body is not JSON: {exc}", "invalid_json") from exc
    if not isinstance(request, dict):
        raise RequestError(400, "request body must be a JSON object", "invalid_json")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "model is required", "invalid_value", "model")
    upstream_model = resolve_model(model)
    if upstream_model is None:
        raise RequestError(404, f"The model `{model}` does not exist", "model_not_found", "model")
    if request.get("n", 1) != 1:  # the Models API returns one generation: never drop the rest
        raise RequestError(400, "only n=1 is supported", "unsupported_value", "n")
    options = request.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    body = _models_body(route, request)
    stream = request.get("stream") is True
    return Prepared(route, ROUTES[route], model, upstream_model, body, stream, include_usage)


def find_usage(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The usage block as the upstream sent it (OpenAI-style), or None if it sent none."""
    for path in _USAGE_PATHS:
        usage = dig(payload, path)
        if isinstance(usage, dict) and "prompt_tokens" in usage:
            return dict(usage)
    meta = payload.get("usageMetadata")
    if isinstance(meta, dict):
        return {
            "prompt_tokens": meta.get("promptTokenCount"),
            "completion_tokens": meta.get("candidatesTokenCount"),
            "total_tokens": meta.get("totalTokenCount"),
        }
    return None


def find_finish_reason(payload: Mapping[str, Any]) -> str:
    """The finish reason the upstream sent; `stop` for shapes that carry none, because OpenAI
    clients require one and a reply that came back whole has stopped."""
    for path in _FINISH_PATHS:
        reason = dig(payload, path)
        if isinstance(reason, str):
            return reason
    return "stop"


@dataclass(slots=True)  # not frozen: see Prepared
class Completion:
    """The pieces of one answer, ready to render as a completion or as chunks."""

    id: str
    created: int
    model: str
    text: str
    finish_reason: str
    usage: dict[str, Any] | None


def completion_body(route: str, c: Completion) -> dict[str, Any]:
    if route == "chat":
        message = {"role": "assistant", "content": c.text}
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": c.finish_reason}
        kind = "chat.completion"
    else:
        choice = {"index": 0, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}
        kind = "text_completion"
    body = {"id": c.id, "object": kind, "created": c.created, "model": c.model}
    return {**body, "choices": [choice], "usage": c.usage}


def embeddings_body(model: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """An OpenAI embeddings list from a Models API embeddings reply (None if it has none)."""
    vectors = payload.get("embeddings")
    if not isinstance(vectors, list) or not all(isinstance(v, dict) for v in vectors):
        return None
    data = [
        {"object": "embedding", "index": v.get("index", i), "embedding": v.get("embedding")}
        for i, v in enumerate(vectors)
    ]
    return {"object": "list", "data": data, "model": model, "usage": embeddings_usage(payload)}


def embeddings_usage(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """Embeddings usage (`parameters.usage`: prompt and total tokens), as the upstream sent it."""
    usage = dig(payload, ("parameters", "usage"))
    return dict(usage) if isinstance(usage, dict) else None


def split_words(text: str) -> list[str]:
    """Pieces that join back to exactly `text`: each word with the whitespace before it."""
    return [piece for piece in _WORD_BOUNDARY.split(text) if piece]


def _chunk(route: str, c: Completion, delta: Mapping[str, Any], finish: str | None) -> str:
    if route == "chat":
        choices: list[dict[str, Any]] = [{"index": 0, "delta": delta, "finish_reason": finish}]
        kind = "chat.completion.chunk"
    else:
        text = delta.get("content", "")
        choices = [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}]
        kind = "text_completion"
    body = {"id": c.id, "object": kind, "created": c.created, "model": c.model, "choices": choices}
    return f"data: {orjson.dumps(body).decode()}\n\n"


def stream_events(route: str, c: Completion, include_usage: bool) -> Iterator[str]:
    """SSE events: a role delta, one delta per word, a finish chunk, usage if asked, [DONE]."""
    if route == "chat":
        yield _chunk(route, c, {"role": "assistant", "content": ""}, None)
    for piece in split_words(c.text):
        yield _chunk(route, c, {"content": piece}, None)
    yield _chunk(route, c, {}, c.finish_reason)
    if include_usage:
        kind = "chat.completion.chunk" if route == "chat" else "text_completion"
        body = {"id": c.id, "object": kind, "created": c.created, "model": c.model}
        yield f"data: {orjson.dumps({**body, 'choices': [], 'usage': c.usage}).decode()}\n\n"
    yield "data: [DONE]\n\n"
