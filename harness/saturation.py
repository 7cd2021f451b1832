"""Where a subject of the sweep stops scaling: its knee, and the shape of its curve past it.

Pure, read from sweep records (one point per concurrency level at one upstream latency). Only
successful requests count as throughput and latency, so a gateway that answers errors fast
does not look fast; a request that failed on a fault the user's mock injected (`met_fault`) is
the mock's doing: counted as served, never as the subject's error, and named. A level where
half the requests fail or more (or none succeeds) is *failing*: never in step with
concurrency, whatever its throughput. The knee is the highest level that is not failing and
still within 90% of Little's-law bound. The shape, first that applies:
- `no-data`: no level measured anything (or every request failed on the mock's faults);
- `broken`: every level measured is failing (a target broken from the first level is not
  said to scale; a reply cache answering prompts with other prompts' replies, without an
  upstream call, is named beside it and beside a `failure`);
- `one-level`: one level was measured; a shape needs two;
- `rate-limit`: the errors are, nearly all, the subject's own 429s with a Retry-After (the
  mock's journal shows no 429 of its own): a rate limit it holds, named with the levels it
  answered them from and the successful requests per second it kept serving, not a failure
  (the sweep's client waits the Retry-After before a worker's next request);
- `failure`: a level is failing (under load, or at low concurrency only), or past the knee
  the error rate rises;
- `client-bound`: the target ran as fast as the sweep's own client can drive the mock with
  nothing in between (its ceiling), so the target's own limit was not reached;
- `collapse`: throughput falls well below its peak;
- `cap`: throughput stays flat while latency grows: a concurrency cap, whose size Little's law
  gives (the flat throughput times the latency of one request alone); or, from the top level
  alone, when the level below kept nearly all of its requests in service and the top one serves
  well under its own (a pool between the two levels, e.g. FastAPI's 40 threads under 32 and 64
  in flight; it must leave at least 8 requests queued and its latency grow);
- `sub-linear`: throughput still rises, but ever further below the bound;
- `scales`: the highest level swept is still within 90% of the bound (or, for a subject under
  it from the first level, still in step with its first level).
The sentence also names errors below the failing rate and the levels planned but not measured
(a stopped run).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.blocking import blocking_call
from harness.exits import PARAM as EXIT
from harness.machine import load_span
from harness.records import RunRecord
from harness.runners.support.closedloop import TOO_MANY_WAIT_S

KNEE_FRACTION = 0.9  # within 90% of the bound
CLIENT_FRACTION = 0.9  # a level within 10% of the client's own ceiling is the client's limit
ERROR_RISE = 0.01  # past the knee, errors up by a point or more: failing under load
FAILING_ERROR_RATE = 0.5  # half the requests failed or more: the level is failing
COLLAPSE_FRACTION = 0.8  # the top level under 80% of the peak: collapse
FLAT_BAND = 0.15  # levels within 15% of the top level's throughput form its plateau
# A cap from the top level alone: the level below served at least 80% of its requests at once
# (throughput x one request's latency alone), the top one under 75% and 8 or more fewer than its
# own, with its p50 latency 25% above one request's alone: the rest queued.
CAP_BELOW_FILL = 0.8
CAP_TOP_FILL = 0.75
CAP_MIN_QUEUED = 8
CAP_LATENCY_GROWTH = 1.25
# ...and what it serves at once must have stopped growing: at most the square root of the
# concurrency's growth (1.41x when it doubled). A pool of 40 under 32 and 64 callers grows 1.33x;
# a subject with no pool on a machine short of cores grew 1.79x (27 -> 48 at 32 -> 64: R68).
CAP_SERVED_GROWTH_EXPONENT = 0.5
CPU_BOUND_SHARE = 0.85  # a process using 85% of a core or more is held back by it
# Its own CPU explains its ceiling (R68: 8 ms of CPU per request, "sub-linear"): its busiest
# process had work for a core (ran, or waited for one) at least 70% of the time, and what it
# served cost half a core or more (throughput x CPU per request); controls with no CPU work
# of note stay at 0.4-0.5 runnable and under half a core on the same busy machine.
CPU_DEMAND_SHARE = 0.7
CPU_MATERIAL_CORES = 0.5
# On a machine whose load exceeds its CPUs a subject's low CPU share may be a wait for a core
# (its own, or the mock's and the client's it waits on), unless the sweep's client reached this
# many times the subject's throughput against the mock beside it: then the machine had room.
ROOM_FACTOR = 2.0
# Errors that are, at this share or more, 429s with a Retry-After: a rate limit, not a failure.
RATE_LIMIT_SHARE = 0.9
CEILING_SUBJECT = "ceiling"
HTTP_KINDS = ("gateway", "target")  # driven by the sweep's HTTP client, whose ceiling applies
# A cap under this many requests in flight serves them one at a time: what the target's profile
# shows of a synchronous HTTP client says why (`harness.blocking`, R104).
ONE_AT_A_TIME = 1.5
LEVEL_SERIES = frozenset({"latency_ms", "throughput_rps", "littles_bound_rps"})


@dataclass(frozen=True)
class LevelPoint:
    """One level of one subject: successful requests per second against the bound, latency of
    the successful requests (NaN: none), errors, and what the sweep's client reached against
    the mock directly at that level."""

    concurrency: int
    throughput_rps: float
    bound_rps: float
    p50_ms: float
    p99_ms: float
    error_rate: float
    ceiling_rps: float | None = None
    busiest_cpu_share: float | None = None  # of one core, the subject's busiest process
    busiest_wait_share: float | None = None  # of the span, that process ready with no core
    cpu_ms_per_request: float | None = None  # the subject's, all its processes
    client_cpu_share: float | None = None  # of one core, the sweep's client (one event loop)
    limited_share: float = 0.0  # of the requests, 429s with a Retry-After
    retry_after_s: float = 0.0  # the median Retry-After of those
    upstream_429: int | None = None  # 429s the mock sent in the level's window (None: unknown)
    load_1m: float | None = None  # the machine's highest 1-minute load average over the level
    cpu_count: int = 0  # the machine's CPUs (0: not recorded)
    # Of its judged replies, those that were the upstream's answer to another prompt with no
    # upstream call of their own: a reply cache keyed on less than the prompt (R65).
    uncalled_share: float = 0.0
    exited: str = ""  # how the subject's process exited during this level (params target_exit)
    # Of its requests, those that failed on a fault the user's mock injected (`met_fault`): the
    # mock's doing, set apart from its errors and counted as served (review7 B6).
    fault_share: float = 0.0

    @property
    def machine_busy(self) -> bool:
        """More runnable processes than cores while it was measured: some waited for a CPU."""
        return self.load_1m is not None and 0 < self.cpu_count < self.load_1m

    @property
    def rate_limited(self) -> bool:
        """Its errors are (nearly all) its own 429s with a Retry-After: the upstream sent none."""
        return (
            self.error_rate >= ERROR_RISE
            and self.limited_share >= RATE_LIMIT_SHARE * self.error_rate
            and not self.upstream_429
        )

    @property
    def efficiency(self) -> float:
        """The share of Little's-law bound reached."""
        return self.throughput_rps / self.bound_rps if self.bound_rps > 0 else 0.0

    @property
    def failing(self) -> bool:
        """Half the requests failed or more, or none succeeded: never in step."""
        return self.error_rate >= FAILING_ERROR_RATE or self.throughput_rps <= 0

    @property
    def client_bound(self) -> bool:
        """The client itself fell short of the bound here and the subject matched it, or the
        client's one event loop was busy (it then delays every request it times)."""
        ceiling = self.ceiling_rps
        matched = (
            ceiling is not None
            and ceiling < KNEE_FRACTION * self.bound_rps
            and self.throughput_rps >= CLIENT_FRACTION * ceiling
        )
        busy = self.client_cpu_share is not None and self.client_cpu_share >= CPU_BOUND_SHARE
        return matched or busy


