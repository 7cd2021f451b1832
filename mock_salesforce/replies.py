"""What the mock answers to a request: a pure function of the seed and the request's content.

Keying (decided, relied on by fidelity checks): a chat-generations reply is keyed on the seed and
the content of the LAST `user` message, so a gateway that adds a system prompt still gets the reply
the harness expects; a generations reply on `prompt`; an embeddings reply on the `input` list.
Sampling fields, `model`, `localization` and `tags` never change the text, the completion tokens,
the finish reason or the shape. `prompt_tokens` counts the whole prompt as sent (every message).
"""

from __future__ import annotations

import bisect
import json
import math
import random
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from statistics import NormalDist
from typing import Any, NamedTuple

from xxhash import xxh3_64_intdigest, xxh3_128_intdigest

from mock_salesforce.errors import ConfigError
from mock_salesforce.token_counts import count_message_tokens

TEXT_ENDPOINTS = ("generations", "chat-generations")
OFFICIAL_SHAPES = {
    "generations": "official-generations",
    "chat-generations": "official-chat-generations",
    "embeddings": "official-embeddings",
    "feedback": "official-feedback",
}
# Every word is three characters (code points): with the space after it, one token's worth
# (`token_counts`), so a reply of n words is n tokens by the mock's own count. About one word
# in seven is not ASCII (CRM text is full of names and places): Latin accents, Greek and
# Cyrillic (two UTF-8 bytes a character), CJK and Hangul (three), emoji beyond the BMP (four;
# a surrogate pair as a JSON escape) and a combining accent ("ne" + U+0301), so a gateway that
# decodes, cuts or escapes UTF-8 wrongly changes the text. No word needs a JSON escape (no
# quote, backslash or control character): replies are quoted as they are (`rendering.prepare`).
_VOCAB_TEXT = (
    "the and for are was not but can you our all new now too yes may use run set get put add "
    "mix api low cap job key log map net row sum tag top web own via per end few lot max min "
    "off old out saw see two way why who how its has one day any big bit box bug hot pie "
    "ok. so. it. no. go. up. on. in. at. do. "
    "été für año où. где και 東京都 日本語 한국어 ok👍 go🚀 ne\u0301"
)
_VOCAB = tuple(_VOCAB_TEXT.split())
# Reply texts are slices of one fixed word stream, so a reply costs a slice, not a word-by-word
# draw from a freshly seeded generator (that draw was most of the mock's time per new request).
_STREAM_WORDS = 1 << 16
_STREAM_SEED = 0x5F5EED
_UNIT = 2.0**-53
_BITS_53 = 2**53 - 1
MAX_LENGTH_STEPS = 4096  # reply length ranges up to this wide are sampled from a table


class Reply(NamedTuple):
    """The reply the mock sends for one request (before it is rendered into a shape).

    A named tuple, not a frozen dataclass: one is made per new request, and a tuple is built
    in a fraction of the time. The text is kept as UTF-8, the form it is sent and journaled in:
    a reply is a slice of the word stream's bytes, and no text object is made unless read."""

    utf8: bytes
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    shape: str

    @classmethod
    def of_text(
        cls, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int, shape: str
    ) -> Reply:
        """A reply whose text is given as text."""
        utf8 = text.encode("utf-8", "surrogatepass")
        return cls(utf8, finish_reason, prompt_tokens, completion_tokens, shape)

    @property
    def text(self) -> str:
        return self.utf8.decode("utf-8", "surrogatepass")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "shape": self.shape,
        }


@dataclass(frozen=True)
class ShapeMix:
    """Weighted shape names per endpoint; hashable so replies can be cached per mix."""

    entries: tuple[tuple[str, tuple[str, ...], tuple[float, ...]], ...] = ()

    @classmethod
    def from_mapping(cls, mix: Mapping[str, Mapping[str, float]]) -> ShapeMix:
        """Build from `{endpoint: {shape: weight}}`; weights need not sum to anything."""
        entries = []
        for endpoint, weights in sorted(mix.items()):
            names = tuple(weights)
            if not names or any(float(w) < 0 for w in weights.values()):
                raise ConfigError(f"mix for {endpoint!r} needs shapes with weights >= 0")
            total = sum(float(w) for w in weights.values())
            if total <= 0:
                raise ConfigError(f"mix for {endpoint!r} has no positive weight")
            running, bounds = 0.0, []
            for name in names:
                running += float(weights[name]) / total
                bounds.append(running)
            entries.append((endpoint, names, tuple(bounds)))
        return cls(tuple(entries))

    def as_mapping(self) -> dict[str, dict[str, float]]:
        """Back to `{endpoint: {shape: share}}` with shares summing to 1."""
        out: dict[str, dict[str, float]] = {}
        for endpoint, names, bounds in self.entries:
            previous = (0.0, *bounds[:-1])
            out[endpoint] = {
                n: round(b - p, 6) for n, b, p in zip(names, bounds, previous, strict=True)
            }
        return out

    def choose(self, endpoint: str, u: float) -> str:
        """The shape for a uniform draw `u` in [0, 1); the official shape when none is mixed."""
        for name, names, bounds in self.entries:
            if name == endpoint:
                return names[min(bisect.bisect_right(bounds, u), len(names) - 1)]
        return OFFICIAL_SHAPES.get(endpoint, "official-" + endpoint)


