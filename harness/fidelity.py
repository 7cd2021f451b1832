"""Fidelity: does what came through a target equal what the upstream sent for that request?

The truth is what the mock really answered the upstream call(s) the gateway made for a client
request, found through the request's marker in the mock's journal (`harness.join`): a gateway
that rewrites a request (adds a system prompt, flattens chat into a prompt, routes it to another
model) but relays the reply unchanged is faithful. Without a journal, the reply is predicted: the
mock's reply is a pure function of its seed and the request content
(`mock_salesforce.replies.expected_reply`), which holds only while the gateway sends the client's
content on unchanged. A check returns the mismatch kinds found (empty = faithful):

- `dropped`: no HTTP answer at all (connection refused/reset, timeout, stream cut before [DONE])
- `not_streamed`: a request that asked for a stream got one whole JSON completion instead: an
  OpenAI client iterating the stream reads no text (its text is judged as well)
- `not_sse`: a 200 to a request that asked for a stream is the reply's text itself, in raw
  chunks (`text/plain`), with no SSE `data:` events: an OpenAI client reads nothing (its text
  is judged as well; it can carry no finish reason or usage, which are not judged, R117)
- `wrong_status`: an error status where the mock answered, a 200 where the mock failed, or an
  error status that does not fit the mock's (an `UpstreamError`: 404 stays 404, 429 stays 429,
  upstream failures become 502/503/504)
- `error_in_200`: a 200 whose body is an error object or whose text is an error message
- `missing_content`: a 200 without a readable completion text
- `wrong_content`: text or finish reason differs from what the mock sent
- `mojibake`: the text is not the mock's, and reads as UTF-8 taken one byte a character (latin-1
  or cp1252): every accent, CJK character or emoji became two to four others (R77)
- `broken_characters`: the text is not the mock's, and holds U+FFFD replacement characters (the
  mock never sends one): UTF-8 cut inside a character (a stream re-chunked by bytes, a body cut
  by bytes) or decoded with its errors replaced; or lone UTF-16 surrogates (`split_characters`):
  a character beyond the BMP (an emoji) cut in two by UTF-16 code units, each half sent as its
  own `\ud83d` escape, as a JS gateway slicing a reply into stream chunks does (R113)
- `crossed`: the text is the upstream's reply to ANOTHER request (found by the join,
  `harness.join`): the client got someone else's answer, a leak between clients (state shared
  across requests); it replaces `wrong_content`, and its usage is judged against that reply
- `usage_mismatch`: usage missing or not the mock's (completion tokens exact; prompt tokens
  exact against the journal, at least the request's own against a prediction, since a gateway
  may add a system prompt the mock then counts; total = prompt + completion)

An answer is judged on its `AnswerFacts` (text digest, finish reason, usage, a few flags), small
enough for a load row to keep until the run's journal is read. Checks are pure and cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.records import Series
from mock_salesforce.journal import text_sha256
from mock_salesforce.replies import (
    DEFAULT_LENGTHS,
    OFFICIAL_MIX,
    Reply,
    ReplyLengths,
    ShapeMix,
    expected_reply,
    parse_lengths,
)

KINDS = (
    "crossed",
    "wrong_content",
    "mojibake",
    "broken_characters",
    "missing_content",
    "error_in_200",
    "usage_mismatch",
    "wrong_status",
    "dropped",
    "not_streamed",
    "not_sse",
)
Body = bytes | str | Mapping[str, Any] | None
_ERROR_START = re.compile(
    r"\W*(error|exception|traceback|failed|failure|internal server error|bad gateway|"
    r"service unavailable|gateway timeout|upstream|too many requests|unauthori[sz]ed)\b",
    re.IGNORECASE,
)
_ERROR_STATUS = re.compile(r"\b(status|status code|http)\s*[:=]?\s*[45]\d\d\b", re.IGNORECASE)
_STATUS_DIGITS = re.compile(r"[45]\d\d")  # a cheap first look: most texts have no such number
# A UTF-16 surrogate in a decoded text: JSON lets `\ud83d` stand alone, and Python's json keeps
# it as a lone code point when its other half is not the very next escape of the same string.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Answer:
    """What a target's response says, whatever its wire form (JSON or SSE)."""

    text: str | None = None
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    error: bool = False
    complete: bool = True
    streamed: bool = True  # False: a stream was asked for and a whole JSON completion came
    sse: bool = True  # False: a stream was asked for and its text came raw, with no SSE events
    without_done: bool = False  # a stream whole to its finish reason, ended with no [DONE]