@dataclass(frozen=True)
class Saturation:
    """The knee (None: no level within 90% of the bound), the shape, one sentence saying so,
    and for a cap the requests in flight it allows."""

    subject: str
    upstream_latency_ms: str
    knee: int | None
    shape: str
    detail: str
    peak_rps: float
    top: int
    cap: float | None = None


def last_within(points: Sequence[LevelPoint], floor: float) -> int:
    """Index of the highest level not failing with efficiency >= `floor`; -1: none. A level
    below it that dipped under (a noisy window) does not move the knee down."""
    within = [i for i, p in enumerate(points) if p.efficiency >= floor and not p.failing]
    return within[-1] if within else -1


def saturation_of(
    points: Sequence[LevelPoint],
    subject: str = "",
    upstream: str = "",
    planned: Iterable[int] = (),
) -> Saturation:
    """Knee and shape of one subject's curve (`points` in any order, one per level measured;
    `planned`: the levels the run meant to measure, so those missing are named)."""
    ordered = sorted(points, key=lambda p: p.concurrency)
    missing = sorted(set(planned) - {p.concurrency for p in ordered})
    if not ordered:
        return Saturation(subject, upstream, None, "no-data", "no level was measured", 0.0, 0)
    knee, shape, detail, cap = _classify(ordered)
    peak = max(p.throughput_rps for p in ordered)
    detail += _errors_clause(ordered, shape) + _cache_clause(ordered) + _faults_clause(ordered)
    detail += _missing_clause(missing)
    return Saturation(subject, upstream, knee, shape, detail, peak, ordered[-1].concurrency, cap)


