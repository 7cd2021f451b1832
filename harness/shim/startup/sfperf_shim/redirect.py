"""Which URLs go to the mock: Salesforce hosts (https or http), rewritten onto the mock's base URL.

Pure and stdlib-only: the same rules run inside every launched child and in sfperf's own tests.
Every request of a patched library passes through here, so answers are memoised: a gateway
calls the same few hosts and URLs over and over (parsing a URL costs ~1 us, a lookup ~50 ns).
The socket seam (`sockets`) asks the same questions of host names, per connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

EXACT_HOSTS = frozenset({"api.salesforce.com", "login.salesforce.com", "test.salesforce.com"})
SUFFIX_HOSTS = (".my.salesforce.com",)
MEMO_LIMIT = 1024  # URLs and hosts remembered; forgotten all at once past it (unique URLs)
OTHER_HOSTS_KEPT = 32  # names looked up and not redirected, kept for the report (a diagnosis)
_UNSEEN = ("", "")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_salesforce_host(host: str) -> bool:
    """True for the hosts a gateway reaches Salesforce on (My Domain hosts included)."""
    host = host.lower().rstrip(".")
    return host in EXACT_HOSTS or any(host.endswith(suffix) for suffix in SUFFIX_HOSTS)


class Redirector:
    """Rewrites Salesforce URLs onto `upstream` (path and query kept) and counts them per host:
    requests for a library patched at its URL seam, connections for one redirected at the
    socket (`connected`). `address` is where the mock listens, `plain` whether it speaks HTTP.

    `host_checks` and `url_checks` count the calls of `handles` and `rewrite`: the shim's own
    work on the target's requests, which `overhead` prices."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) base URL, not {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self.address = (parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme])
        self.plain = parts.scheme == "http"
        self.mock_peers: set[tuple[str, int]] = set()  # addresses the socket seam sent to the mock
        self._hosts: dict[str | None, bool] = {}
        self._targets: dict[str, tuple[str, str] | None] = {}  # url -> (mock url, host)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Start the counts from zero (a forked child: what came before is its parent's)."""
        self.counts: dict[str, int] = {}
        self.other_hosts: dict[str, int] = {}
        self.mock_connections = 0  # sockets connected to the mock, redirected or not
        self.host_checks = 0
        self.url_checks = 0

    def handles(self, host: str | None) -> bool:
        """True when URLs on `host` are redirected (a cheap test before `rewrite`)."""
        self.host_checks += 1
        known = self._hosts.get(host)
        if known is None:
            if len(self._hosts) >= MEMO_LIMIT:
                self._hosts.clear()
            known = self._hosts[host] = bool(host) and is_salesforce_host(str(host))
        return known

    def rewrite(self, url: str) -> str | None:
        """The mock URL for `url`, or None when `url` is not for a Salesforce host."""
        self.url_checks += 1
        found = self._targets.get(url, _UNSEEN)
        if found is _UNSEEN:
            found = self._resolve(url)
        if found is None:
            return None
        target, host = found
        self._count(self.counts, host)
        return target

    def connected(self, host: str, peers: Iterable[tuple[str, int]]) -> None:
        """The socket seam sent a connection for `host` to the mock, at one of `peers`."""
        self.mock_peers.update(peers)
        self._count(self.counts, host)

    def connecting(self, address: object) -> None:
        """A socket of this process is connecting to `address`: counted in `mock_connections`
        when it is the mock's, redirected or not (a gateway reading SFPERF_MOCK_URL): this
        process called the upstream (R80)."""
        if isinstance(address, tuple) and len(address) >= 2:
            peer = (address[0], address[1])
            if peer == self.address or peer in self.mock_peers:
                with self._lock:
                    self.mock_connections += 1

    def passed(self, host: str) -> None:
        """The socket seam looked up `host` and left it alone: kept (a few) for the report, so a
        gateway whose calls never reached the mock shows which hosts it called instead."""
        room = host in self.other_hosts or len(self.other_hosts) < OTHER_HOSTS_KEPT
        if room and is_named(host):
            self._count(self.other_hosts, host)

    def _count(self, counts: dict[str, int], host: str) -> None:
        with self._lock:
            counts[host] = counts.get(host, 0) + 1

    def _resolve(self, url: str) -> tuple[str, str] | None:
        parts = urlsplit(url)
        found = None
        web = parts.scheme.lower() in ("http", "https")
        if web and parts.hostname and is_salesforce_host(parts.hostname):
            query = f"?{parts.query}" if parts.query else ""
            found = (f"{self.upstream}{parts.path or '/'}{query}", parts.hostname)
        if len(self._targets) >= MEMO_LIMIT:
            self._targets.clear()
        self._targets[url] = found
        return found

    def snapshot(self) -> dict[str, int]:
        """Redirect counts per original host so far."""
        with self._lock:
            return dict(self.counts)

    def others(self) -> dict[str, int]:
        """Lookups of host names not redirected so far (at most `OTHER_HOSTS_KEPT` names)."""
        with self._lock:
            return dict(self.other_hosts)


def is_named(host: str) -> bool:
    """True for a host name worth reporting: not an IP address, not this machine."""
    if not host or host.lower() in ("localhost", "localhost.localdomain"):
        return False
    return ":" not in host and not host.replace(".", "").isdigit()