OFFICIAL_MIX = ShapeMix()


@dataclass(frozen=True)
class ReplyLengths:
    """Completion length distribution in tokens: lognormal around `median_tokens`, clamped."""

    median_tokens: float = 60.0
    sigma: float = 0.6
    min_tokens: int = 1
    max_tokens: int = 512

    def sample(self, u: float) -> tuple[int, bool]:
        """The completion length at quantile `u` in (0, 1), and whether it was cut at
        `max_tokens` (then finish_reason is `length`)."""
        steps = self._steps
        if steps is None:
            drawn = self._drawn(u)
            return max(self.min_tokens, min(self.max_tokens, drawn)), drawn > self.max_tokens
        above = bisect.bisect_right(steps, u)  # the lengths past min_tokens that u reaches
        if above == len(steps):
            return self.max_tokens, True
        return self.min_tokens + above, False

    def _drawn(self, u: float) -> int:
        """The length at quantile `u`, before it is clamped."""
        if self.sigma <= 0:
            return round(self.median_tokens)
        return round(math.exp(self._log_lengths.inv_cdf(u)))

    @cached_property
    def _steps(self) -> tuple[float, ...] | None:
        """The quantile from which each length min_tokens + 1 ... max_tokens + 1 (the cut) is
        drawn: a bisection instead of the inverse CDF per reply. None for a fixed length, or a
        range too wide to tabulate (then `_drawn` per reply)."""
        if self.sigma <= 0 or self.max_tokens - self.min_tokens > MAX_LENGTH_STEPS:
            return None
        log_lengths = self._log_lengths
        lengths = range(self.min_tokens + 1, self.max_tokens + 2)
        return tuple(log_lengths.cdf(math.log(n - 0.5)) for n in lengths)

    @cached_property
    def _log_lengths(self) -> NormalDist:
        """The normal distribution of the lengths' logarithm (sigma > 0)."""
        return NormalDist(math.log(self.median_tokens), self.sigma)

    def spec(self) -> str:
        return (
            f"lognormal:median={self.median_tokens:g},sigma={self.sigma:g},"
            f"min={self.min_tokens},max={self.max_tokens}"
        )


DEFAULT_LENGTHS = ReplyLengths()


def parse_lengths(spec: str) -> ReplyLengths:
    """Parse `lognormal:median=60,sigma=0.6,min=1,max=512` or `fixed:100` (tokens)."""
    kind, _, rest = spec.strip().partition(":")
    try:
        lengths = _fixed_lengths(rest) if kind == "fixed" else _lognormal_lengths(kind, rest)
    except ValueError:
        hint = "try 'lognormal:median=60,sigma=0.6' or 'fixed:100'"
        raise ConfigError(f"bad reply length spec {spec!r} ({hint})") from None
    if not 1 <= lengths.min_tokens <= lengths.max_tokens or lengths.median_tokens <= 0:
        raise ConfigError(f"bad reply length spec {spec!r}: need 1 <= min <= max, median > 0")
    return lengths


def _fixed_lengths(rest: str) -> ReplyLengths:
    n = int(rest)
    return ReplyLengths(float(n), 0.0, n, n)


def _lognormal_lengths(kind: str, rest: str) -> ReplyLengths:
    fields = {}
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        fields[key.strip()] = float(value)
    if kind != "lognormal" or not set(fields) <= {"median", "sigma", "min", "max"}:
        raise ValueError(kind)
    return ReplyLengths(
        fields.get("median", 60.0),
        fields.get("sigma", 0.6),
        int(fields.get("min", 1)),
        int(fields.get("max", 512)),
    )


def reply_key(endpoint: str, body: Mapping[str, Any]) -> str:
    """The part of a request body the reply depends on (see the module docstring)."""
    return key_and_texts(endpoint, body)[0]


def prompt_texts(endpoint: str, body: Mapping[str, Any]) -> list[str]:
    """Every prompt text the request sends (all messages, the prompt, or every input)."""
    return key_and_texts(endpoint, body)[1]


def key_and_texts(endpoint: str, body: Mapping[str, Any]) -> tuple[str, list[str]]:
    """`reply_key` and `prompt_texts` of a request, in one pass over its messages."""
    if endpoint == "chat-generations":
        return _chat_key_and_texts(body.get("messages"))
    if endpoint == "generations":
        prompt = _as_text(body.get("prompt"))
        return prompt, [prompt]
    inputs = body.get("input")
    texts = [_as_text(i) for i in inputs] if isinstance(inputs, list) else []
    return _as_text(inputs), texts


def _chat_key_and_texts(messages: Any) -> tuple[str, list[str]]:
    """The last user message's content, and every message's (a chat request's)."""
    if not isinstance(messages, list):
        return _as_text(messages), []
    texts: list[str] = []
    key = None
    for message in messages:
        if isinstance(message, dict):
            content = message.get("content")
            text = content if isinstance(content, str) else _as_text(content)
            texts.append(text)
            if message.get("role") == "user":
                key = text
    return (_as_text(messages) if key is None else key), texts


