"""One metric, candidate against baseline: what is compared, the ratio with its interval, and a
verdict that needs both significance and a meaningful size.

What is compared follows from what a series measures:
- context, not a metric (`status`, `t_s`, the harness's own figures, the load it was given):
  not compared;
- a 0/1 series (`ok`, `token_cache_hit`, ...): the two rates, their difference in points with
  Newcombe's interval;
- the latency of each request (`latency_ms`, `ttft_ms`): over successful requests only (an
  error answered in 2 ms is not a fast reply); refused when a side has none;
- `throughput_rps`: of successful requests (throughput x the ok rate);
- a count over a window (a fidelity kind, file opens, upstream calls): per request of that
  window, so runs of different lengths compare; a count of requests, each counted once at most
  (a fidelity kind, no reply, error responses), as the rate of the window's requests it is,
  like `ok` (17 of 17 against 0 of 18 is decided, not "too few values");
- anything else: the ratio of medians with a bootstrap interval, Mann-Whitney p, Cliff's delta;
  but a series that subtracts one clock from another (`added_latency_ms`: the mock's from the
  client's) whose median on either side is within two resolutions of zero, or below it, is
  compared by the difference of the medians, each value floored at 0 (a ratio to a figure the
  clocks cannot resolve means nothing: "-0.013, better", R91).
`better` / `worse` needs the 95% interval to exclude "no change" AND an effect beyond the
minimum the gate's rules set for that series (`harness.gate.Rule`: 10% unless a rule says
otherwise, latency also 1 ms; a rate 1 point): two runs differ by a little on any machine,
and that is a `small change`, not a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from harness.overhead import ADDED_RESOLUTION_MS
from harness.records import RunRecord
from harness.saturation import ok_flags
from harness.stats import (
    Array,
    Interval,
    RowStatistic,
    cliffs_delta,
    compare_samples,
    effect_label,
    mann_whitney_p,
    median_difference_interval,
    percentile_interval,
    rate_difference_interval,
    resample_statistic,
    row_percentile,
)

if TYPE_CHECKING:  # the gate imports this module: its rules are for annotations only
    from harness.gate import Rule

RESAMPLES = 500
MIN_VALUES = 3  # fewer values a side give a ratio but no interval
DEFAULT_MIN_RELATIVE = 0.10  # as a gate rule that sets nothing (scenarios/gate/default.toml)
MIN_RATE_POINTS = 0.01  # a rate must move by a point or more to be a change worth a verdict
POINT = "point"  # the unit of a rate's minimum effect (one hundredth)
# Which way is better, per series; a series not named here gets "higher" / "lower" verdicts.
HIGHER_IS_BETTER = frozenset({
    "throughput_rps", "ok", "matched", "hits", "fidelity_checked", "token_cache_hit", "streamed",
    "reply_cache_hit",
})  # fmt: skip
LOWER_IS_BETTER = frozenset({
    "latency_ms", "ttft_ms", "itl_ms", "time_s", "errors", "error_rate", "file_opens",
    "file_reads", "file_writes", "lookups", "fallback", "path_rank", "misses", "refreshes",
    "expired_sends", "added_latency_ms", "upstream_calls", "stream_lag_ms", "error_responses",
    "token_requests", "expired_token_sends", "unknown_token_sends", "missing_token_sends",
    "no_reply", "crossed_uncalled",
})  # fmt: skip
LOWER_SUFFIXES = ("_file_opens", "_file_reads", "_file_writes")
# What a record says about the run rather than the target: when or how things happened, the
# load and upstream latency the harness set, its own client's costs, and figures another row
# already compares (`errors`, `error_rate`: the ok rate).
CONTEXT = frozenset({
    "status", "t_s", "send_lag_ms", "window_s", "cpu_span_s", "span_requests", "client_cpu_s",
    "littles_bound_rps", "errors", "error_rate", "fidelity_checked", "upstream_latency_ms",
    "probe_status", "served_models", "client_requests", "fault_status", "unsent", "held",
})  # fmt: skip
RATES = frozenset({"ok", "token_cache_hit", "matched", "fallback", "streamed", "reply_cache_hit"})
# Window counts of client requests, each request counted once at most: rates of the requests.
REQUEST_COUNTS = frozenset({"no_reply", "error_responses"})
REQUEST_COUNT_PREFIX = "fidelity_"
# A verdict's finding counts: compared as findings new or cleared (`harness.gate_findings`).
FINDING_PREFIX = "finding:"
OK_ONLY = frozenset({"latency_ms", "ttft_ms"})  # one per request, beside `ok`
# A difference of two clocks, by series: its resolution, the least figure it can tell from zero.
RESOLUTIONS = {"added_latency_ms": ADDED_RESOLUTION_MS}
# Within this many resolutions of zero a median's relative error swamps a ratio (1.2 ms against
# 8.3 ms gave a ratio interval of [-0.02, 0.26]): such figures are compared by their difference.
NEAR_ZERO_RESOLUTIONS = 2.0
REQUESTS = "client_requests"  # a card window's request count

BETTER, WORSE, HIGHER, LOWER = "better", "worse", "higher", "lower"
NO_CLEAR_CHANGE, SMALL_CHANGE = "no clear change", "small change"
TOO_FEW, NO_INTERVAL, NOT_COMPARED = "too few values", "no interval", "not compared"
_NONE = Interval(math.nan, math.nan)  # no interval
DIFFERENCE = "difference of medians"


@dataclass(frozen=True)
class MinimumEffect:
    """How far the candidate must move from the baseline for a verdict: beyond every threshold
    set (relative: a fraction of the baseline; absolute: in the series' unit)."""

    relative: float | None = DEFAULT_MIN_RELATIVE
    absolute: float | None = None
    unit: str = ""  # of `absolute`

    def exceeded_by(self, baseline: float, candidate: float) -> bool:
        shift = abs(candidate - baseline)
        relative_ok = self.relative is None or shift > self.relative * abs(baseline)
        absolute_ok = self.absolute is None or shift > self.absolute
        return relative_ok and absolute_ok

    def describe(self) -> str:
        """`10%`, `10% and 1 ms`, `1 point`: the thresholds set."""
        parts = [f"{self.relative:.0%}"] if self.relative is not None else []
        if self.absolute is not None and self.unit == POINT:  # a rate's, kept as a fraction
            parts.append(f"{100 * self.absolute:g} {POINT}{'s' * (self.absolute != 0.01)}")
        elif self.absolute is not None:
            parts.append(f"{self.absolute:g} {self.unit}".rstrip())
        return " and ".join(parts) or "none"


def minimum_effect(record: RunRecord, series: str, rules: Sequence[Rule] = ()) -> MinimumEffect:
    """The thresholds of the first gate rule for this series, else the gate's defaults (a
    rate: a point)."""
    rule = next((r for r in rules if r.applies_to(record, series)), None)
    if series in RATES or counts_requests(series):  # in points: relative means nothing there
        points = rule.max_absolute if rule and rule.max_absolute is not None else MIN_RATE_POINTS
        return MinimumEffect(None, points, POINT)
    unit = record.get(series).unit if series in record.series_names else ""
    if rule is not None:
        return MinimumEffect(rule.max_relative, rule.max_absolute, unit)
    return MinimumEffect(unit=unit)


@dataclass(frozen=True)
class Change:
    """Candidate against baseline on one metric: the figures compared (`basis` says which),
    the ratio and its interval, the verdict, and `note`: why that verdict, in words."""

    baseline: float
    candidate: float
    ratio: float
    interval: Interval
    verdict: str
    n_baseline: int
    n_candidate: int
    p_value: float = math.nan  # Mann-Whitney, for per-observation series
    effect: str = ""  # Cliff's delta, in words
    basis: str = "median"
    note: str = ""

    def describe(self, digits: int = 1) -> str:
        """`1.52 [1.47, 1.58] better (120.0 → 182.4)`; a refusal says why."""
        figures = ""
        if math.isfinite(self.baseline) and math.isfinite(self.candidate):
            figures = f" ({self.baseline:.{digits}f} → {self.candidate:.{digits}f})"
        if self.verdict == NOT_COMPARED:
            return f"not compared: {self.note}{figures}"
        ratio = f"{self.ratio:.2f} " if math.isfinite(self.ratio) else ""
        spread = (
            f"[{self.interval.low:.2f}, {self.interval.high:.2f}] "
            if math.isfinite(self.interval.low) and math.isfinite(self.interval.high)
            else ""
        )
        note = f"; {self.note}" if self.note else ""
        return f"{ratio}{spread}{self.verdict}{figures}{note}"


def better_direction(series: str) -> str:
    """`higher`, `lower`, or "" when the series says nothing of which is better."""
    if series in HIGHER_IS_BETTER:
        return HIGHER
    if series in LOWER_IS_BETTER or series.endswith(LOWER_SUFFIXES):
        return LOWER
    return LOWER if series.startswith(("fidelity_", "finding:")) else ""


def verdict_of(interval: Interval, better: str) -> str:
    """`better` / `worse` when the interval excludes 1 (`higher` / `lower` for a series of no
    known direction), `no clear change` when it holds 1."""
    if not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return NO_INTERVAL
    if interval.low <= 1.0 <= interval.high:
        return NO_CLEAR_CHANGE
    return _direction_verdict(HIGHER if interval.low > 1.0 else LOWER, better)


def _direction_verdict(moved: str, better: str) -> str:
    if not better:
        return moved
    return BETTER if moved == better else WORSE


def sized(change: Change, minimum: MinimumEffect) -> Change:
    """A significant change within the minimum effect becomes a `small change`."""
    if change.verdict not in (BETTER, WORSE, HIGHER, LOWER):
        return change
    if minimum.exceeded_by(change.baseline, change.candidate):
        return change
    under = f"under the minimum effect ({minimum.describe()})"
    note = f"{change.note}; {under}" if change.note else f"{_shift_text(change)}: {under}"
    return replace(change, verdict=SMALL_CHANGE, note=note)


def _shift_text(change: Change) -> str:
    if change.baseline:
        return f"{change.candidate / change.baseline - 1:+.1%}"
    return f"{change.candidate - change.baseline:+.3g}"


def series_kind(series: str) -> str:
    """How a series is compared: `context`, `rate`, `ok-only`, `throughput` or `value`."""
    if series in CONTEXT or series.startswith(FINDING_PREFIX):
        return "context"
    if series in RATES:
        return "rate"
    if series in OK_ONLY:
        return "ok-only"
    return "throughput" if series == "throughput_rps" else "value"


def compare_metric(
    baseline: Sequence[RunRecord],
    candidate: Sequence[RunRecord],
    series: str,
    rules: Sequence[Rule] = (),
) -> Change | None:
    """`series` of the candidate's records against the baseline's, compared as its kind says
    (None: context, or a side has no value)."""
    kind = series_kind(series)
    if kind == "context":
        return None
    minimum = minimum_effect(baseline[0], series, rules)
    better = better_direction(series)
    if kind == "rate":
        return compare_rates(pooled(baseline, series), pooled(candidate, series), better, minimum)
    if kind == "ok-only":
        return compare_ok_values(baseline, candidate, series, better, minimum)
    if kind == "throughput":
        return compare_ok_throughput(baseline, candidate, minimum)
    counted = _per_request(baseline, series) and _per_request(candidate, series)
    if counted and counts_requests(series):
        before_rate, after_rate = request_rate(baseline, series), request_rate(candidate, series)
        if before_rate and after_rate:
            rated = compare_rates(before_rate, after_rate, better, minimum)
            return rated and replace(rated, basis="per request")
    take = per_request if counted else pooled
    before, after = take(baseline, series), take(candidate, series)
    if not before or not after:
        return None
    resolution = RESOLUTIONS.get(series)
    least_ms = min(np.median(before), np.median(after))
    if resolution is not None and least_ms < NEAR_ZERO_RESOLUTIONS * resolution:
        return compare_difference(before, after, better, minimum, resolution)
    return compare_values(before, after, better, minimum, "per request" if counted else "median")


def compare_values(
    before: Sequence[float],
    after: Sequence[float],
    better: str,
    minimum: MinimumEffect,
    basis: str = "median",
) -> Change:
    """Ratio of medians with its bootstrap interval; fewer than MIN_VALUES a side: no interval."""
    if min(len(before), len(after)) < MIN_VALUES:
        b, c = float(np.median(before)), float(np.median(after))
        return Change(b, c, _ratio(b, c), _NONE, TOO_FEW, len(before), len(after), basis=basis)
    compared = compare_samples(before, after, resamples=RESAMPLES)
    change = Change(
        compared.baseline_median, compared.candidate_median, compared.ratio, compared.ratio_ci,
        verdict_of(compared.ratio_ci, better), compared.n_baseline, compared.n_candidate,
        compared.p_value, effect_label(compared.cliffs_delta), basis,
    )  # fmt: skip
    return sized(change, minimum)


def compare_difference(
    before: Sequence[float],
    after: Sequence[float],
    better: str,
    minimum: MinimumEffect,
    resolution: float,
) -> Change:
    """Medians near zero compared by their difference (candidate - baseline) and its bootstrap
    interval, each value floored at 0; the minimum effect is absolute (the rule's, else the
    series' `resolution`)."""
    floor_b = np.maximum(np.asarray(before, dtype=np.float64), 0.0)
    floor_c = np.maximum(np.asarray(after, dtype=np.float64), 0.0)
    b, c = float(np.median(floor_b)), float(np.median(floor_c))
    least = minimum.absolute if minimum.absolute is not None else resolution
    absolute = MinimumEffect(None, least, minimum.unit)
    if min(len(before), len(after)) < MIN_VALUES:
        return Change(b, c, math.nan, _NONE, TOO_FEW, len(before), len(after), basis=DIFFERENCE)
    spread = median_difference_interval(floor_b.tolist(), floor_c.tolist(), resamples=RESAMPLES)
    moved = HIGHER if spread.low > 0 else LOWER
    verdict = NO_CLEAR_CHANGE if spread.low <= 0.0 <= spread.high else _direction_verdict(
        moved, better)  # fmt: skip
    unit = f" {minimum.unit}" if minimum.unit else ""
    note = (f"{_near_zero(b, resolution, unit)} → {_near_zero(c, resolution, unit)}: "
            f"{c - b:+.2f}{unit} [{spread.low:+.2f}, {spread.high:+.2f}]")  # fmt: skip
    change = Change(
        b, c, math.nan, _NONE, verdict, len(before), len(after),
        mann_whitney_p(floor_b, floor_c), effect_label(cliffs_delta(floor_b, floor_c)),
        DIFFERENCE, note,
    )  # fmt: skip
    return sized(change, absolute)


def _near_zero(median: float, resolution: float, unit: str) -> str:
    return f"under {resolution:g}{unit}" if median < resolution else f"{median:.2f}{unit}"


def _ratio(baseline: float, candidate: float) -> float:
    return candidate / baseline if baseline else math.nan


def compare_rates(
    before: Sequence[float], after: Sequence[float], better: str, minimum: MinimumEffect
) -> Change | None:
    """Two rates of 0/1 observations: the verdict from Newcombe's interval of their difference
    (it must exclude 0) and the minimum effect in points."""
    if not before or not after:
        return None
    k1, n1, k2, n2 = float(sum(before)), len(before), float(sum(after)), len(after)
    b, c = k1 / n1, k2 / n2
    spread = rate_difference_interval((k1, n1), (k2, n2))
    if spread.low <= 0.0 <= spread.high:
        verdict = NO_CLEAR_CHANGE
    else:
        verdict = _direction_verdict(HIGHER if spread.low > 0 else LOWER, better)
    note = (
        f"{b:.1%} → {c:.1%}: {100 * (c - b):+.1f} points "
        f"[{100 * spread.low:+.1f}, {100 * spread.high:+.1f}]"
    )
    change = Change(b, c, _ratio(b, c), _NONE, verdict, n1, n2, basis="rate", note=note)
    return sized(change, minimum)


def compare_ok_values(
    baseline: Sequence[RunRecord],
    candidate: Sequence[RunRecord],
    series: str,
    better: str,
    minimum: MinimumEffect,
) -> Change | None:
    """A per-request series over the successful requests alone; refused when a side has none."""
    before, after = ok_values(baseline, series), ok_values(candidate, series)
    if before is None or after is None:
        return None
    refusal = _no_ok_reply(len(before), len(after))
    if refusal:
        return Change(math.nan, math.nan, math.nan, _NONE, NOT_COMPARED, len(before),
                      len(after), basis="median of ok replies", note=refusal)  # fmt: skip
    return compare_values(before, after, better, minimum, "median of ok replies")


def _no_ok_reply(n_baseline: int, n_candidate: int) -> str:
    """Why latency cannot be compared, or "" when both sides have ok replies."""
    if not n_baseline and not n_candidate:
        return "neither side had an ok reply"
    if not n_baseline:
        return "the baseline's ok rate is 0%"
    return "" if n_candidate else "the candidate's ok rate is 0%"


def ok_values(records: Sequence[RunRecord], series: str) -> list[float] | None:
    """`series` of the successful requests of `records` (None: no record holds it). A series
    not one-per-request beside `ok` is taken whole."""
    held = [r for r in records if series in r.series_names]
    if not held:
        return None
    values: list[float] = []
    for record in held:
        raw = np.asarray(record.get(series).values, dtype=np.float64)
        ok = ok_flags(record) if "ok" in record.series_names else np.ones(raw.size)
        values.extend((raw[ok > 0] if ok.size == raw.size else raw).tolist())
    return values


def compare_ok_throughput(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], minimum: MinimumEffect
) -> Change | None:
    """Throughput of successful requests (each record's throughput x its ok rate)."""
    before, after = ok_throughput(baseline), ok_throughput(candidate)
    if not before or not after:
        return None
    change = compare_values(before, after, HIGHER, minimum, "ok replies/s")
    if change.baseline == 0 and change.candidate == 0:
        return replace(change, verdict=NOT_COMPARED, note="neither side had an ok reply")
    if change.baseline == 0:
        return replace(change, note="the baseline had no ok reply (ok rate 0%)")
    return change