def _classify(ordered: Sequence[LevelPoint]) -> tuple[int | None, str, str, float | None]:
    """(knee, shape, sentence, cap) of levels in ascending order, at least one."""
    if gone := next((i for i, p in enumerate(ordered) if p.exited), None):
        return _exited(ordered[:gone], ordered[gone])
    if ordered[0].exited:
        return None, "exited", _exit_sentence(ordered[0]), None
    if all(p.fault_share >= 1.0 for p in ordered):
        return None, "no-data", "every request failed on a fault the mock injected", None
    serving = [p for p in ordered if not p.failing]
    limited = [p for p in ordered if p.rate_limited]
    if limited and all(p.rate_limited for p in ordered if p.error_rate >= ERROR_RISE):
        index = last_within(serving, KNEE_FRACTION) if serving else -1
        knee = serving[index].concurrency if index >= 0 else None
        return knee, "rate-limit", _rate_limit(limited, ordered[0]), None
    if not serving:
        return None, "broken", _broken(ordered), None
    if len(ordered) == 1:
        return _one_level(ordered[0])
    index = last_within(serving, KNEE_FRACTION)
    knee = serving[index].concurrency if index >= 0 else None
    if len(serving) < len(ordered):
        return knee, "failure", _failing_levels(ordered), None
    if knee is None:  # under the bound from the first level: read it against that level
        index = max(last_within(serving, KNEE_FRACTION * serving[0].efficiency), 0)
    shape, detail, cap = shape_past(serving, index)
    if knee is None:
        first = serving[0]
        detail = (
            f"under 90% of the bound from concurrency {first.concurrency} "
            f"({first.efficiency:.0%}, p50 {first.p50_ms:.0f} ms); {detail}"
        )
    return knee, shape, detail, cap


def _exited(
    before: Sequence[LevelPoint], at: LevelPoint
) -> tuple[int | None, str, str, float | None]:
    """A subject whose process exited at level `at`: said so (its refused requests are no
    failure under load, R85), with the shape of the levels `before` it."""
    knee, shape, detail, _ = _classify(before)
    return knee, "exited", f"{_exit_sentence(at)}; before it, {shape}: {detail}", None


def _exit_sentence(at: LevelPoint) -> str:
    return (f"the process {at.exited} at concurrency {at.concurrency}: the requests refused "
            "after it are not a failure under load")  # fmt: skip


def shape_past(points: Sequence[LevelPoint], last_in_step: int) -> tuple[str, str, float | None]:
    """(shape, sentence, cap size) for the levels past index `last_in_step`, the last level
    that kept pace with concurrency (every level here serves: none is failing)."""
    past = points[last_in_step + 1 :]
    if not past:
        return "scales", f"in step with concurrency up to {points[-1].concurrency}", None
    if past[0].client_bound:
        return "client-bound", _client_bound(past[0]), None
    failing = [p for p in past if p.error_rate >= points[last_in_step].error_rate + ERROR_RISE]
    if failing:
        worst = max(failing, key=lambda p: p.error_rate)
        return "failure", _failure(points[last_in_step], failing[0], worst), None
    peak = max(points, key=lambda p: p.throughput_rps)
    top = points[-1]
    if peak is not top and top.throughput_rps < COLLAPSE_FRACTION * peak.throughput_rps:
        return "collapse", _collapse(peak, top), None
    plateau = plateau_of(points)
    if len(plateau) >= 2:
        return "cap", *_cap(plateau, points[0])
    if capped_at_top(points):
        return "cap", *_cap_at_top(points[-2], top, points[0])
    return "sub-linear", _sub_linear(past[0], top), None


def in_service(point: LevelPoint, alone: LevelPoint) -> float:
    """Requests the subject serves at once at `point` (Little's law: its throughput times the
    latency of one request alone); the rest of its concurrency waits in a queue."""
    return point.throughput_rps * alone.p50_ms / 1000.0


def capped_at_top(points: Sequence[LevelPoint]) -> bool:
    """Whether the top level holds a cap the level below did not reach (see CAP_*)."""
    if len(points) < 3 or not points[0].p50_ms > 0:
        return False
    alone, below, top = points[0], points[-2], points[-1]
    served, served_below = in_service(top, alone), in_service(below, alone)
    growth_limit = (top.concurrency / below.concurrency) ** CAP_SERVED_GROWTH_EXPONENT
    return (
        served_below >= CAP_BELOW_FILL * below.concurrency
        and served <= growth_limit * served_below
        and served < CAP_TOP_FILL * top.concurrency
        and top.concurrency - served >= CAP_MIN_QUEUED
        and top.p50_ms >= CAP_LATENCY_GROWTH * alone.p50_ms
    )


