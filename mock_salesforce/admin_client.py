"""A small synchronous client of the admin API (stdlib only): the one way tests, tools, load
scenarios and the harness read and change a running mock (config, journal, counters, reset)."""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

JOURNAL_PAGE_SIZE = 5000  # entries per journal request: big pages, bounded answers
_MAX_JOURNAL_PAGES = 1000  # then stop: a journal that grows faster than it is read
# A mock on this machine is reached directly: HTTP(S)_PROXY (corporate shells set it) would send
# the admin calls to the proxy, and every journal read would fail.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AdminError(RuntimeError):
    """The admin API answered with an error `status` (None: with something that is not what
    was asked for)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminClient:
    """Calls `/__admin/...` on a running mock at `base_url`."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        loopback = is_loopback(urlsplit(self.base_url).hostname or "")
        self._open = _DIRECT.open if loopback else urllib.request.urlopen

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
            with self._open(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise AdminError(f"{method} {path}: {exc.code} {detail}", exc.code) from None

    def health(self) -> dict[str, Any]:
        return dict(self.call("GET", "health"))

    def config(self) -> dict[str, Any]:
        return dict(self.call("GET", "config"))

    def patch_config(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch to the config; returns the new config."""
        return dict(self.call("PATCH", "config", dict(patch)))

    def set_latency(self, spec: str, selector: str = "*") -> dict[str, Any]:
        """Set the latency spec for `selector` (`*`, an endpoint, a model or `endpoint/model`);
        it replaces every latency the selector covers (`*`: all of them)."""
        return self.patch_config({"latency": {selector: spec}})

    def add_fault(self, spec: str) -> dict[str, Any]:
        return self.patch_config({"faults": [*self.config()["faults"], spec]})

    def clear_faults(self) -> dict[str, Any]:
        return self.patch_config({"faults": []})

    def set_quota(self, endpoint: str, rpm: int | None) -> dict[str, Any]:
        """Set (or with None, remove) the requests-per-minute quota of `endpoint` (`*`: every
        endpoint, replacing their own quotas)."""
        return self.patch_config({"quotas_rpm": {endpoint: rpm}})

    def counters(self) -> dict[str, Any]:
        return dict(self.call("GET", "counters"))

    def journal(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """One page: the entries with `seq > since`, oldest first, at most `limit` of them."""
        query = f"journal?since={since}" + (f"&limit={limit}" if limit is not None else "")
        return journal_entries(self.call("GET", query))

    def read_journal(
        self, since: int = 0, page_size: int = JOURNAL_PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """Every entry with `seq > since`, page by page, oldest first."""
        entries: list[dict[str, Any]] = []
        cursor = since
        for _ in range(_MAX_JOURNAL_PAGES):
            page = self.journal(cursor, page_size)
            fresh = [e for e in page if e["seq"] > cursor]
            if not fresh:  # not a short page: a mock may cap pages below `page_size`
                break
            entries.extend(fresh)
            cursor = max(e["seq"] for e in fresh)
        return entries

    def reset(self) -> None:
        self.call("POST", "reset")

    def expected(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The reply the mock gives for `body` on `endpoint` (text, tokens, shape)."""
        return dict(self.call("POST", "expected", {"endpoint": endpoint, "body": dict(body)}))


def journal_entries(document: Any) -> list[dict[str, Any]]:
    """The entries of one journal answer (an object with `entries`, or a bare list); AdminError
    when it is not a request journal."""
    items = document.get("entries") if isinstance(document, Mapping) else document
    if not isinstance(items, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("seq"), int) for e in items
    ):
        raise AdminError("the answer is not a request journal")
    return [dict(e) for e in items]


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1): the one check the
    harness's URL rules and this client share (the mock imports nothing of the harness)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
