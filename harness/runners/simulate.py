"""The token cache in virtual time: a day of requests against each token provider in seconds.

The REAL provider classes of `harness.subjects.token_providers` (or a user's class) run against a
`MemoryTokenStore` and a fake upstream that issues tokens with the real lifetime, driven by a
virtual clock. Everything is observed from outside the provider: misses are tokens fetched, file
I/O is what the store saw, and a send is expired when the real expiry of the token has passed.
"""

from __future__ import annotations

import importlib
import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.errors import UsageError
from harness.records import Environment, RunRecord, Series, capture_environment, now_iso
from harness.runners.support.interrupted import Interrupted
from harness.runners.support.progress import Advance, no_progress
from harness.runners.support.workloads import ProviderConfig, Workload, arrival_times_s
from harness.subjects.token_providers import (
    FileTokenProvider,
    MemoryTokenStore,
    MemoryTtlTokenProvider,
    TokenGrant,
)

HOUR_S = 3600.0
# Per virtual hour, in this order (docs/internals.md: simulate / token-cache).
SERIES = ("requests", "hits", "misses", "refreshes", "file_reads", "file_writes", "expired_sends")


@dataclass
class VirtualClock:
    """The simulation's clock: providers call it, the driver moves `now_s` forward."""

    now_s: float = 0.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class FakeUpstream:
    """Issues tokens like the mock's OAuth endpoint does, with the real lifetime.

    With `track=True` it remembers each token's expiry, for providers that hand out only the
    token string (a user's class without `get_grant`).
    """

    clock: VirtualClock
    lifetime_s: float
    track: bool = False
    issued: int = 0

    def __post_init__(self) -> None:
        self.expiry_s: dict[str, float] = {}

    def fetch(self) -> TokenGrant:
        now_s = self.clock.now_s
        self.issued += 1
        grant = TokenGrant(f"sim-{self.issued}", now_s, now_s + self.lifetime_s)
        if self.track:
            self.expiry_s[grant.access_token] = grant.expires_at_s
        return grant


@dataclass
class Rig:
    """One provider under simulation with the clock, store and upstream it talks to."""

    provider: Any
    clock: VirtualClock
    upstream: FakeUpstream
    store: MemoryTokenStore

    def totals(self) -> dict[str, int]:
        """Cumulative counts, all observed from outside the provider: a miss is a token fetched
        from the upstream, file I/O is what the store saw."""
        return {
            "misses": self.upstream.issued,
            "refreshes": self.upstream.issued,
            "file_reads": self.store.reads,
            "file_writes": self.store.writes,
        }

    def own_counters(self) -> dict[str, int]:
        """What the provider says it did (kept beside the observed counts); {} if it won't say."""
        counters = getattr(self.provider, "counters", None)
        if not callable(counters):
            return {}
        values = counters()
        return dict(values.as_dict() if hasattr(values, "as_dict") else vars(values))


def build_rig(config: ProviderConfig, token_lifetime_s: float) -> Rig:
    """The provider named by `config`, on a fresh store, virtual clock and fake upstream."""
    clock = VirtualClock()
    upstream = FakeUpstream(clock, token_lifetime_s, track=config.kind == "class")
    store = MemoryTokenStore()
    buffer = {} if config.buffer_s is None else {"refresh_buffer_s": config.buffer_s}
    if config.kind == "file":
        provider: Any = FileTokenProvider(store, upstream.fetch, clock, **buffer)
    elif config.kind == "memory-ttl":
        provider = MemoryTtlTokenProvider(store, upstream.fetch, clock, config.ttl_s, **buffer)
    else:
        ttl = {} if config.ttl_s is None else {"ttl_s": config.ttl_s}
        cls = load_class(str(config.cls))
        provider = cls(store=store, fetch=upstream.fetch, clock=clock, **ttl, **buffer)
    return Rig(provider, clock, upstream, store)


def load_class(spec: str) -> Any:
    """The class at import path `pkg.mod:Class`; UsageError naming the problem otherwise."""
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UsageError(f"cannot load token provider class {spec!r}: {exc}") from None


def run_simulation(
    workload: Workload, *, advance: Advance = no_progress, environment: Environment | None = None
) -> list[RunRecord]:
    """One `simulate/token-cache` record per provider configuration of `workload`.

    Ctrl-C raises `Interrupted` carrying the records so far, the last one partial.
    """
    duration_s = workload.duration_h * HOUR_S
    times_s = arrival_times_s(workload.arrivals, duration_s, workload.seed)
    environment = environment or capture_environment()
    records = []
    for config in workload.providers:
        started_at, start_s = now_iso(), time.perf_counter()
        rig = build_rig(config, workload.token_lifetime_s)
        hours, partial = simulate_hours(rig, times_s, duration_s, advance, workload.on_expired)
        elapsed_s = time.perf_counter() - start_s
        labels = _labels(rig, config, workload)
        extra = {"provider_counters": rig.own_counters()}
        records.append(
            _record(workload, labels, hours, extra, environment, started_at, elapsed_s, partial)
        )
        if partial:
            raise Interrupted(records)
    return records