def plateau_of(points: Sequence[LevelPoint]) -> list[LevelPoint]:
    """The top levels whose throughput stays within FLAT_BAND of the top level's."""
    top_rps = points[-1].throughput_rps
    plateau: list[LevelPoint] = []
    for point in reversed(points):
        if abs(point.throughput_rps - top_rps) > FLAT_BAND * top_rps:
            break
        plateau.insert(0, point)
    return plateau


def _client_bound(point: LevelPoint) -> str:
    share = point.client_cpu_share
    if share is not None and share >= CPU_BOUND_SHARE:
        why = f"the sweep's client used {share:.0%} of a core"
    else:
        why = (
            f"the sweep's client reached only {point.ceiling_rps:.0f} req/s against the mock "
            f"directly and the subject kept up with it ({point.throughput_rps:.0f} req/s)"
        )
    return (
        f"client-bound from concurrency {point.concurrency}: {why}, so the subject's own limit "
        "was not reached"
    )


def _failure(base: LevelPoint, first: LevelPoint, worst: LevelPoint) -> str:
    """Errors rising from `base` (a level in step): first at `first`, at most at `worst`."""
    rise = f"{_percent(first.error_rate)} at {first.concurrency}"
    if worst is not first:
        rise += f" and {_percent(worst.error_rate)} at {worst.concurrency}"
    return (
        f"failure under load: errors rise from {_percent(base.error_rate)} at concurrency "
        f"{base.concurrency} to {rise}"
    )


def _rate_limit(limited: Sequence[LevelPoint], alone: LevelPoint) -> str:
    """The subject's own rate limit: where it began, how much it answered 429, what it served;
    without a Retry-After, how many it served at once (R137: nginx `limit_conn` per client
    address, and every client of the sweep comes from 127.0.0.1)."""
    low, high = (f(p.throughput_rps for p in limited) for f in (min, max))
    served = f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"
    wait_s = statistics.median(p.retry_after_s for p in limited)
    whose = ("the upstream sent none" if all(p.upstream_429 == 0 for p in limited)
             else "the mock's journal was not read, so whose is unknown")  # fmt: skip
    head = f"rate limit: from concurrency {limited[0].concurrency} it answers 429"
    if wait_s > 0:
        return (
            f"{head} with Retry-After {wait_s:g} s to {_rates_of(limited)} of requests ({whose}), "
            f"serving {served} ok req/s; the sweep's client waited as told: a limit it holds, "
            "not a failure under load"
        )
    at_once = statistics.median(in_service(p, alone) for p in limited) if alone.p50_ms > 0 else 0
    return (
        f"{head} without a Retry-After to {_rates_of(limited)} of requests ({whose}), serving "
        f"{served} ok req/s, about {at_once:.1f} at once; the sweep's client backed off "
        f"{TOO_MANY_WAIT_S:g} s after each, as an OpenAI client does: a limit it holds, not a "
        "failure under load (a limit on requests at once per client address holds every "
        "sfperf client alike: they all come from 127.0.0.1)"
    )


def _rates_of(points: Sequence[LevelPoint]) -> str:
    """The 429 shares of `points`: `99%`, or their range `40-100%`."""
    return _share_range([p.limited_share for p in points])


def _broken(points: Sequence[LevelPoint]) -> str:
    """Every level failing: said plainly, from the first level."""
    if len(points) == 1:
        only = points[0]
        return (
            f"fails at the one level measured: {_percent(only.error_rate)} errors at "
            f"concurrency {only.concurrency}"
        )
    return (
        f"fails at every level: {_rates(points)} errors from concurrency "
        f"{points[0].concurrency} to {points[-1].concurrency}"
    )


def _one_level(point: LevelPoint) -> tuple[int | None, str, str, float | None]:
    """A single level serving: its figures, but no shape."""
    knee = point.concurrency if point.efficiency >= KNEE_FRACTION else None
    detail = (
        f"one level measured (concurrency {point.concurrency}): {point.throughput_rps:.0f} "
        f"req/s, {point.efficiency:.0%} of the bound; a shape needs two levels or more"
    )
    return knee, "one-level", detail, None


