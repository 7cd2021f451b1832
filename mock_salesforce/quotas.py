"""Rate quotas: per-endpoint requests-per-minute limits over a rolling window, in virtual time.

Like the org limits of the real Models API (e.g. 10,000 generation requests/minute, 1,000 for
embeddings and feedback), exceeding one gets 429 `LIMIT_EXCEEDED`. Keys are selectors, as for
latency: an endpoint, or `*` for every endpoint without a limit of its own; each endpoint counts
in its own window, and endpoints without a limit are never throttled. Spec form for the CLI:
`chat-generations=500,embeddings=1000,*=2000`; an item without `ENDPOINT=` is the `*` limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from mock_salesforce.errors import ConfigError

ALL_ENDPOINTS = "*"


class QuotaBook:
    """Admits or rejects each request against rolling-window limits, and counts both.

    A request admitted at t stops counting at t + window_s exactly; only admitted requests
    use up quota (a rejected client retrying hard does not lock itself out forever).
    """

    def __init__(self, limits_rpm: Mapping[str, int], window_s: float = 60.0) -> None:
        for endpoint, limit in limits_rpm.items():
            if not endpoint or isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ConfigError(
                    f"quota for {endpoint!r} must be a whole number >= 1, not {limit!r}"
                )
        if window_s <= 0:
            raise ConfigError(f"quota window must be > 0 s, not {window_s!r}")
        self.limits_rpm = dict(limits_rpm)
        self.window_s = window_s
        self._admitted_at: dict[str, deque[float]] = {}  # per endpoint: admissions, oldest first
        self.admitted: dict[str, int] = {}
        self.rejected: dict[str, int] = {}

    def limit_rpm(self, endpoint: str) -> int | None:
        """The limit `endpoint` is held to: its own, else the `*` one, else None."""
        limits = self.limits_rpm
        return limits.get(endpoint, limits.get(ALL_ENDPOINTS))

    def admit(self, endpoint: str, now_s: float) -> bool:
        """True (and the request counts) if `endpoint`'s limit has room at now_s."""
        limit = self.limit_rpm(endpoint)
        if limit is not None:
            if self._in_window(endpoint, now_s) >= limit:
                self.rejected[endpoint] = self.rejected.get(endpoint, 0) + 1
                return False
            self._admitted_at.setdefault(endpoint, deque()).append(now_s)
        self.admitted[endpoint] = self.admitted.get(endpoint, 0) + 1
        return True

    def _in_window(self, endpoint: str, now_s: float) -> int:
        times = self._admitted_at.get(endpoint)
        if times is None:
            return 0
        cutoff = now_s - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times)

    def retry_after_s(self, endpoint: str, now_s: float) -> float:
        """Seconds until `endpoint` has room again (0.0 when it has room now)."""
        limit = self.limit_rpm(endpoint)
        if limit is None or self._in_window(endpoint, now_s) < limit:
            return 0.0
        times = self._admitted_at[endpoint]
        return times[len(times) - limit] + self.window_s - now_s

    def remaining(self, endpoint: str, now_s: float) -> int | None:
        """Requests `endpoint` may still make in the current window (None: unlimited)."""
        limit = self.limit_rpm(endpoint)
        return None if limit is None else limit - self._in_window(endpoint, now_s)

    def counters(self) -> dict[str, dict[str, int]]:
        """Admissions and rejections per endpoint since the last reset."""
        return {"admitted": dict(self.admitted), "rejected": dict(self.rejected)}

    def reset(self) -> None:
        """Forget every admission and zero the counters; the limits stay."""
        self._admitted_at.clear()
        self.admitted.clear()
        self.rejected.clear()


def parse_quotas(spec: str) -> dict[str, int]:
    """`chat-generations=500,embeddings=1000` -> {'chat-generations': 500, 'embeddings': 1000};
    `2000` alone -> {'*': 2000}."""
    limits: dict[str, int] = {}
    for item in (i.strip() for i in spec.split(",") if i.strip()):
        endpoint, eq, value = (part.strip() for part in item.partition("="))
        if not eq:
            endpoint, value = ALL_ENDPOINTS, endpoint
        value = value.lower().removesuffix("/min").removesuffix("rpm").strip()
        if not endpoint or not value.isdigit() or int(value) < 1:
            raise ConfigError(
                f"bad quota {item!r} in {spec!r}: expected [ENDPOINT=]REQUESTS_PER_MINUTE"
            )
        if endpoint in limits:
            raise ConfigError(f"quota for {endpoint!r} given twice in {spec!r}")
        limits[endpoint] = int(value)
    return limits


def format_quotas(limits_rpm: Mapping[str, int]) -> str:
    """The spec string of a limits mapping; parse_quotas(format_quotas(m)) == m."""
    return ",".join(f"{endpoint}={limit}" for endpoint, limit in limits_rpm.items())
