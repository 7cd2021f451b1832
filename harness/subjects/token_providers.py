"""OAuth token grants, where they are kept, and the two token providers the seed report compares.

`FileTokenProvider` ("file") reads and parses its store on every validation;
`MemoryTtlTokenProvider` ("memory-ttl") keeps the grant in memory under a lock and touches the
store only at start and on refresh. Both count what they do, including tokens handed out at or
after their real expiry, so a setting that cannot work shows in the counters instead of being
clamped away. Clocks are injected.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

DEFAULT_LIFETIME_S = 1800.0  # "the JWT by default expires in 30 minutes" (Salesforce docs)
DEFAULT_REFRESH_BUFFER_S = 300.0


class TokenFetchError(Exception):
    """The token endpoint refused or could not be reached; `status` is its HTTP status (0: none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """An access token, when it was issued and when it really expires (clock seconds)."""

    access_token: str
    issued_at_s: float
    expires_at_s: float
    api_instance_url: str | None = None


def _jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT (unverified), or {} when `token` is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _lifetime_s(payload: Mapping[str, Any], claims: Mapping[str, Any]) -> float | None:
    """Token lifetime from the JWT: `exp` minus the response's `issued_at` (ms), else its `iat`.

    `issued_at` comes first because `iat` is whole seconds: up to a second too generous.
    """
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        return None
    try:
        issued_s = float(payload["issued_at"]) / 1000.0
    except (KeyError, TypeError, ValueError):
        iat = claims.get("iat")
        if not isinstance(iat, int | float):
            return None
        issued_s = float(iat)
    return float(exp) - issued_s


def grant_from_token_response(payload: Mapping[str, Any], now_s: float) -> TokenGrant:
    """Build a grant from an OAuth token response received at `now_s` (our clock).

    The expiry comes from the JWT's own claims, measured as a lifetime so our clock and the
    issuer's need not agree; a token without them is given the documented 30 minutes.
    """
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenFetchError("token response has no access_token")
    lifetime_s = _lifetime_s(payload, _jwt_claims(token))
    expires_at_s = now_s + (DEFAULT_LIFETIME_S if lifetime_s is None else lifetime_s)
    base = payload.get("api_instance_url")
    return TokenGrant(token, now_s, expires_at_s, base if isinstance(base, str) else None)


class TokenStore(Protocol):
    """Where a grant is kept between validations (a file, or memory for simulations)."""

    def read(self) -> TokenGrant | None: ...

    def write(self, grant: TokenGrant) -> None: ...


class MemoryTokenStore:
    """A store in memory that counts reads and writes (the simulator runs millions of calls)."""

    def __init__(self, grant: TokenGrant | None = None) -> None:
        self._grant = grant
        self.reads = 0
        self.writes = 0

    def read(self) -> TokenGrant | None:
        self.reads += 1
        return self._grant

    def write(self, grant: TokenGrant) -> None:
        self.writes += 1
        self._grant = grant


class FileTokenStore:
    """A JSON file holding one grant; writes are atomic (temp file + rename); counts I/O."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.reads = 0
        self.writes = 0

    def read(self) -> TokenGrant | None:
        self.reads += 1
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return TokenGrant(**data)
        except (OSError, ValueError, TypeError):
            return None  # missing or damaged file: the provider fetches a new grant

    def write(self, grant: TokenGrant) -> None:
        self.writes += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(grant), handle)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True, slots=True)
class TokenCounters:
    """What a provider did since it was created."""

    validations: int = 0
    hits: int = 0
    misses: int = 0
    file_reads: int = 0
    file_writes: int = 0
    refreshes: int = 0
    expired_uses: int = 0
    invalidations: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class TokenProvider(Protocol):
    """Hands out access tokens; `invalidate` after an upstream 401 forces the next refresh."""

    def get_token(self) -> str: ...

    def get_grant(self) -> TokenGrant: ...

    def needs_refresh(self) -> bool: ...

    def invalidate(self) -> None: ...

    def counters(self) -> TokenCounters: ...


@dataclass(slots=True)
class _Counts:
    """The live, mutable counts behind `TokenCounters` (slots: cheap on the hot path)."""

    validations: int = 0
    hits: int = 0
    misses: int = 0
    file_reads: int = 0
    file_writes: int = 0
    refreshes: int = 0
    expired_uses: int = 0
    invalidations: int = 0


class _CountingProvider:
    """Counters and store access shared by both providers (all under `self._lock`)."""

    def __init__(
        self, store: TokenStore, fetch: Callable[[], TokenGrant], clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._n = _Counts()

    def _read_store(self) -> TokenGrant | None:
        self._n.file_reads += 1
        return self._store.read()

    def _refresh(self) -> TokenGrant:
        self._n.misses += 1
        grant = self._fetch()
        self._n.refreshes += 1
        self._n.file_writes += 1
        self._store.write(grant)
        return grant

    def get_token(self) -> str:
        return self.get_grant().access_token

    def get_grant(self) -> TokenGrant:
        raise NotImplementedError

    def counters(self) -> TokenCounters:
        with self._lock:
            return TokenCounters(**asdict(self._n))


class FileTokenProvider(_CountingProvider):
    """The legacy provider: every validation reads and parses the store; refreshes near expiry."""

    def __init__(
        self,
        store: TokenStore,
        fetch: Callable[[], TokenGrant],
        clock: Callable[[], float],
        refresh_buffer_s: float = DEFAULT_REFRESH_BUFFER_S,
    ) -> None:
        super().__init__(store, fetch, clock)
        self.refresh_buffer_s = refresh_buffer_s
        self._forced = False
        self._last: TokenGrant | None = None  # only a hint for needs_refresh; the file rules

    def get_grant(self) -> TokenGrant:
        now_s = self._clock()
        # The read happens under the lock, so concurrent validations queue behind each other's
        # file I/O: one refresh at a time, and the serialization the legacy design pays for it.
        with self._lock:
            self._n.validations += 1
            grant = self._read_store()
            if grant is None or self._forced or self._due(grant, now_s):
                grant = self._refresh()
                self._forced = False
            else:
                self._n.hits += 1
            self._last = grant
            if now_s >= grant.expires_at_s:
                self._n.expired_uses += 1
            return grant

    def _due(self, grant: TokenGrant, now_s: float) -> bool:
        return now_s >= grant.expires_at_s - self.refresh_buffer_s

    def needs_refresh(self) -> bool:
        last = self._last
        return last is None or self._forced or self._due(last, self._clock())

    def invalidate(self) -> None:
        with self._lock:
            self._n.invalidations += 1
            self._forced = True


class MemoryTtlTokenProvider(_CountingProvider):
    """The optimized provider: a grant kept in memory for `ttl_s` minus `refresh_buffer_s`.

    `ttl_s=None` trusts the grant's real lifetime. An explicit TTL is obeyed as given, so a TTL
    longer than the real lifetime hands out expired tokens (`expired_uses`) and a buffer at least
    as long as the TTL refreshes on every call (`refreshes` == `validations`).
    """

    def __init__(
        self,
        store: TokenStore,
        fetch: Callable[[], TokenGrant],
        clock: Callable[[], float],
        ttl_s: float | None = None,
        refresh_buffer_s: float = DEFAULT_REFRESH_BUFFER_S,
    ) -> None:
        super().__init__(store, fetch, clock)
        self.ttl_s = ttl_s
        self.refresh_buffer_s = refresh_buffer_s
        self._grant: TokenGrant | None = None
        self._refresh_at_s = float("-inf")
        self._started = False

    def get_grant(self) -> TokenGrant:
        now_s = self._clock()
        with self._lock:
            self._n.validations += 1
            grant = self._grant
            if grant is None or now_s >= self._refresh_at_s:
                grant = self._renew(now_s)
            else:
                self._n.hits += 1
            if now_s >= grant.expires_at_s:  # obeying a TTL longer than the token's real life
                self._n.expired_uses += 1
            return grant

    def _renew(self, now_s: float) -> TokenGrant:
        """At start try the store (a grant left by an earlier run); otherwise fetch a new one."""
        grant = None
        if not self._started:
            self._started = True
            grant = self._read_store()
            if grant is not None and now_s >= self._refresh_time(grant):
                grant = None
        if grant is None:
            grant = self._refresh()
        else:
            self._n.hits += 1
        self._grant = grant
        self._refresh_at_s = self._refresh_time(grant)
        return grant

    def _refresh_time(self, grant: TokenGrant) -> float:
        lifetime_s = grant.expires_at_s - grant.issued_at_s if self.ttl_s is None else self.ttl_s
        return grant.issued_at_s + lifetime_s - self.refresh_buffer_s

    def needs_refresh(self) -> bool:
        return self._grant is None or self._clock() >= self._refresh_at_s

    def invalidate(self) -> None:
        with self._lock:
            self._n.invalidations += 1
            self._grant = None
            self._refresh_at_s = float("-inf")


TOKEN_PROVIDERS = ("file", "memory-ttl")