def _failing_levels(points: Sequence[LevelPoint]) -> str:
    """Some levels failing and some not: under load, at low concurrency only, or here and
    there."""
    failing = [p for p in points if p.failing]
    serving = [p for p in points if not p.failing]
    if failing[0].concurrency > serving[-1].concurrency:
        within = last_within(serving, KNEE_FRACTION)
        base = serving[max(within, 0)]
        risen = [
            p for p in points
            if p.concurrency > base.concurrency
            and (p.failing or p.error_rate >= base.error_rate + ERROR_RISE)
        ]  # fmt: skip
        return _failure(base, risen[0], max(risen, key=lambda p: p.error_rate))
    if failing[-1].concurrency < serving[0].concurrency:
        return (
            f"errors fall as concurrency rises: {_rates(failing)} at concurrency "
            f"{_levels(failing)}, {_rates(serving)} from {serving[0].concurrency}; the levels "
            "run lowest first, so a slow start (a token fetch, a cold cache) looks the same"
        )
    return (
        f"fails at some levels only: {_rates(failing)} errors at concurrency "
        f"{_levels(failing)}, {_rates(serving)} at {_levels(serving)}"
    )


def _errors_clause(points: Sequence[LevelPoint], shape: str) -> str:
    """Errors under the failing rate, which the shape does not name."""
    erring = [p for p in points if p.error_rate >= ERROR_RISE]
    if not erring or shape in ("failure", "broken", "rate-limit", "exited", "no-data"):
        return ""
    return f"; errors at {_where(erring, points)}: {_rates(erring)}"


def _cache_clause(points: Sequence[LevelPoint]) -> str:
    """A reply cache that answers prompts with other prompts' replies, never calling the
    upstream: what its errors are (R65: "broken" said nothing of it)."""
    cached = [p for p in points if p.uncalled_share >= ERROR_RISE]
    if not cached:
        return ""
    share, where = _share_range([p.uncalled_share for p in cached]), _where(cached, points)
    return (
        f"; at {where} {share} of its replies were the upstream's answer to another prompt, "
        "given without an upstream call: a reply cache whose key leaves out part of the prompt"
    )


def _faults_clause(points: Sequence[LevelPoint]) -> str:
    """The requests that failed on a fault the user's mock injected: set apart (R89's sweep
    half, review7 B6: behind `--fault 500:p=0.5` every level read `failing`, shape `broken`)."""
    faulted = [p for p in points if p.fault_share > 0]
    if not faulted or all(p.fault_share >= 1.0 for p in points):
        return ""
    share, where = _share_range([p.fault_share for p in faulted]), _where(faulted, points)
    return (
        f"; at {where} {share} of its requests failed on a fault the mock injected: the mock's "
        "doing, set apart from its errors and counted as served"
    )


def _missing_clause(missing: Sequence[int]) -> str:
    if not missing:
        return ""
    return f"; concurrency {_levels(missing)} planned but not measured"


def _where(chosen: Sequence[LevelPoint], points: Sequence[LevelPoint]) -> str:
    """ "every level", or the concurrencies of the `chosen` points when not all."""
    return "every level" if len(chosen) == len(points) else f"concurrency {_levels(chosen)}"


def _share_range(shares: Sequence[float]) -> str:
    """The lowest and highest of `shares` as one percentage range ("12-40%"), or one ("12%")."""
    low, high = _percent(min(shares)), _percent(max(shares))
    return low if low == high else f"{low.removesuffix('%')}-{high}"


def _percent(rate: float) -> str:
    """`12%`; one decimal where rounding would read as none or all (`99.6%`, `0.4%`)."""
    text = f"{rate:.0%}"
    if text in ("0%", "100%") and 0.0 < rate < 1.0:
        return f"{rate:.1%}"
    return text


def _rates(points: Sequence[LevelPoint]) -> str:
    """The error rates of `points`: `100%`, or their range `40-100%`."""
    return _share_range([p.error_rate for p in points])


def _levels(levels: Iterable[LevelPoint | int]) -> str:
    """`1, 8, 32`: concurrency levels in order."""
    numbers = sorted(x if isinstance(x, int) else x.concurrency for x in levels)
    return ", ".join(str(n) for n in numbers)


def _collapse(peak: LevelPoint, top: LevelPoint) -> str:
    return (
        f"collapse: throughput falls from {peak.throughput_rps:.0f} req/s at concurrency "
        f"{peak.concurrency} to {top.throughput_rps:.0f} at {top.concurrency}"
    )


def _cap(plateau: Sequence[LevelPoint], alone: LevelPoint) -> tuple[str, float]:
    rate = float(np.mean([p.throughput_rps for p in plateau]))
    cap = rate * alone.p50_ms / 1000.0  # Little's law: in flight = throughput x time in system
    first, top = plateau[0], plateau[-1]
    sentence = (
        f"concurrency cap: throughput flat at about {rate:.0f} req/s from concurrency "
        f"{first.concurrency} to {top.concurrency} while p50 latency grows from "
        f"{first.p50_ms:.0f} to {top.p50_ms:.0f} ms: about {cap:.1f} requests in flight "
        f"at {alone.p50_ms:.0f} ms each {_cause(top)}"
    )
    return sentence, cap


