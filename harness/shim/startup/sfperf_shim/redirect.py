"""Which URLs go to the mock: Salesforce hosts (https or http), rewritten onto the mock's base URL.

Pure and stdlib-only: the same rules run inside every launched child and in sfperf's own tests.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

EXACT_HOSTS = frozenset({"api.salesforce.com", "login.salesforce.com", "test.salesforce.com"})
SUFFIX_HOSTS = (".my.salesforce.com",)


def is_salesforce_host(host: str) -> bool:
    """True for the hosts a gateway reaches Salesforce on (My Domain hosts included)."""
    host = host.lower().rstrip(".")
    return host in EXACT_HOSTS or any(host.endswith(suffix) for suffix in SUFFIX_HOSTS)


class Redirector:
    """Rewrites Salesforce URLs onto `upstream` (path and query kept) and counts them per host."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream must be an http(s) base URL, not {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def rewrite(self, url: str) -> str | None:
        """The mock URL for `url`, or None when `url` is not for a Salesforce host."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        if not is_salesforce_host(parts.hostname):
            return None
        with self._lock:
            self.counts[parts.hostname] = self.counts.get(parts.hostname, 0) + 1
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.upstream}{parts.path or '/'}{query}"

    def snapshot(self) -> dict[str, int]:
        """Redirect counts per original host so far."""
        with self._lock:
            return dict(self.counts)
