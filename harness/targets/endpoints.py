"""Where a target's endpoints are: the one place a target URL becomes request URLs.

A gateway may be served under a path prefix (`http://host/openai`, as company gateways and
OpenAI `base_url` setups are): every client sfperf runs against a target (readiness, discovery
probes, warm-up, locust load, sweep, profile load, metrics reads) keeps that prefix by asking
here. A URL ending in `/v1`, as an OpenAI client's `base_url` does, names the same gateway as
the URL without it, so `http://host/openai/v1` is not sent `/openai/v1/v1/chat/completions`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
HEALTH_PATH = "/health"
_API_VERSION = "/v1"


def target_prefix(target_url: str) -> str:
    """The path the target's routes live under ('' at the root, '/openai' for a prefix)."""
    prefix = urlsplit(target_url).path.rstrip("/")
    return prefix.removesuffix(_API_VERSION) if prefix.endswith(_API_VERSION) else prefix


def endpoint_path(target_url: str, path: str) -> str:
    """The request path of `path` (such as `/v1/chat/completions`) on the target."""
    return target_prefix(target_url) + "/" + path.lstrip("/")


def endpoint_url(target_url: str, path: str) -> str:
    """The absolute URL of `path` on the target, its path prefix kept."""
    parts = urlsplit(target_url)
    return urlunsplit((parts.scheme, parts.netloc, endpoint_path(target_url, path), "", ""))