def _cap_at_top(below: LevelPoint, top: LevelPoint, alone: LevelPoint) -> tuple[str, float]:
    cap = in_service(top, alone)
    sentence = (
        f"concurrency cap: at concurrency {top.concurrency} about {cap:.0f} requests are served "
        f"at once ({top.throughput_rps:.0f} req/s at {alone.p50_ms:.0f} ms each) and the other "
        f"{top.concurrency - cap:.0f} wait, p50 latency {top.p50_ms:.0f} ms; at "
        f"{below.concurrency} it served {in_service(below, alone):.0f} at once {_cause(top)}"
    )
    return sentence, cap


def _cause(point: LevelPoint) -> str:
    """What the subject's CPU says about a cap (when the harness could count it)."""
    cpu, waited = point.busiest_cpu_share, point.busiest_wait_share or 0.0
    if cpu is None:
        return "(a pool, a lock, or one busy core)"
    bound = cpu_bound(point)
    if bound:
        return f"({bound})"
    if cpu + waited >= CPU_BOUND_SHARE:
        return (
            f"(starved of a core: its busiest process ran {cpu:.0%} of the time and waited "
            f"{waited:.0%} for a free core, so this machine was too busy to tell)"
        )
    if point.machine_busy and not _room_beside(point):
        return (
            f"(its busiest process used {cpu:.0%} of a core, but the machine was busy: "
            f"{_load(point)}, so a wait for a core cannot be told from a pool, a lock or a "
            "queue here; measure again on a quieter machine)"
        )
    return (
        f"(not CPU-bound: its busiest process used {cpu:.0%} of a core, so a pool, a lock, a "
        "queue or a blocking call on an event loop holds it back)"
    )


def cpu_bound(point: LevelPoint) -> str:
    """`CPU-bound: ...` with its CPU per request and the rate a core allows, when its own CPU
    explains where it stopped (see CPU_DEMAND_SHARE); "" when it does not, or was not counted."""
    cpu, waited = point.busiest_cpu_share, point.busiest_wait_share or 0.0
    cost_ms = point.cpu_ms_per_request
    if cpu is None:
        return ""
    if cost_ms is None or cost_ms <= 0:
        return f"CPU-bound: its busiest process used {cpu:.0%} of a core" if (
            cpu >= CPU_BOUND_SHARE) else ""  # fmt: skip
    cores = point.throughput_rps * cost_ms / 1000.0
    if cpu < CPU_BOUND_SHARE and (cpu + waited < CPU_DEMAND_SHARE or cores < CPU_MATERIAL_CORES):
        return ""
    busy = f" ({_load(point)})" if point.machine_busy else ""
    return (
        f"CPU-bound: {cost_ms:.1f} ms of CPU per request, so a core serves at most about "
        f"{1000.0 / cost_ms:.0f} req/s of it; at {point.concurrency} it served "
        f"{point.throughput_rps:.0f} req/s ({cores:.2f} of a core in all), its busiest process "
        f"running {cpu:.0%} of the time and waiting {waited:.0%} for a core{busy}"
    )


def _room_beside(point: LevelPoint) -> bool:
    """Whether the machine, busy as it was, carried far more than the subject served: the
    sweep's client reached `ROOM_FACTOR` times its throughput against the mock at that level."""
    ceiling = point.ceiling_rps
    return ceiling is not None and ceiling >= ROOM_FACTOR * point.throughput_rps


def _sub_linear(first: LevelPoint, top: LevelPoint) -> str:
    bound = cpu_bound(top)
    if bound:
        why = f"; {bound}"
    elif top.machine_busy:
        why = (f" (the machine was busy: {_load(top)}; a cap and a wait for a core look the "
               "same here)")  # fmt: skip
    else:
        why = ""
    return (
        f"sub-linear: from concurrency {first.concurrency} throughput grows more slowly than "
        f"concurrency, to {top.efficiency:.0%} of the bound at {top.concurrency}{why}"
    )


def _load(point: LevelPoint) -> str:
    return f"load {point.load_1m:.1f} on {point.cpu_count} CPUs"


def level_points(records: Iterable[RunRecord]) -> dict[tuple[str, str], list[LevelPoint]]:
    """Sweep records -> {(subject, upstream latency label): points}; a gateway's or target's
    points carry the ceiling the sweep's client reached at that level (when measured)."""
    grouped: dict[tuple[str, str], dict[int, list[RunRecord]]] = defaultdict(
        lambda: defaultdict(list)
    )
    over_http: set[str] = set()
    for record in records:
        if measured_level(record):
            subject = record.labels.get("subject", "?")
            upstream = record.labels.get("upstream_latency_ms", "")
            grouped[subject, upstream][int(float(record.labels.get("concurrency", "0")))].append(
                record
            )
            if record.labels.get("kind") in HTTP_KINDS:
                over_http.add(subject)
    ceiling = _ceilings(grouped)
    return {
        (subject, upstream): [
            _point(level, chosen, ceiling(upstream, level) if subject in over_http else None)
            for level, chosen in sorted(levels.items())
        ]
        for (subject, upstream), levels in grouped.items()
    }


