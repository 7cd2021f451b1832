"""The request journal: a bounded ring of one small tuple per request the mock saw.

Entry fields are a contract (docs/internals.md; gateway grading and the harness's join read
them): see `FIELDS`. A request keeps what the mock already holds (its body bytes, its reply's
text and numbers); digests, markers, system text and the fields the API ignores are derived
when the journal is read, so a request pays for none of them.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from typing import Any

from mock_salesforce.markers import find_markers
from mock_salesforce.replies import TEXT_ENDPOINTS, prompt_texts
from mock_salesforce.validation import KNOWN_FIELDS, extra_fields

# The stored tuple, in order: `body` is the request bytes (or, for a large body, its `BodyFacts`
# worked out at once) and `reply_utf8` the text the mock made for it, as UTF-8 (None: no reply
# was made).
STORED = (
    "seq", "request_id", "t_s", "endpoint", "model", "client", "body", "token_id",
    "token_status", "token_expires_t_s", "status", "shape", "fault", "latency_ms",
    "retry_after_s", "app_context", "feature_id", "duration_s", "disconnected",
    "error", "reply_utf8", "finish_reason", "prompt_tokens", "completion_tokens",
)  # fmt: skip
# What a reader gets, in order.
FIELDS = (
    "seq", "request_id", "t_s", "endpoint", "model", "client", "body_sha256", "token_id",
    "token_status", "token_expires_t_s", "status", "shape", "fault", "latency_ms",
    "retry_after_s", "app_context", "feature_id", "extra_fields", "duration_s", "disconnected",
    "error", "markers", "content_sha256", "system_text", "prompt_head", "reply_sha256",
    "finish_reason", "prompt_tokens", "completion_tokens",
)  # fmt: skip
LARGE_BODY_BYTES = 65_536  # bodies above this are summed up at once rather than kept
SYSTEM_TEXT_CHARS = 2000  # the journal shows this much of a request's system text
PROMPT_HEAD_CHARS = 2000  # and this much of a generations prompt
MODELS_ENDPOINTS = frozenset({"generations", "chat-generations", "embeddings"})

BodyFacts = tuple[str | None, tuple[str, ...], str | None, str | None, str | None, tuple[str, ...]]
"""(body_sha256, markers, content_sha256, system_text, prompt_head, extra_fields) of one
request body."""


class Journal:
    """The last `size` entries, oldest first; readers page with `since(seq)`."""

    def __init__(self, size: int) -> None:
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=max(size, 0))
        self.dropped = 0

    def append(self, entry: tuple[Any, ...]) -> None:
        """Add one entry (values in `STORED` order); the oldest falls off when full."""
        entries = self._entries
        if len(entries) == entries.maxlen:
            self.dropped += 1
            if not entries.maxlen:
                return
        entries.append(entry)

    def since(self, seq: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Entries with `seq` greater than `seq`, as dicts, oldest first."""
        selected = [e for e in self._entries if e[0] > seq]
        if limit is not None:
            selected = selected[:limit]
        return [_as_dict(e) for e in selected]

    def resize(self, size: int) -> None:
        """Change the bound, keeping the newest entries."""
        self._entries = deque(self._entries, maxlen=max(size, 0))

    def clear(self) -> None:
        self._entries.clear()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)


def kept_body(endpoint: str, body: bytes | None) -> bytes | BodyFacts | None:
    """What an entry keeps of a request body: the bytes themselves (a reference, no copy), or
    for a large body its facts now, so the ring never holds megabytes per entry."""
    if body is None or len(body) <= LARGE_BODY_BYTES:
        return body
    return body_facts(endpoint, body)


def body_facts(endpoint: str, body: bytes | None) -> BodyFacts:
    """The digests, markers, system text, prompt head and ignored fields of a request body
    (ignored: top-level fields of a JSON object body the real API does not read)."""
    if body is None:
        return None, (), None, None, None, ()
    sha256 = hashlib.sha256(body).hexdigest()
    if endpoint not in KNOWN_FIELDS:
        return sha256, (), None, None, None, ()
    document = _json_object(body)
    if document is None:
        markers = find_markers(body) if endpoint in MODELS_ENDPOINTS else ()
        return sha256, markers, None, None, None, ()
    ignored = extra_fields(endpoint, document)
    if endpoint not in MODELS_ENDPOINTS:
        return sha256, (), None, None, None, ignored
    texts = prompt_texts(endpoint, document)
    content_sha256 = hashlib.sha256("\n".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
    head = texts[0][:PROMPT_HEAD_CHARS] if endpoint == "generations" else None
    system_text = _system_text(endpoint, document)
    return sha256, find_markers(body), content_sha256, system_text, head, ignored


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _system_text(endpoint: str, document: dict[str, Any]) -> str | None:
    """The system messages' text of a chat request, joined (None when it has none)."""
    messages = document.get("messages") if endpoint == "chat-generations" else None
    if not isinstance(messages, list):
        return None
    texts = [
        str(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "system"
    ]
    return "\n".join(texts)[:SYSTEM_TEXT_CHARS] if texts else None


def text_sha256(text: str) -> str:
    """The digest the journal gives a reply text (`reply_sha256`), for a client to compare."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_ROUNDED = {"t_s": 6, "token_expires_t_s": 3, "latency_ms": 3, "duration_s": 6}


def _as_dict(entry: tuple[Any, ...]) -> dict[str, Any]:
    """One entry as a dict in `FIELDS` order, its derived fields worked out now and times
    rounded (they are kept raw: neither is hot-path work)."""
    stored = dict(zip(STORED, entry, strict=True))
    body, utf8 = stored.pop("body"), stored.pop("reply_utf8")
    facts = body if isinstance(body, tuple) else body_facts(stored["endpoint"], body)
    sha256, markers, content_sha256, system_text, prompt_head, ignored = facts
    stored.update(content_sha256=content_sha256, system_text=system_text, prompt_head=prompt_head)
    stored["body_sha256"] = sha256
    stored["markers"] = list(markers)
    stored["extra_fields"] = list(ignored)
    has_text = utf8 is not None and stored["endpoint"] in TEXT_ENDPOINTS
    stored["reply_sha256"] = hashlib.sha256(utf8).hexdigest() if has_text else None
    for name, digits in _ROUNDED.items():
        if isinstance(stored[name], float):
            stored[name] = round(stored[name], digits)
    return {name: stored[name] for name in FIELDS}