Usage = tuple[int | None, int | None, int | None]
"""(prompt, completion, total) tokens as an answer gave them: None where a count is not an int
(for the total: where it is absent; a total that is there but not an int is -1)."""


@dataclass(frozen=True, slots=True)
class AnswerFacts:
    """What the judging needs of an answer: small enough to keep per request until the journal
    that judges it is read. `usage_asked` is False for a stream whose client did not ask for it."""

    text_sha256: str = ""  # "" when there is no readable text
    finish_reason: str = ""
    usage: Usage | None = None  # None: no usage object at all
    error: bool = False  # the body is (or holds) an error object
    complete: bool = True  # False: a stream cut before its end
    error_text: bool = False  # the text reads like an error message
    usage_asked: bool = True
    streamed: bool = True  # False: a whole JSON completion answered a request for a stream
    sse: bool = True  # False: a stream's text came raw, with no SSE `data:` events (R117)
    without_done: bool = False  # a whole stream, ended with no `data: [DONE]` (R131)
    mojibake: bool = False  # the text reads as UTF-8 decoded one byte a character
    broken_characters: bool = False  # the text holds U+FFFD or a lone surrogate
    split_characters: bool = False  # the text holds a lone UTF-16 surrogate (R113)

    @classmethod
    def of(cls, answer: Answer, *, usage_asked: bool = True) -> AnswerFacts:
        text = answer.text or ""
        split = not text.isascii() and _SURROGATE.search(text) is not None
        return cls(
            text_sha256=text_sha256(text) if text else "",
            finish_reason=str(answer.finish_reason or ""),
            usage=None if answer.usage is None else _usage_of(answer.usage),
            error=answer.error,
            complete=answer.complete,
            error_text=bool(text) and looks_like_error(text),
            usage_asked=usage_asked,
            streamed=answer.streamed,
            sse=answer.sse,
            without_done=answer.without_done,
            mojibake=reads_as_mojibake(text),
            broken_characters="\ufffd" in text or split,
            split_characters=split,
        )


def _usage_of(usage: Mapping[str, Any]) -> Usage:
    total = usage.get("total_tokens")
    counted_total = _count(total)
    if total is not None and counted_total is None:
        counted_total = -1  # there, but no count: never the sum
    return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")), counted_total


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class ReplyFacts:
    """A reply the upstream sent (`exact`: read in the journal) or would send (predicted from
    the client's request, when prompt tokens may grow by what a gateway adds)."""

    text_sha256: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    exact: bool = True

    @classmethod
    def predicted(cls, reply: Reply) -> ReplyFacts:
        return cls(text_sha256(reply.text), reply.finish_reason, reply.prompt_tokens,
                   reply.completion_tokens, exact=False)  # fmt: skip


# What a gateway should answer when the upstream failed with this status (issue 3: 401 after a
# failed refresh, 404 unknown model, 429 passed on, 502/504 for upstream failures); 0 = no usable
# answer at all (reset, hang, truncated or malformed body).
_FITTING_STATUSES: dict[int, frozenset[int]] = {
    0: frozenset({502, 503, 504}),
    400: frozenset({400, 502}),
    401: frozenset({401, 502}),
    403: frozenset({403, 502}),
    404: frozenset({404}),
    413: frozenset({413, 400}),
    423: frozenset({423, 502, 503}),
    429: frozenset({429}),
}
_FAILURE_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class UpstreamError:
    """The mock answered a request with an error `status` (0: no usable answer)."""

    status: int

    def fitting_statuses(self) -> frozenset[int]:
        """The statuses a faithful gateway may answer with."""
        return _FITTING_STATUSES.get(self.status, _FAILURE_STATUSES)