def measured_level(record: RunRecord) -> bool:
    """A sweep record with at least one request measured (an empty one says nothing of the
    subject: the run stopped, or its window ended before any request did)."""
    return (
        record.runner == "sweep"
        and set(record.series_names) >= LEVEL_SERIES
        and len(record.get("latency_ms").values) > 0
    )


def client_bound_levels(records: Iterable[RunRecord]) -> dict[tuple[str, str], set[int]]:
    """{(subject, upstream latency label): the levels where the sweep's own client was its
    limit}: what was measured there is the client's, not the subject's."""
    return {
        key: {point.concurrency for point in points if point.client_bound}
        for key, points in level_points(records).items()
    }


def planned_levels(records: Iterable[RunRecord]) -> dict[tuple[str, str], set[int]]:
    """{(subject, upstream latency label): the levels its run planned} (params `levels`)."""
    planned: dict[tuple[str, str], set[int]] = defaultdict(set)
    for record in records:
        if record.runner == "sweep":
            key = record.labels.get("subject", "?"), record.labels.get("upstream_latency_ms", "")
            planned[key].update(int(level) for level in record.params.get("levels", ()))
    return planned


def _ceilings(
    grouped: dict[tuple[str, str], dict[int, list[RunRecord]]],
) -> Callable[[str, int], float | None]:
    """ceiling(upstream, level): the ceiling's throughput there; a target whose upstream is
    not the mock's (`unknown`) gets the run's one ceiling. A level where the ceiling itself met
    errors (not the mock's injected faults: its own, e.g. a token it kept past its life, R130)
    measured no reach of the client's: no subject is held to it."""
    points = {
        (upstream, level): _point(level, chosen, None)
        for (subject, upstream), levels in grouped.items()
        if subject == CEILING_SUBJECT
        for level, chosen in levels.items()
    }
    measured = {key: p.throughput_rps for key, p in points.items() if p.error_rate < ERROR_RISE}
    upstreams = {upstream for upstream, _ in measured}
    only = next(iter(upstreams)) if len(upstreams) == 1 else None

    def ceiling(upstream: str, level: int) -> float | None:
        return measured.get((upstream, level), measured.get((only or "", level)))

    return ceiling


def ok_flags(record: RunRecord) -> npt.NDArray[np.float64]:
    """1.0 per successful request: the `ok` series, or for records older than it, the
    request count less the `errors` count."""
    if "ok" in record.series_names:
        return np.asarray(record.get("ok").values, dtype=np.float64)
    n = len(record.get("latency_ms").values)
    errors = int(record.get("errors").values[0]) if "errors" in record.series_names else 0
    return np.asarray(np.arange(n) >= min(errors, n), dtype=np.float64)


def ok_latencies(record: RunRecord) -> npt.NDArray[np.float64]:
    """Latency of the successful requests alone (a failure's latency is not the subject's
    speed: an error answered in 2 ms is not a fast reply)."""
    latency = np.asarray(record.get("latency_ms").values, dtype=np.float64)
    ok = ok_flags(record)
    return latency[ok > 0] if ok.size == latency.size else latency


def _point(level: int, records: Sequence[RunRecord], ceiling_rps: float | None) -> LevelPoint:
    """One level from its record(s): a repeated level is pooled. A request that failed on a
    fault the mock injected counts as served, not as an error of the subject's."""
    latency = np.concatenate([ok_latencies(r) for r in records])
    ok = np.concatenate([ok_flags(r) for r in records])
    by_mock = np.concatenate([mock_failures(r) for r in records])
    throughput = float(np.mean([r.get("throughput_rps").values[0] for r in records]))
    own = ok.size - float(by_mock.sum())  # requests the mock let through
    share_ok = float(ok.sum()) / own if own > 0 else 0.0
    served = (float(ok.sum()) + float(by_mock.sum())) / ok.size if own > 0 else 0.0
    return LevelPoint(
        concurrency=level,
        throughput_rps=throughput * served,
        bound_rps=float(np.mean([r.get("littles_bound_rps").values[0] for r in records])),
        p50_ms=float(np.percentile(latency, 50)) if latency.size else math.nan,
        p99_ms=float(np.percentile(latency, 99)) if latency.size else math.nan,
        error_rate=1.0 - share_ok if own > 0 else 1.0,
        ceiling_rps=ceiling_rps,
        busiest_cpu_share=cpu_share(records, "subject_busiest_cpu_s"),
        busiest_wait_share=cpu_share(records, "subject_busiest_wait_s"),
        cpu_ms_per_request=cpu_ms_per_request(records),
        client_cpu_share=cpu_share(records, "client_cpu_s"),
        **rate_limit_figures(records),
        **load_figures(records),
        uncalled_share=uncalled_share(records),
        exited=next((str(r.params[EXIT]["says"]) for r in records if EXIT in r.params), ""),
        fault_share=float(by_mock.mean()) if by_mock.size else 0.0,
    )


