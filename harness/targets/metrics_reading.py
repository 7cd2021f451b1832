"""Reading a target's own metrics (`--target-metrics PATH`): a JSON object, or the Prometheus
text exposition that prometheus-client and prometheus-fastapi-instrumentator serve.

The Prometheus text becomes a document `harness.card.selfreport` reads like a JSON one: a
counter or gauge is its value (summed over its label sets, those naming another route left out),
a summary or histogram `X` is `{"sum", "count", "mean_<unit>"}` (its mean from `X_sum / X_count`,
in the unit its name ends with). Buckets, quantiles and `_created` timestamps are left out: they
are no figure sfperf measures. An answer that is neither is said in one line, never read as
"no figures".
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# name{labels} value [timestamp]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
# The unit a summary's name ends with, as `harness.card.selfreport.latency_scale` reads it.
_UNITS = (("milliseconds", "ms"), ("microseconds", "us"), ("seconds", "seconds"))
_LEFT_OUT = ("_bucket", "_created", "_gsum", "_gcount")
SAID_CHARS = 80


@dataclass(frozen=True)
class MetricsReading:
    """The target's metrics document, or why there is none (`problem`, one line; "" when the
    endpoint answered nothing or was not asked)."""

    document: dict[str, Any] | None = None
    problem: str = ""


NOT_READ = MetricsReading()


def read_answer(path: str, answer: tuple[int, bytes] | None) -> MetricsReading:
    """What GET `path` answered, read: a JSON object, or Prometheus text; else the problem."""
    if answer is None:
        return MetricsReading(problem=f"GET {path} answered nothing")
    status, body = answer
    text = body.decode("utf-8", errors="replace")
    if status == 200:
        document = json_object(text)
        document = document if document is not None else prometheus_document(text)
        if document is not None:
            return MetricsReading(document)
    return MetricsReading(problem=f"GET {path} answered {status}: {_first(text)}; sfperf reads "
                                  "a JSON object or the Prometheus text format")  # fmt: skip


def json_object(text: str) -> dict[str, Any] | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def prometheus_document(text: str) -> dict[str, Any] | None:
    """The samples of a Prometheus text exposition as a document (see the module's docstring);
    None when `text` holds no sample, or a line that is neither a sample nor a comment."""
    totals: dict[str, float] = defaultdict(float)
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        if line.startswith("#"):
            continue
        sample = _SAMPLE.match(line)
        if sample is None:
            return None
        name, labels, value = sample.group(1), sample.group(2) or "", _number(sample.group(3))
        if value is None:
            return None
        if _counted(name, dict(_LABEL.findall(labels))):
            totals[name] += value
    return _nested(totals) if totals else None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else 0.0  # NaN/Inf: no figure to compare


def _counted(name: str, labels: Mapping[str, str]) -> bool:
    """Whether a sample adds to its name's figure: not a bucket, quantile or timestamp, nor a
    count of requests to another route than the chat completions (its health, its metrics)."""
    if name.endswith(_LEFT_OUT) or "quantile" in labels or "le" in labels:
        return False
    routes = [v for k, v in labels.items() if v.startswith("/") or k in ("handler", "path")]
    return all("chat/completions" in route for route in routes)


def _nested(totals: Mapping[str, float]) -> dict[str, Any]:
    """Counters and gauges by name; a summary or histogram's `_sum`/`_count` under its name,
    with its mean."""
    document: dict[str, Any] = {}
    for name, value in totals.items():
        base, _, part = name.rpartition("_")
        if part in ("sum", "count") and f"{base}_sum" in totals and f"{base}_count" in totals:
            document.setdefault(base, {})[part] = value
        else:
            document[name] = value
    for base, parts in document.items():
        if isinstance(parts, dict) and parts.get("count"):
            unit = next((short for long, short in _UNITS if base.endswith(long)), "")
            parts[f"mean_{unit}" if unit else "mean"] = parts["sum"] / parts["count"]
    return document


def _first(text: str) -> str:
    """The start of an answer, on one line."""
    line = " ".join(text.split())
    return (line[:SAID_CHARS] + "...") if len(line) > SAID_CHARS else (line or "(empty)")