def expected_reply(
    seed: int,
    endpoint: str,
    body: Mapping[str, Any],
    mix: ShapeMix = OFFICIAL_MIX,
    lengths: ReplyLengths = DEFAULT_LENGTHS,
) -> Reply:
    """The reply the mock gives for this request content.

    Not cached: the mock keeps whole replies of repeated request bodies (`rendering`), and a
    load test's prompts are new (the harness's carry unique markers), so a cache here would
    only be kept up, never asked."""
    key, texts = key_and_texts(endpoint, body)
    return reply_for(seed, endpoint, key, texts, mix, lengths)


def reply_for(
    seed: int,
    endpoint: str,
    key: str,
    texts: list[str],
    mix: ShapeMix = OFFICIAL_MIX,
    lengths: ReplyLengths = DEFAULT_LENGTHS,
) -> Reply:
    """`expected_reply` of a request whose `key_and_texts` are `key` and `texts`."""
    # Three independent draws from the key's 128-bit digest: shape, length, where text starts.
    digest = _digest(seed, endpoint, key)
    shape = mix.choose(endpoint, ((digest >> 75) & _BITS_53) * _UNIT)
    prompt_tokens = count_message_tokens(texts)
    if endpoint not in TEXT_ENDPOINTS:
        return Reply(b"", "stop", prompt_tokens, 0, shape)
    n_tokens, cut = lengths.sample((((digest >> 22) & _BITS_53) + 0.5) * _UNIT)  # never 0 or 1
    utf8 = _words(digest & 0x3FFFFF, n_tokens)
    finish_reason = "length" if cut else "stop"
    # tuple.__new__: the named tuple's own __new__ is Python code, a tenth of this function
    return tuple.__new__(Reply, (utf8, finish_reason, prompt_tokens, n_tokens, shape))


def _words(start: int, count: int) -> bytes:
    """`count` words of the fixed stream from word `start` on (wrapping), as UTF-8; one token
    each."""
    stream = _STREAM
    utf8, starts = stream.utf8, stream.starts
    start %= _STREAM_WORDS
    end = start + count
    if end <= _STREAM_WORDS:
        return utf8[starts[start] : starts[end] - 1]
    return b" ".join((utf8[starts[start] :], _words(0, end - _STREAM_WORDS)))


class _WordStream:
    """The word stream every reply is cut from, made when the first reply needs it (an
    attribute read after that, where a cached function call costs a reply a thousand
    instructions). Kept as UTF-8 with the byte offset of every word: a reply is one slice of
    bytes. (Kept as text, the emoji made the stream four bytes a character, and each reply's
    slice was scanned, narrowed and encoded again: 8k instructions a new body.)"""

    @cached_property
    def words(self) -> list[str]:
        return random.Random(_STREAM_SEED).choices(_VOCAB, k=_STREAM_WORDS)

    @cached_property
    def utf8(self) -> bytes:
        return " ".join(self.words).encode()

    @cached_property
    def starts(self) -> array[int]:
        """The byte offset of each word, and one past the stream's end (as if a space
        followed its last word)."""
        starts, offset = array("I", [0]), 0
        for word in self.words:
            offset += len(word.encode()) + 1
            starts.append(offset)
        return starts


_STREAM = _WordStream()


def embeddings_json(seed: int, inputs: tuple[str, ...], dims: int) -> str:
    """The JSON array of `{"embedding": [...], "index": i}` objects for these inputs."""
    return "[" + ",".join(embedding_json(seed, t, i, dims) for i, t in enumerate(inputs)) + "]"


def embedding_json(seed: int, text: str, index: int, dims: int) -> str:
    """One `{"embedding": [...], "index": i}` object: the vector of input `text` at `index`."""
    vector = _vector_json(_digest(seed, "embeddings", text), dims)
    return f'{{"embedding":{vector},"index":{index}}}'


@lru_cache(maxsize=1024)
def _vector_json(digest: int, dims: int) -> str:
    rng = random.Random(digest)
    return json.dumps([round(rng.uniform(-0.05, 0.05), 8) for _ in range(dims)])


def _digest(seed: int, endpoint: str, key: str) -> int:
    """The 128-bit XXH3 digest of `key`, seeded by `seed` and `endpoint`.

    XXH3, not a cryptographic hash: the draws need bits that look independent, not secrecy, and
    one call costs a quarter of a BLAKE2b digest (every new request makes one)."""
    return xxh3_128_intdigest(key.encode("utf-8", "surrogatepass"), _digest_seed(seed, endpoint))


@lru_cache(maxsize=256)
def _digest_seed(seed: int, endpoint: str) -> int:
    """The 64-bit XXH3 seed of `_digest` for `seed, endpoint` (joined by \x1f)."""
    return xxh3_64_intdigest(f"{seed}\x1f{endpoint}".encode())


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