def mock_failures(record: RunRecord) -> npt.NDArray[np.float64]:
    """1.0 per request that failed on a fault the user's mock injected (`met_fault` and not
    ok); zeros when the record has no `met_fault` series."""
    ok = ok_flags(record)
    if "met_fault" not in record.series_names:
        return np.zeros(ok.size)
    met = np.asarray(record.get("met_fault").values, dtype=np.float64)
    return met * (1.0 - ok) if met.size == ok.size else np.zeros(ok.size)


def load_figures(records: Sequence[RunRecord]) -> dict[str, Any]:
    """`load_1m` (the highest) and `cpu_count` of a level's records (`params.machine_load`)."""
    span = load_span(records)
    return {} if span is None else {"load_1m": span.high, "cpu_count": span.cpu_count}


def rate_limit_figures(records: Sequence[RunRecord]) -> dict[str, Any]:
    """`limited_share`, `retry_after_s` and `upstream_429` of a level's records (sweep records
    saved before these series say nothing: no limit)."""
    counted = [r for r in records if {"status", "retry_after_s"} <= set(r.series_names)]
    pairs = [(status, wait_s) for r in counted
             for status, wait_s in zip(r.get("status").values, r.get("retry_after_s").values,
                                       strict=False)]  # fmt: skip
    limited = [wait_s for status, wait_s in pairs if status == 429]
    asked = [wait_s for wait_s in limited if wait_s > 0]
    total = sum(len(r.get("latency_ms").values) for r in records)
    upstream = [
        r.get("upstream_429").values[0] for r in records if "upstream_429" in r.series_names
    ]
    return {
        "limited_share": len(limited) / total if total else 0.0,
        "retry_after_s": statistics.median(asked) if asked else 0.0,
        "upstream_429": int(sum(upstream)) if len(upstream) == len(records) else None,
    }


def uncalled_share(records: Sequence[RunRecord]) -> float:
    """The share of a level's judged replies that were crossed with no upstream call of their
    own (`crossed_uncalled` of `fidelity_checked`; 0 when not counted)."""
    counted = [
        r for r in records if {"crossed_uncalled", "fidelity_checked"} <= set(r.series_names)
    ]
    checked = sum(r.get("fidelity_checked").values[0] for r in counted)
    if not checked:
        return 0.0
    return sum(r.get("crossed_uncalled").values[0] for r in counted) / checked


def cpu_ms_per_request(records: Sequence[RunRecord]) -> float | None:
    """CPU milliseconds the subject spent per answered request (None: not counted)."""
    counted = [r for r in records if {"subject_cpu_s", "span_requests"} <= set(r.series_names)]
    answered = sum(r.get("span_requests").values[0] for r in counted)
    if not counted or answered <= 0:
        return None
    return 1000.0 * sum(r.get("subject_cpu_s").values[0] for r in counted) / answered


def cpu_share(records: Sequence[RunRecord], series: str) -> float | None:
    """CPU seconds of `series` per second of the measured span: the share of one core used
    (None: not counted)."""
    counted = [r for r in records if {series, "cpu_span_s"} <= set(r.series_names)]
    span_s = sum(r.get("cpu_span_s").values[0] for r in counted)
    if not counted or span_s <= 0:
        return None
    return sum(r.get(series).values[0] for r in counted) / span_s


def saturations(records: Iterable[RunRecord]) -> list[Saturation]:
    """The knee and shape of every swept subject (the client's ceiling included); a cap of one
    request at a time says what the subject's profile, when the run took one, shows of it."""
    chosen = list(records)
    planned = planned_levels(chosen)
    found = [
        saturation_of(points, subject, upstream, planned[subject, upstream])
        for (subject, upstream), points in sorted(level_points(chosen).items())
    ]
    return [_with_profile(s, chosen) for s in found]


def _with_profile(saturation: Saturation, records: Sequence[RunRecord]) -> Saturation:
    if saturation.shape != "cap" or saturation.cap is None or saturation.cap >= ONE_AT_A_TIME:
        return saturation
    blocking = blocking_call(records, saturation.subject)
    return (
        replace(saturation, detail=f"{saturation.detail}; {blocking}") if blocking else saturation
    )
