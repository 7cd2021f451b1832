"""`ModelsClient`: a minimal Salesforce Models API client whose manners are all configurable.

`Manners()` is a well-behaved client: it caches its token until shortly before the JWT's `exp`,
refreshes once on a 401, retries 423/429/5xx with exponential backoff honouring `Retry-After`,
has a read timeout and sends the required headers. Each test changes one manner to commit
exactly one mistake and checks that the mock's verdict names it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

APP_CONTEXT = "EinsteinGPT"
FEATURE_ID = "ai-platform-models-connected-app"
MODEL = "sfdc_ai__DefaultGPT4OmniMini"
RETRYABLE = frozenset({423, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Manners:
    """How the client treats its upstream; the defaults are the good manners."""

    max_attempts: int = 4
    retry_statuses: frozenset[int] = RETRYABLE
    backoff_s: float = 0.1
    backoff_factor: float = 2.0
    honour_retry_after: bool = True
    refresh_on_401: bool = True
    token_per_request: bool = False
    refresh_margin_s: float | None = 0.5  # None: never refresh before a 401
    single_flight: bool = True  # one token fetch at a time; the others wait for it
    read_timeout_s: float | None = 0.5
    app_context: str | None = APP_CONTEXT
    feature_id: str | None = FEATURE_ID
    extra_fields: Mapping[str, Any] = field(default_factory=dict)
    bearer: str | None = None  # a fixed bearer token instead of fetched ones


class ModelsClient:
    """Chat generations against `base_url`, retrying and refreshing as `manners` say."""

    def __init__(
        self,
        base_url: str,
        manners: Manners | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.manners = manners or Manners()
        self.sleep, self.now_s = sleep, now_s
        timeout = httpx.Timeout(5.0, read=self.manners.read_timeout_s)
        self.http = httpx.Client(timeout=timeout)
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ModelsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def token(self) -> str:
        """A bearer token: fixed, fresh per request, or cached until near its `exp`."""
        m = self.manners
        if m.bearer is not None:
            return m.bearer
        if m.token_per_request or not m.single_flight:
            return self._cached() or self._fetch()
        with self._lock:
            return self._cached() or self._fetch()

    def _cached(self) -> str | None:
        if self._token is None or self.manners.token_per_request:
            return None
        token, exp_s = self._token
        margin_s = self.manners.refresh_margin_s
        return token if margin_s is None or self.now_s() < exp_s - margin_s else None

    def _fetch(self) -> str:
        form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
        reply = self.http.post(f"{self.base_url}/services/oauth2/token", data=form)
        reply.raise_for_status()
        token = str(reply.json()["access_token"])
        self._token = (token, jwt_exp_s(token))
        return token

    def chat(self, prompt: str, model: str = MODEL) -> int:
        """One logical call; the final HTTP status (0 when the transport failed)."""
        body = {"messages": [{"role": "user", "content": prompt}], **self.manners.extra_fields}
        status = 0
        for attempt in range(1, self.manners.max_attempts + 1):
            status, retry_after_s = self._send(model, body)
            if 200 <= status < 300 or not self._retryable(status):
                return status
            if attempt < self.manners.max_attempts:
                self.sleep(self._delay_s(status, attempt, retry_after_s))
        return status

    def _retryable(self, status: int) -> bool:
        if status == 401 and self.manners.refresh_on_401:
            self._token = None
            return True
        return status == 0 or status in self.manners.retry_statuses

    def _delay_s(self, status: int, attempt: int, retry_after_s: float | None) -> float:
        m = self.manners
        if status == 401 and m.refresh_on_401:
            return 0.0
        delay_s = m.backoff_s * m.backoff_factor ** (attempt - 1)
        if m.honour_retry_after and retry_after_s is not None:
            delay_s = max(delay_s, retry_after_s)
        return delay_s

    def _send(self, model: str, body: Mapping[str, Any]) -> tuple[int, float | None]:
        url = f"{self.base_url}/einstein/platform/v1/models/{model}/chat-generations"
        try:
            reply = self.http.post(url, json=body, headers=self._headers())
            reply.read()
        except httpx.HTTPError:
            return 0, None
        retry_after = reply.headers.get("retry-after")
        return reply.status_code, float(retry_after) if retry_after else None

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token()}"}
        if self.manners.app_context is not None:
            headers["x-sfdc-app-context"] = self.manners.app_context
        if self.manners.feature_id is not None:
            headers["x-client-feature-id"] = self.manners.feature_id
        return headers


def jwt_exp_s(token: str) -> float:
    """The `exp` claim of a JWT (epoch seconds), read without checking the signature."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])