def ok_throughput(records: Sequence[RunRecord]) -> list[float]:
    """Each record's throughput of successful requests."""
    values: list[float] = []
    for record in records:
        if "throughput_rps" in record.series_names:
            share = _ok_rate(record)
            values.extend(v * share for v in record.get("throughput_rps").values)
    return values


def _ok_rate(record: RunRecord) -> float:
    """The share of a record's requests that succeeded (1.0: it does not say)."""
    if "ok" not in record.series_names:
        return 1.0
    ok = ok_flags(record)
    return float(ok.mean()) if ok.size else 0.0


def _per_request(records: Sequence[RunRecord], series: str) -> bool:
    """A count over the whole window (one value) of records that say how many requests it
    had: compared per request."""
    return all(
        series in r.series_names
        and len(r.get(series).values) == 1
        and r.get(series).unit == "count"
        and requests_of(r) is not None
        for r in records
    )


def requests_of(record: RunRecord) -> int | None:
    """How many client requests a record's window had: a card's `client_requests`, one `ok`
    per request, or the requests a rewrites verdict read (None: the record does not say)."""
    if REQUESTS in record.series_names:
        return int(record.get(REQUESTS).values[0])
    if "ok" in record.series_names:
        return len(record.get("ok").values)
    rewrites = record.params.get("rewrites")
    requests = rewrites.get("requests") if isinstance(rewrites, dict) else None
    return int(requests) if isinstance(requests, int | float) else None


