"""What every upstream client shares: settings, results, headers, URLs, backoff and the OAuth call.

The OAuth client-credentials call is synchronous (stdlib `urllib`) because token providers take a
plain `fetch()` callable; async clients run it in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.subjects.token_providers import TokenFetchError, TokenGrant, grant_from_token_response

MODELS_PATH = "/einstein/platform/v1"
TOKEN_PATH = "/services/oauth2/token"
APP_CONTEXT = "EinsteinGPT"
FEATURE_ID = "ai-platform-models-connected-app"
TEXT_ENDPOINTS = ("generations", "chat-generations")


@dataclass(frozen=True)
class ClientSettings:
    """How a client talks to the upstream: where, how long to wait, how often to retry."""

    upstream_url: str
    client_id: str = "sfperf-client"
    client_secret: str = "sfperf-secret"
    timeout_s: float = 30.0
    max_retries: int = 2
    backoff_base_s: float = 0.05
    backoff_max_s: float = 2.0
    retry_after_max_s: float = 10.0  # a longer Retry-After is passed on, not waited out
    # Upstream connections kept by an async client's pool; 0: no limit. aiohttp's own default
    # (100) would cap a gateway at 100 / latency requests a second (500/s at 200 ms), whatever
    # its inbound concurrency: the inbound side is what should bound an async gateway.
    pool_size: int = 0


# Not frozen: a frozen dataclass sets each field through object.__setattr__ (~5x slower to
# build), and one is built for every proxied request. Treat it as immutable all the same.
@dataclass(slots=True)
class UpstreamResult:
    """One logical upstream call after retries: the last status and body, and what it took.

    `error_kind` is None on success, else one of `auth`, `rate_limited`, `client_error`,
    `upstream_error`, `timeout`, `connection`, `bad_response`.
    """

    status: int
    json: Mapping[str, Any] | None
    request_id: str | None = None
    attempts: int = 1
    error_kind: str | None = None
    retry_after_s: float | None = None
    latency_s: float = 0.0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error_kind is None


def error_kind_for(status: int) -> str | None:
    """Classify a final HTTP status from the Models API."""
    if 200 <= status < 300:
        return None
    if status == 401:
        return "auth"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "upstream_error"
    return "client_error"


def is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


def models_url(grant: TokenGrant, settings: ClientSettings, model: str, endpoint: str) -> str:
    """`{api_instance_url}/einstein/platform/v1/models/{model}/{endpoint}`."""
    base = (grant.api_instance_url or settings.upstream_url).rstrip("/")
    return f"{base}{MODELS_PATH}/models/{urllib.parse.quote(model, safe='')}/{endpoint}"


def request_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "x-sfdc-app-context": APP_CONTEXT,
        "x-client-feature-id": FEATURE_ID,
    }


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form only; dates are ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


@dataclass
class Backoff:
    """Exponential backoff with jitter; an upstream `Retry-After` overrides the computed wait."""

    base_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)

    def delay_s(self, retry_number: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return retry_after_s
        ceiling_s: float = min(self.max_s, self.base_s * 2.0 ** (retry_number - 1))
        return ceiling_s * (0.5 + 0.5 * self.rng.random())  # "equal jitter": never near zero


def fetch_grant(settings: ClientSettings, clock: Callable[[], float]) -> TokenGrant:
    """OAuth client-credentials against `{upstream}/services/oauth2/token` (form body)."""
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        }
    ).encode()
    url = settings.upstream_url.rstrip("/") + TOKEN_PATH
    request = urllib.request.Request(url, data=form, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    # The token was issued after we asked: dating it from the ask never overestimates its life.
    asked_s = clock()
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise TokenFetchError(f"token endpoint answered {exc.code}", exc.code) from exc
    except (OSError, ValueError) as exc:
        raise TokenFetchError(f"token endpoint unreachable: {exc}") from exc
    if not isinstance(payload, dict):
        raise TokenFetchError("token response is not a JSON object")
    return grant_from_token_response(payload, asked_s)