def simulate_hours(
    rig: Rig,
    times_s: npt.NDArray[np.float64],
    duration_s: float,
    advance: Advance = no_progress,
    on_expired: str = "ignore",
) -> tuple[dict[str, list[int]], bool]:
    """Drive `rig` through `times_s`: per-hour counts of each of SERIES, and whether Ctrl-C
    stopped it (the hours done so far are kept)."""
    hours: dict[str, list[int]] = {name: [] for name in SERIES}
    # A user's class may wrap grants in its own notion of expiry: judge its tokens by string.
    drive = _drive_tokens if rig.upstream.track else _drive
    refresh = on_expired == "refresh" and callable(getattr(rig.provider, "invalidate", None))
    before = rig.totals()
    try:
        for lo, hi in _hour_slices(times_s, duration_s):
            expired = drive(rig, times_s[lo:hi].tolist(), refresh)
            after = rig.totals()
            for name in after:
                hours[name].append(after[name] - before[name])
            hours["requests"].append(hi - lo)
            hours["hits"].append(hi - lo - hours["misses"][-1])
            hours["expired_sends"].append(expired)
            before = after
            advance(1, "")
    except KeyboardInterrupt:
        return _complete_hours(hours), True
    return hours, False


def _complete_hours(hours: dict[str, list[int]]) -> dict[str, list[int]]:
    """Drop a last hour whose counts were only partly written when Ctrl-C came."""
    done = min(len(values) for values in hours.values())
    return {name: values[:done] for name, values in hours.items()}


def _hour_slices(times_s: npt.NDArray[np.float64], duration_s: float) -> Iterator[tuple[int, int]]:
    edges_s = np.arange(0.0, duration_s, HOUR_S)[1:]
    bounds = [0, *np.searchsorted(times_s, edges_s).tolist(), len(times_s)]
    return itertools.pairwise(bounds)


def _drive(rig: Rig, times_s: list[float], refresh: bool) -> int:
    """Send one request at each virtual time; count those sent with an expired token (and,
    with `refresh`, answer each with a 401: invalidate, fetch, resend)."""
    # The hot loop of the simulator: locals only. The expiry checked is the one the fake
    # upstream wrote into the grant it issued, whatever the provider believes about it.
    clock, get_grant = rig.clock, rig.provider.get_grant
    expired = 0
    for now_s in times_s:
        clock.now_s = now_s
        if get_grant().expires_at_s <= now_s:
            expired += 1
            if refresh:
                rig.provider.invalidate()
                get_grant()
    return expired


def _drive_tokens(rig: Rig, times_s: list[float], refresh: bool) -> int:
    """`_drive` judging token strings by the expiry the upstream recorded when issuing them."""
    clock, get_token, expiry_s = rig.clock, rig.provider.get_token, rig.upstream.expiry_s
    expired = 0
    for now_s in times_s:
        clock.now_s = now_s
        if expiry_s.get(get_token(), float("-inf")) <= now_s:
            expired += 1  # a token the upstream never issued counts as unusable too
            if refresh:
                rig.provider.invalidate()
                get_token()
    return expired


def _labels(rig: Rig, config: ProviderConfig, workload: Workload) -> dict[str, str]:
    """What claims select on; settings left to the provider's defaults are read back from it."""
    ttl_s = getattr(rig.provider, "ttl_s", None)
    buffer_s = getattr(rig.provider, "refresh_buffer_s", None)
    return {
        "provider": config.cls if config.kind == "class" and config.cls else config.kind,
        "config": config.name,
        # "none": the provider follows the token's real lifetime (the file provider always does).
        "ttl_s": "none" if ttl_s is None else f"{ttl_s:g}",
        "buffer_s": "none" if buffer_s is None else f"{buffer_s:g}",
        "token_lifetime_s": f"{workload.token_lifetime_s:g}",
        "on_expired": workload.on_expired,
    }


def _record(
    workload: Workload,
    labels: Mapping[str, str],
    hours: Mapping[str, list[int]],
    extra: Mapping[str, Any],
    environment: Environment,
    started_at: str,
    duration_s: float,
    partial: bool,
) -> RunRecord:
    # The provider's own counters travel beside what was observed, so a disagreement shows.
    params = workload.as_params() | {"provider": dict(labels)} | dict(extra)
    series = tuple(Series(name, "count", tuple(float(v) for v in hours[name])) for name in SERIES)
    return RunRecord(
        runner="simulate",
        scenario="token-cache",
        params=params,
        environment=environment,
        series=series,
        labels=dict(labels),
        started_at=started_at,
        duration_s=duration_s,
        partial=partial,
    )


def hit_rate(record: RunRecord) -> float:
    """Share of requests served from the cache over the whole record (0 when no requests)."""
    requests = sum(record.get("requests").values)
    return sum(record.get("hits").values) / requests if requests else 0.0


def hit_rate_interval(record: RunRecord, confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the hit rate by batch means over the virtual hours.

    Hits of successive requests are not independent (one refresh serves the next thousand), so
    a binomial interval would be far too narrow; hourly batches are close to independent. The
    ratio estimator's standard error uses the per-hour residuals `hits - rate * requests`.
    """
    from scipy import stats

    hits = np.asarray(record.get("hits").values)
    requests = np.asarray(record.get("requests").values)
    rate, batches = hit_rate(record), int(np.count_nonzero(requests))
    if batches < 2:
        return (0.0, 1.0) if batches == 0 else (rate, rate)  # one batch: no spread to measure
    residuals = hits - rate * requests
    stderr = float(np.sqrt(residuals @ residuals / (batches - 1) / batches) / requests.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, batches - 1)) * stderr
    return max(0.0, rate - half), min(1.0, rate + half)