def counts_requests(series: str) -> bool:
    """Whether a window count counts client requests, each once at most (a rate of them)."""
    return series in REQUEST_COUNTS or series.startswith(REQUEST_COUNT_PREFIX)


def request_rate(records: Sequence[RunRecord], series: str) -> list[float]:
    """A window count of requests as 0/1 per request of the windows (k ones of n); [] when a
    window counts more than it had requests (then it is no rate) or had none."""
    flags: list[float] = []
    for record in records:
        requests, count = requests_of(record) or 0, int(record.get(series).values[0])
        if count > requests:
            return []
        flags += [1.0] * count + [0.0] * (requests - count)
    return flags


def per_request(records: Sequence[RunRecord], series: str) -> list[float]:
    """Each record's count divided by its requests (a window without requests adds nothing)."""
    values: list[float] = []
    for record in records:
        requests = requests_of(record)
        if requests:
            values.append(record.get(series).values[0] / requests)
    return values


def pooled(records: Sequence[RunRecord], series: str) -> list[float]:
    values: list[float] = []
    for record in records:
        if series in record.series_names:
            values.extend(record.get(series).values)
    return values


# -- closed-loop figures of one concurrency level (the sweep) ------------------------------


def compare_closed_loop_throughput(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], minimum: MinimumEffect
) -> Change:
    """Successful requests per second, by Little's law for a closed loop of N callers (the
    records' `concurrency`): N x (ok requests) / (summed latency), bootstrapped over requests."""

    def statistic(rows: Array) -> Array:
        totals = rows.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(1000.0 * totals[..., 0] / totals[..., 1], dtype=np.float64)

    base, cand = _ok_latency_rows(baseline), _ok_latency_rows(candidate)
    change = _bootstrap_change(base, cand, statistic, HIGHER, "ok replies/s")
    if change.baseline == 0 and change.candidate == 0:
        return replace(change, verdict=NOT_COMPARED, note="neither side had an ok reply")
    if change.baseline == 0:  # every resample is 0 too: the ratio is infinite, not unknown
        return replace(change, verdict=BETTER, note="only the candidate had ok replies")
    if change.candidate == 0:
        return replace(change, verdict=WORSE, note="the candidate had no ok reply")
    return sized(change, minimum)


