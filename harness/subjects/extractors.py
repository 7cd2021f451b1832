"""Response-text extractors: the seed report's "before" (`legacy`) and "after" (`priority`) code.

Both take a Models API response body and the endpoint it came from and return an `Extraction`
that says which path matched, how many paths were tried and how many dict/list probes it took,
so path hit rates are measured rather than asserted. Neither ever alters the text.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Step = str | int
TextPath = tuple[Step, ...]

GENERATIONS_PATH: TextPath = ("generation", "generatedText")
CHAT_PATH: TextPath = ("generationDetails", "generations", 0, "content")

# The nine non-official places a text was seen in gateway logs, in the order legacy code tries them.
FALLBACK_PATHS: tuple[TextPath, ...] = (
    ("generation", "text"),
    ("generations", 0, "text"),
    ("choices", 0, "message", "content"),
    ("response", "generatedText"),
    ("result", "text"),
    ("candidates", 0, "content"),
    ("output",),
    ("content",),
    ("text",),
)
LEGACY_PATHS: tuple[TextPath, ...] = (GENERATIONS_PATH, CHAT_PATH, *FALLBACK_PATHS)
EXPECTED_PATHS: Mapping[str, TextPath] = {
    "generations": GENERATIONS_PATH,
    "chat-generations": CHAT_PATH,
}


@dataclass(frozen=True, slots=True)
class Extraction:
    """What an extractor found: the text (None if nothing matched) and how it got there.

    `path_rank` is 1 when the first path tried matched (0 when none did), `lookups` counts
    dict/list probes, `fallback` is True when the fallback routine ran; `error` is what a user's
    extractor raised (`KeyError: 'generationDetails'`), None when it returned.
    """

    text: str | None
    path: str | None
    path_rank: int
    lookups: int
    fallback: bool
    error: str | None = None

    @property
    def matched(self) -> bool:
        return self.text is not None


Extractor = Callable[[Mapping[str, Any], str], Extraction]


def path_name(path: TextPath) -> str:
    """Render a path the way shape files spell it: `generationDetails.generations[0].content`."""
    name = ""
    for step in path:
        name += f"[{step}]" if isinstance(step, int) else (f".{step}" if name else step)
    return name


def _probe_checked(node: Any, step: Step) -> tuple[bool, Any, int]:
    """Legacy probing: test membership first, then index (two probes for a dict key)."""
    if isinstance(step, int):
        if isinstance(node, list) and len(node) > step:
            return True, node[step], 1
        return False, None, 0
    if isinstance(node, dict):
        if step in node:
            return True, node[step], 2
        return False, None, 1
    return False, None, 0


def _walk_legacy(response: Mapping[str, Any], path: TextPath) -> tuple[Any, int]:
    """Walk `path` twice, as hand-written legacy code does: once to check, once to fetch."""
    lookups = 0
    node: Any = response
    for step in path:
        found, node, probes = _probe_checked(node, step)
        lookups += probes
        if not found:
            return None, lookups
    node = response
    for step in path:  # the fetch pass repeats every lookup the check pass just did
        node = node[step]
        lookups += 1
    return node, lookups


def legacy(response: Mapping[str, Any], endpoint: str) -> Extraction:
    """Try the two official paths, then nine fallback paths, one after another, from the root."""
    lookups = 0
    for rank, path in enumerate(LEGACY_PATHS, start=1):
        attempt = path_name(path)  # legacy formats a label for every attempt, hit or miss
        value, probes = _walk_legacy(response, path)
        lookups += probes
        if isinstance(value, str):
            return Extraction(value, attempt, rank, lookups, rank > 1)
    return Extraction(None, None, 0, lookups, True)


def _walk_direct(response: Mapping[str, Any], path: TextPath) -> tuple[Any, int]:
    """Walk `path` once with one probe per step (`dict.get`, bounds-checked index)."""
    node: Any = response
    lookups = 0
    for step in path:
        lookups += 1
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and len(node) > step else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return None, lookups
    return node, lookups


def _fallback(response: Mapping[str, Any], skip: TextPath | None, lookups: int) -> Extraction:
    """The fallback routine: every other known path, in legacy order, one probe per step."""
    rank = 1
    for path in LEGACY_PATHS:
        if path == skip:
            continue
        rank += 1
        value, probes = _walk_direct(response, path)
        lookups += probes
        if isinstance(value, str):
            return Extraction(value, path_name(path), rank, lookups, True)
    return Extraction(None, None, 0, lookups, True)


def priority(response: Mapping[str, Any], endpoint: str) -> Extraction:
    """Go straight to the endpoint's official path; run the fallback routine only on a miss."""
    expected = EXPECTED_PATHS.get(endpoint, GENERATIONS_PATH)
    value, lookups = _walk_direct(response, expected)
    if isinstance(value, str):
        return Extraction(value, path_name(expected), 1, lookups, False)
    return _fallback(response, expected, lookups)


EXTRACTORS: Mapping[str, Extractor] = {"legacy": legacy, "priority": priority}


def _wrap_user(func: Callable[..., Any], name: str) -> Extractor:
    """Adapt a user's `f(response[, endpoint]) -> str | Extraction | None` to `Extractor`; what
    it raises is returned as the extraction's `error`, never raised."""
    params = inspect.signature(func).parameters.values()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in positional and p.default is p.empty]
    # A one-argument function (e.g. `extract(sf_response, debug_mode=False)`) never gets the
    # endpoint, so it cannot be passed by accident into an unrelated optional parameter.
    takes_endpoint = len(required) >= 2

    def extract(response: Mapping[str, Any], endpoint: str) -> Extraction:
        try:
            result = func(response, endpoint) if takes_endpoint else func(response)
        except Exception as exc:  # the user's code failing on a shape is what was measured
            return Extraction(None, None, 0, 0, False, error=f"{type(exc).__name__}: {exc}")
        if isinstance(result, Extraction):
            return result
        if result is None:
            return Extraction(None, None, 0, 0, False)
        return Extraction(str(result), name, 1, 0, False)

    return extract


def load_extractor(spec: str) -> Extractor:
    """Resolve a registry name (`legacy`, `priority`) or a user import path `pkg.mod:func`."""
    if spec in EXTRACTORS:
        return EXTRACTORS[spec]
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        known = ", ".join(EXTRACTORS)
        raise ValueError(f"unknown extractor {spec!r} (known: {known}; or pkg.module:function)")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load extractor {spec!r}: {exc}") from exc
    if not callable(func):
        raise ValueError(f"extractor {spec!r} is not callable")
    return _wrap_user(func, f"user:{spec}")