Expected = Reply | ReplyFacts | Sequence[ReplyFacts] | UpstreamError | None
"""The mock's reply (predicted, or the replies it sent: the answer may match any one of them),
the error it sent (`UpstreamError`), or None (it sent some error, which one unknown)."""


class ReplyOracle:
    """The mock's expected replies for OpenAI-style requests, given the mock's seed and lengths."""

    def __init__(
        self, seed: int, *, lengths: ReplyLengths = DEFAULT_LENGTHS, mix: ShapeMix = OFFICIAL_MIX
    ) -> None:
        self.seed = seed
        self.lengths = lengths
        self.mix = mix

    @classmethod
    def from_mock_config(cls, config: Mapping[str, Any]) -> ReplyOracle:
        """From the mock's settings (`GET /__admin/config` or `MockConfig.to_dict()`)."""
        lengths = config.get("reply_lengths")
        mix = config.get("mix") or {}
        return cls(
            int(config.get("seed", 0)),
            lengths=parse_lengths(lengths) if isinstance(lengths, str) else DEFAULT_LENGTHS,
            mix=ShapeMix.from_mapping(mix) if mix else OFFICIAL_MIX,
        )

    def chat(self, request_body: Mapping[str, Any]) -> Reply:
        """The reply behind a `/v1/chat/completions` request (sent on as chat-generations)."""
        body = {"messages": request_body.get("messages")}
        return expected_reply(self.seed, "chat-generations", body, self.mix, self.lengths)

    def completion(self, request_body: Mapping[str, Any]) -> Reply:
        """The reply behind a `/v1/completions` request (sent on as generations)."""
        body = {"prompt": request_body.get("prompt")}
        return expected_reply(self.seed, "generations", body, self.mix, self.lengths)


def answered(status: int | None, kinds: Iterable[str], transport_error: str = "") -> bool:
    """The one definition of an ok request (load and sweep): a 200 whose answer is the
    upstream's. Usage that differs is a defect of its own (`usage_mismatch`, with its own
    claim), not a failed request."""
    return status == 200 and not transport_error and set(kinds) <= _USAGE_ONLY


_USAGE_ONLY = frozenset({"usage_mismatch"})


def answer_facts(request: Mapping[str, Any], status: int | None, payload: Body) -> AnswerFacts:
    """The facts of one chat completion's reply (JSON, or the SSE stream as received); empty
    facts for a reply that is not a 200, whose body is never judged as an answer."""
    if status != 200:
        return AnswerFacts()
    if not request.get("stream"):
        return AnswerFacts.of(chat_answer(payload))
    options = request.get("stream_options")
    asked = isinstance(options, Mapping) and bool(options.get("include_usage"))
    return AnswerFacts.of(stream_answer(payload), usage_asked=asked)


def looks_like_error(text: str) -> bool:
    """True when a completion text reads like an error message rather than an answer."""
    head = text[:200]
    if _ERROR_START.match(head):
        return True
    return _STATUS_DIGITS.search(head) is not None and _ERROR_STATUS.search(head) is not None


def reads_as_mojibake(text: str) -> bool:
    """True when `text` is UTF-8 read one byte a character: as latin-1 or cp1252 bytes again it
    is valid UTF-8 beyond ASCII. The mock's own texts never are (an accent alone is no UTF-8
    sequence, and CJK or emoji are no latin-1)."""
    if text.isascii():
        return False
    for codec in ("latin-1", "cp1252"):
        try:
            text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        return True
    return False


