"""The shape corpus: named response shapes loaded from `shapes/*.json`, precompiled for speed.

Each shape body is serialised once; placeholders (`"$TEXT"`, `"$PROMPT_TOKENS"`...) replace whole
JSON values, so rendering is one `bytes.join` over literal pieces and JSON-encoded values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from mock_salesforce.errors import ConfigError

PLACEHOLDERS = (
    "TEXT", "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS", "FINISH_REASON", "CREATED",
    "PROVIDER_MODEL", "GENERATION_ID", "COMPLETION_ID", "RESPONSE_ID", "EMBEDDINGS",
)  # fmt: skip
ENDPOINTS = ("generations", "chat-generations", "embeddings")


@dataclass(frozen=True)
class Template:
    """Literal `pieces` around named `slots`: len(pieces) == len(slots) + 1."""

    pieces: tuple[bytes, ...]
    slots: tuple[str, ...]

    @cached_property
    def open_slots(self) -> frozenset[str]:
        """Each distinct slot name once."""
        return frozenset(self.slots)

    @cached_property
    def _parts(self) -> list[bytes]:
        """The pieces at the even places of a list, the odd ones kept for the slots' values."""
        parts = [b""] * (2 * len(self.pieces) - 1)
        parts[::2] = self.pieces
        return parts

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        """Fill every slot with an already JSON-encoded UTF-8 value (keyed by placeholder name)."""
        # One join of bytes, the slots looked up by `map`: no Python-level loop per slot, and no
        # text to encode (joined as text, a reply holding non-ASCII words took 2-3 times as long
        # to encode as an ASCII one).
        parts = self._parts.copy()
        parts[1::2] = map(values.__getitem__, self.slots)
        return b"".join(parts)

    def fill_parts(
        self, values: Mapping[str, bytes], spliced: Mapping[str, list[bytes]]
    ) -> list[bytes]:
        """Like `fill`, but the slots in `spliced` take a list of pieces, and nothing is joined
        (a large reply is written piece by piece)."""
        parts = [self.pieces[0]]
        for index, slot in enumerate(self.slots, start=1):
            pieces = spliced.get(slot)
            if pieces is None:
                parts.append(values[slot])
            else:
                parts += pieces
            parts.append(self.pieces[index])
        return parts

    def partial(self, values: Mapping[str, bytes]) -> Template:
        """Fill the slots `values` has; keep the others open (for per-request values)."""
        pieces, slots, run = [], [], [self.pieces[0]]
        for index, slot in enumerate(self.slots, start=1):
            value = values.get(slot)
            if value is None:
                pieces.append(b"".join(run))
                slots.append(slot)
                run = [self.pieces[index]]
            else:
                run += (value, self.pieces[index])
        pieces.append(b"".join(run))
        return Template(tuple(pieces), tuple(slots))


@dataclass(frozen=True)
class Shape:
    """One named response shape and its precompiled template."""

    name: str
    endpoint: str
    official: bool
    text_path: str
    body: Mapping[str, Any]
    template: Template

    def serves(self, endpoint: str) -> bool:
        return self.endpoint == endpoint or (self.endpoint == "*" and endpoint != "embeddings")

    def render(self, values: Mapping[str, str]) -> bytes:
        """Fill the slots with already JSON-encoded `values` (keyed by placeholder name)."""
        return self.template.fill({name: value.encode() for name, value in values.items()})


def compile_shape(data: Mapping[str, Any]) -> Shape:
    """Check one shape document and precompile its body."""
    try:
        name, endpoint, body = str(data["name"]), str(data["endpoint"]), data["body"]
        text_path, official = str(data["text_path"]), bool(data.get("official", False))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"shape document lacks {exc}") from None
    if endpoint not in (*ENDPOINTS, "*") or not isinstance(body, dict):
        raise ConfigError(f"shape {name!r}: endpoint must be one of {ENDPOINTS} or '*'")
    pieces, slots = _split_template(json.dumps(body, separators=(",", ":"), ensure_ascii=False))
    encoded = tuple(piece.encode() for piece in pieces)
    return Shape(name, endpoint, official, text_path, body, Template(encoded, slots))


def _split_template(serialized: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pieces: list[str] = []
    slots: list[str] = []
    rest = serialized
    while True:
        found = [(rest.find(f'"${p}"'), p) for p in PLACEHOLDERS if f'"${p}"' in rest]
        if not found:
            pieces.append(rest)
            return tuple(pieces), tuple(slots)
        at, slot = min(found)
        pieces.append(rest[:at])
        slots.append(slot)
        rest = rest[at + len(slot) + 3 :]


class Corpus:
    """All shapes by name; which shapes serve an endpoint."""

    def __init__(self, shapes: Iterable[Shape]) -> None:
        self.shapes: dict[str, Shape] = {}
        for shape in shapes:
            if shape.name in self.shapes:
                raise ConfigError(f"shape {shape.name!r} defined twice")
            self.shapes[shape.name] = shape

    def get(self, name: str) -> Shape:
        try:
            return self.shapes[name]
        except KeyError:
            raise ConfigError(f"unknown shape {name!r}") from None

    def for_endpoint(self, endpoint: str) -> list[Shape]:
        return [s for s in self.shapes.values() if s.serves(endpoint)]

    def check_mix(self, mix: Mapping[str, Iterable[str]]) -> None:
        """Raise ConfigError unless every shape in `{endpoint: shapes}` exists and serves it."""
        for endpoint, names in mix.items():
            if endpoint not in ENDPOINTS:
                raise ConfigError(f"mix endpoint {endpoint!r} is not one of {ENDPOINTS}")
            for name in names:
                if not self.get(name).serves(endpoint):
                    raise ConfigError(f"shape {name!r} does not serve {endpoint!r}")


def load_corpus(extra_dir: Path | None = None) -> Corpus:
    """The shipped shapes, plus every `*.json` in `extra_dir` when given."""
    documents = []
    for entry in resources.files("mock_salesforce").joinpath("shapes").iterdir():
        if entry.name.endswith(".json"):
            documents.append(json.loads(entry.read_text(encoding="utf-8")))
    if extra_dir is not None:
        try:
            documents += [
                json.loads(p.read_text("utf-8")) for p in sorted(extra_dir.glob("*.json"))
            ]
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read shapes from {extra_dir}: {exc}") from None
    return Corpus(compile_shape(d) for d in sorted(documents, key=lambda d: str(d.get("name"))))


def encode_text(value: str) -> str:
    """A JSON string literal (the value format `Shape.render` expects), as `json.dumps` writes
    it; orjson writes the same for ASCII text but DEL (which json escapes), in a sixth of the
    time (a reply's text is encoded for every new request)."""
    if value.isascii() and "\x7f" not in value:
        return orjson.dumps(value).decode()
    return json.dumps(value)
