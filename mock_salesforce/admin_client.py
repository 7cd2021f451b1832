"""A small synchronous client of the admin API (stdlib only), for tests and tools."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any


class AdminError(RuntimeError):
    """The admin API answered with an error status."""


class AdminClient:
    """Calls `/__admin/...` on a running mock at `base_url`."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, document: Any = None) -> Any:
        """One admin request; the decoded JSON answer. Raises AdminError on 4xx/5xx."""
        data = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(
            f"{self.base_url}/__admin/{path.lstrip('/')}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise AdminError(f"{method} {path}: {exc.code} {detail}") from None

    def health(self) -> dict[str, Any]:
        return dict(self.call("GET", "health"))

    def config(self) -> dict[str, Any]:
        return dict(self.call("GET", "config"))

    def patch_config(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch to the config; returns the new config."""
        return dict(self.call("PATCH", "config", dict(patch)))

    def set_latency(self, spec: str, selector: str = "*") -> dict[str, Any]:
        """Set the latency spec for `selector` (`*`, an endpoint, a model or `endpoint/model`)."""
        return self.patch_config({"latency": {selector: spec}})

    def add_fault(self, spec: str) -> dict[str, Any]:
        return self.patch_config({"faults": [*self.config()["faults"], spec]})

    def clear_faults(self) -> dict[str, Any]:
        return self.patch_config({"faults": []})

    def set_quota(self, endpoint: str, rpm: int | None) -> dict[str, Any]:
        """Set (or with None, remove) the requests-per-minute quota of `endpoint`."""
        return self.patch_config({"quotas_rpm": {endpoint: rpm}})

    def counters(self) -> dict[str, Any]:
        return dict(self.call("GET", "counters"))

    def journal(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        query = f"journal?since={since}" + (f"&limit={limit}" if limit is not None else "")
        return list(self.call("GET", query)["entries"])

    def reset(self) -> None:
        self.call("POST", "reset")

    def expected(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The reply the mock gives for `body` on `endpoint` (text, tokens, shape)."""
        return dict(self.call("POST", "expected", {"endpoint": endpoint, "body": dict(body)}))