def _as_json(body: Body) -> Any:
    if not isinstance(body, str | bytes | bytearray):
        return body  # already parsed (or nothing)
    try:
        return json.loads(body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError included
        return None


def _first_choice(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choices = document.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return None


def _message_content(choice: Mapping[str, Any]) -> Any:
    message = choice.get("message")
    return message.get("content") if isinstance(message, Mapping) else None


def _choice_text(choice: Mapping[str, Any]) -> Any:
    return choice.get("text")


def chat_answer(body: Body) -> Answer:
    """Read a chat completion body: `choices[0].message.content`, finish reason, usage."""
    return _json_answer(body, _message_content)


def completion_answer(body: Body) -> Answer:
    """Read a text completion body: `choices[0].text`, finish reason, usage."""
    return _json_answer(body, _choice_text)


def _has_error(document: Mapping[str, Any]) -> bool:
    # `"error": null` in a success body is no error.
    return document.get("error") not in (None, "", {}, [])


def _json_answer(body: Body, text_of: Callable[[Mapping[str, Any]], Any]) -> Answer:
    document = _as_json(body)
    if not isinstance(document, Mapping):
        return Answer()
    choice = _first_choice(document)
    text = text_of(choice) if choice is not None else None
    return Answer(
        text=text if isinstance(text, str) else None,
        finish_reason=choice.get("finish_reason") if choice is not None else None,
        usage=document.get("usage") if isinstance(document.get("usage"), Mapping) else None,
        error=_has_error(document),
    )


def stream_answer(body: Body) -> Answer:
    """Reassemble an SSE chat stream: deltas joined, last finish reason, usage if sent."""
    if isinstance(body, Mapping):
        return _unstreamed(body)
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    parts: list[str] = []
    finish, usage, error, done = None, None, False, False
    for line in raw.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            done = True
            break
        chunk = _as_json(payload)
        if not isinstance(chunk, Mapping):
            return Answer(complete=True)  # unreadable chunk: the client gets no text
        error = error or _has_error(chunk)
        choice = _first_choice(chunk)
        if choice is not None:
            delta = choice.get("delta")
            parts.append((delta.get("content") or "") if isinstance(delta, Mapping) else "")
            finish = choice.get("finish_reason") or finish
        usage = chunk.get("usage") if isinstance(chunk.get("usage"), Mapping) else usage
    if not parts and not done and not error:
        return _unstreamed(raw)
    # Whole once its finish reason came: the OpenAI SDKs end a stream on its close, with or
    # without the [DONE] sentinel (R131); a stream cut before either lost its end.
    whole = done or finish is not None
    return Answer("".join(parts) if parts else None, finish, usage, error, whole,
                  without_done=whole and not done)  # fmt: skip


def _unstreamed(raw: str | Mapping[str, Any]) -> Answer:
    """A reply to a stream request that holds no SSE event: a plain JSON error is read as such,
    a whole chat completion as an answer that did not stream, other text as the reply's text
    streamed without SSE framing; nothing at all was cut short."""
    document = _as_json(raw)
    if not isinstance(document, Mapping):
        text = raw if isinstance(raw, str) else ""
        return Answer(text, complete=True, sse=False) if text.strip() else Answer(complete=False)
    if _first_choice(document) is None:
        return Answer(error=_has_error(document), complete=True)
    return replace(chat_answer(document), streamed=False)


def judge(
    status: int | None,
    answer: Answer | AnswerFacts,
    expected: Expected,
    *,
    errors_allowed: bool = False,
    usage_required: bool = True,
) -> tuple[str, ...]:
    """The mismatch kinds of one answer. `errors_allowed` accepts any error status (faults were
    injected at random, so which requests failed upstream is unknown)."""
    if isinstance(answer, Answer):
        answer = AnswerFacts.of(answer, usage_asked=usage_required)
    if not status:
        return ("dropped",)
    if status != 200:
        return () if _error_status_fits(status, expected, errors_allowed) else ("wrong_status",)
    if not answer.complete:
        return ("dropped",)
    replies = _replies(expected)
    if answer.error or (not replies and answer.error_text):
        return ("error_in_200",)
    if not replies:
        return ("wrong_status",)
    unstreamed = (*(() if answer.streamed else ("not_streamed",)),
                  *(() if answer.sse else ("not_sse",)))  # fmt: skip
    return unstreamed + min((_reply_kinds(answer, reply) for reply in replies), key=len)


def _replies(expected: Expected) -> tuple[ReplyFacts, ...]:
    """The replies an answer may faithfully relay (none when the upstream failed)."""
    if isinstance(expected, Reply):
        return (ReplyFacts.predicted(expected),)
    if isinstance(expected, ReplyFacts):
        return (expected,)
    if expected is None or isinstance(expected, UpstreamError):
        return ()
    return tuple(expected)


def _reply_kinds(answer: AnswerFacts, reply: ReplyFacts) -> tuple[str, ...]:
    if not answer.sse:  # raw text: no finish reason or usage could come with it
        return _content_kinds(replace(answer, finish_reason=reply.finish_reason), reply)
    content = _content_kinds(answer, reply)
    if content == ("missing_content",):
        return content  # nothing readable: a usage verdict would only repeat it
    return content + _usage_kinds(answer, reply)


def _error_status_fits(status: int, expected: Expected, errors_allowed: bool) -> bool:
    if status < 400:
        return False
    if isinstance(expected, UpstreamError):
        return status in expected.fitting_statuses() or errors_allowed
    return expected is None or errors_allowed


def _content_kinds(answer: AnswerFacts, reply: ReplyFacts) -> tuple[str, ...]:
    if not answer.text_sha256:
        return ("missing_content",)
    if answer.text_sha256 != reply.text_sha256:
        return (_changed_text(answer),)
    if answer.finish_reason != reply.finish_reason:
        return ("wrong_content",)
    return ()


def _changed_text(answer: AnswerFacts) -> str:
    """What a text other than the upstream's is: error text, the upstream's text with its UTF-8
    mangled (read as latin-1, cut inside characters), or just another text."""
    if answer.error_text:
        return "error_in_200"
    if answer.mojibake:
        return "mojibake"
    return "broken_characters" if answer.broken_characters else "wrong_content"


def _usage_kinds(answer: AnswerFacts, reply: ReplyFacts) -> tuple[str, ...]:
    if answer.usage is None:
        return ("usage_mismatch",) if answer.usage_asked else ()
    prompt, completion, total = answer.usage
    if prompt is None or completion is None:
        return ("usage_mismatch",)
    prompt_fits = prompt == reply.prompt_tokens if reply.exact else prompt >= reply.prompt_tokens
    faithful = (
        completion == reply.completion_tokens
        and prompt_fits
        and total in (None, prompt + completion)
    )
    return () if faithful else ("usage_mismatch",)


def check_chat_completion(
    request_body: Mapping[str, Any],
    status: int | None,
    body: Body,
    expected: Expected,
    *,
    errors_allowed: bool = False,
) -> tuple[str, ...]:
    """Check a `/v1/chat/completions` answer (plain, or streamed when the request asked so)."""
    if request_body.get("stream"):
        return check_chat_stream(
            request_body, status, body, expected, errors_allowed=errors_allowed
        )
    return judge(status, chat_answer(body), expected, errors_allowed=errors_allowed)


def check_completion(
    request_body: Mapping[str, Any],
    status: int | None,
    body: Body,
    expected: Expected,
    *,
    errors_allowed: bool = False,
) -> tuple[str, ...]:
    """Check a `/v1/completions` answer."""
    return judge(status, completion_answer(body), expected, errors_allowed=errors_allowed)


def check_chat_stream(
    request_body: Mapping[str, Any],
    status: int | None,
    body: Body,
    expected: Expected,
    *,
    errors_allowed: bool = False,
) -> tuple[str, ...]:
    """Check a streamed chat answer (the raw SSE body); usage only when the client asked."""
    options = request_body.get("stream_options")
    wants_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
    answer = stream_answer(body)
    return judge(
        status, answer, expected, errors_allowed=errors_allowed, usage_required=wants_usage
    )


ResponseCheck = Callable[[Mapping[str, Any], int | None, Body], tuple[str, ...]]


def response_check(oracle: ReplyOracle, *, errors_allowed: bool = False) -> ResponseCheck:
    """One check for any request a load user sends: chat (plain or streamed) or completion."""

    def check(request_body: Mapping[str, Any], status: int | None, body: Body) -> tuple[str, ...]:
        if "messages" in request_body:
            expected = oracle.chat(request_body)
            return check_chat_completion(
                request_body, status, body, expected, errors_allowed=errors_allowed
            )
        expected = oracle.completion(request_body)
        return check_completion(request_body, status, body, expected, errors_allowed=errors_allowed)

    return check


def load_check(
    mock: int | str | Mapping[str, Any], *, errors_allowed: bool = False
) -> ResponseCheck:
    """`response_check` for the mock given by its seed, its base URL (its settings are read from
    `GET /__admin/config`, so profile reply lengths are honoured) or its settings."""
    if isinstance(mock, int):
        oracle = ReplyOracle(mock)
    elif isinstance(mock, str):
        oracle = fetch_oracle(mock)
    else:
        oracle = ReplyOracle.from_mock_config(mock)
    return response_check(oracle, errors_allowed=errors_allowed)


def fetch_oracle(mock_url: str) -> ReplyOracle:
    """The oracle for a running mock, from its admin API; ValueError when it cannot be read."""
    from mock_salesforce.admin_client import AdminClient, AdminError

    try:
        config = AdminClient(mock_url, timeout_s=5.0).config()
    except (AdminError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read the mock's settings at {mock_url}: {exc}") from None
    return ReplyOracle.from_mock_config(config)


@dataclass
class FidelityTally:
    """Counts of checked answers and of each mismatch kind, with a few examples per kind."""

    checked: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def add(self, kinds: Iterable[str], example: str = "") -> None:
        """Count one checked answer and its mismatch kinds (none = faithful)."""
        self.checked += 1
        kinds = tuple(kinds)
        if not kinds:
            return
        self.failed += 1
        for kind in kinds:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            kept = self.examples.setdefault(kind, [])
            if example and len(kept) < self.max_examples:
                kept.append(example[:300])

    def merge(self, other: FidelityTally) -> None:
        """Add another tally's counts (e.g. from another load worker) into this one."""
        self.checked += other.checked
        self.failed += other.failed
        for kind, count in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        for kind, kept in other.examples.items():
            mine = self.examples.setdefault(kind, [])
            mine.extend(kept[: max(0, self.max_examples - len(mine))])

    @property
    def faithful(self) -> bool:
        return self.failed == 0

    def as_series(self) -> list[Series]:
        """One `fidelity_<kind>` count per kind, plus `fidelity_checked` (docs/internals.md)."""
        series = [Series("fidelity_checked", "count", (float(self.checked),))]
        series += [Series(f"fidelity_{k}", "count", (float(n),)) for k, n in self.counts.items()]
        return series

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "failed": self.failed,
            "counts": dict(self.counts),
            "examples": {k: list(v) for k, v in self.examples.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FidelityTally:
        counts = dict.fromkeys(KINDS, 0) | {str(k): int(v) for k, v in data["counts"].items()}
        examples = {str(k): [str(e) for e in v] for k, v in data.get("examples", {}).items()}
        return cls(int(data["checked"]), int(data["failed"]), counts, examples)
