"""The recording format written by record mode, and how a recording replays as a profile.

A recording lists what an upstream did: per request the endpoint, model, status, latency and the
response shape the corpus recognised; bodies are kept only redacted. As a profile, the shapes seen
become the mix, the latencies become empirical latency models, and error rates become faults.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from mock_salesforce.corpus import Corpus
from mock_salesforce.errors import ConfigError

# Format history: 1 = one JSON document {"format", "recorded_from", "redacted", "entries": [...]},
# rewritten whole every 25 exchanges (a crash lost up to 24 of them); 2 = JSON Lines: that
# document without "entries" on the first line, then one entry per line, appended as each
# exchange ends (a crash loses at most the line being written). Both are read.
FORMAT = "sfperf-recording/2"
FORMAT_PREFIX = "sfperf-recording/"
_FAULT_STATUSES = (401, 404, 423, 429, 500, 503)


def match_shape(corpus: Corpus, endpoint: str, body: Any) -> str | None:
    """The name of the corpus shape whose key structure `body` has, or None."""
    signature = structure(body)
    for shape in corpus.for_endpoint(endpoint):
        if structure(shape.body, placeholders=True) == signature:
            return shape.name
    return None


def structure(value: Any, placeholders: bool = False) -> Any:
    """The key skeleton of a JSON value: objects keep keys, lists their first item."""
    if isinstance(value, dict):
        return tuple(sorted((k, structure(v, placeholders)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[]", structure(value[0], placeholders) if value else None)
    if placeholders and isinstance(value, str) and value == "$EMBEDDINGS":
        return ("[]", (("embedding", ("[]", "leaf")), ("index", "leaf")))
    return "leaf"


def parse_recording(text: str) -> dict[str, Any] | None:
    """A recording in either format as one document (`entries` listed), or None when `text`
    is not one; a last line cut short (a recorder that crashed mid-write) is left out."""
    first, _, rest = text.partition("\n")
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None  # format 1 is a JSON document: the profile reader parses it whole
    lines = rest.splitlines()
    entries = [_entry(line, last=n == len(lines) - 1) for n, line in enumerate(lines) if line]
    return {**header, "entries": [e for e in entries if e is not None]}


def _entry(line: str, last: bool) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        if last:
            return None
        raise ConfigError(f"recording line is not JSON: {line[:60]!r}") from None
    if not isinstance(entry, dict):
        raise ConfigError(f"recording line is not an object: {line[:60]!r}")
    return entry


def recording_to_profile(data: Mapping[str, Any]) -> dict[str, Any]:
    """Profile data (MockConfig fields) that replays a recording's shapes, latencies and errors."""
    entries = data.get("entries")
    if not str(data.get("format")).startswith(FORMAT_PREFIX) or not isinstance(entries, list):
        raise ConfigError(f"not a {FORMAT} recording (format or entries missing)")
    latencies: dict[str, list[float]] = defaultdict(list)
    shapes: dict[str, Counter[str]] = defaultdict(Counter)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for entry in entries:
        endpoint, status = str(entry.get("endpoint")), int(entry.get("status", 0))
        latencies[endpoint].append(float(entry.get("latency_ms", 0.0)))
        statuses[endpoint][status] += 1
        if status < 300 and entry.get("shape"):
            shapes[endpoint][str(entry["shape"])] += 1
    return {
        "description": f"replay of a recording of {data.get('recorded_from', 'an upstream')}",
        "latency": {e: _empirical(v) for e, v in sorted(latencies.items())},
        "mix": {e: dict(c) for e, c in sorted(shapes.items()) if e != "feedback"},
        "faults": _faults(statuses),
    }


def _empirical(samples_ms: Sequence[float]) -> str:
    return "empirical:[" + ",".join(f"{v:.3f}ms" for v in samples_ms) + "]"


def _faults(statuses: Mapping[str, Counter[int]]) -> list[str]:
    faults = []
    for endpoint, counts in sorted(statuses.items()):
        total = sum(counts.values())
        for status in _FAULT_STATUSES:
            if counts[status] and endpoint != "token":
                faults.append(f"{status}:p={counts[status] / total:.6g},endpoint={endpoint}")
    return faults