def compare_ok_percentile(
    baseline: Sequence[RunRecord],
    candidate: Sequence[RunRecord],
    series: str,
    q: float,
    minimum: MinimumEffect,
) -> Change:
    """The q-th percentile of `series` over the successful requests; refused when a side has
    none, no interval under MIN_VALUES."""
    before = np.asarray(ok_values(baseline, series) or [], dtype=np.float64)
    after = np.asarray(ok_values(candidate, series) or [], dtype=np.float64)
    basis = f"p{q:g} of ok replies"
    refusal = _no_ok_reply(before.size, after.size)
    if refusal:
        return Change(math.nan, math.nan, math.nan, _NONE, NOT_COMPARED, before.size,
                      after.size, basis=basis, note=refusal)  # fmt: skip
    if min(before.size, after.size) < MIN_VALUES:
        b, c = float(np.percentile(before, q)), float(np.percentile(after, q))
        note = f"{min(before.size, after.size)} ok replies on a side"
        return Change(b, c, _ratio(b, c), _NONE, TOO_FEW, before.size, after.size,
                      basis=basis, note=note)  # fmt: skip
    change = _bootstrap_change(before, after, row_percentile(q), better_direction(series), basis)
    return sized(change, minimum)


def _ok_latency_rows(records: Sequence[RunRecord]) -> Array:
    """(N x ok, latency) per request: N, the record's callers, weighs its ok requests."""
    callers = [float(r.labels.get("concurrency", "1")) for r in records]
    ok = np.concatenate([n * ok_flags(r) for n, r in zip(callers, records, strict=True)])
    latency = np.concatenate([np.asarray(r.get("latency_ms").values) for r in records])
    return np.column_stack([ok, latency])


def _bootstrap_change(
    base: Array, cand: Array, statistic: RowStatistic, better: str, basis: str
) -> Change:
    b = float(statistic(base[np.newaxis])[0])
    c = float(statistic(cand[np.newaxis])[0])
    base_estimates = resample_statistic(base, statistic, resamples=RESAMPLES, seed=1)
    cand_estimates = resample_statistic(cand, statistic, resamples=RESAMPLES, seed=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        interval = percentile_interval(cand_estimates / base_estimates)
    return Change(b, c, _ratio(b, c), interval, verdict_of(interval, better), len(base),
                  len(cand), basis=basis)  # fmt: skip
