"""Evaluate a claim's metric query over RunRecords: a value, its interval and the evidence.

Records are selected by runner, scenario and labels (numbers compare numerically, so a label
"2700" matches 2700.0); the statistic is computed on the pooled raw values, with a Wilson
interval for rates and a seeded bootstrap interval otherwise. A ratio metric compares the same
statistic between a baseline and a candidate selection: when both sides were measured in
interleaved rounds (records with `params.round`, as the sweep takes them at the level claims
judge), round by round, its interval the t interval of the rounds' ratios (`paired_ratio`), so
the machine's changes between moments are in it; else bootstrapped over the pooled values,
which holds only the noise within each side's window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from harness.claims.ledger import SCENARIO_JOIN, Chances, MetricQuery, Unless
from harness.records import RunRecord
from harness.saturation import client_bound_levels
from harness.stats import (
    Array,
    Interval,
    RowStatistic,
    paired_ratio,
    percentile_interval,
    resample_statistic,
    row_mean,
    row_percentile,
    wilson_interval,
)

RESAMPLES = 1000
EXACT = frozenset({"sum", "max"})  # statistics of what was counted, not estimated
TIMED_UNITS = frozenset({"ms", "s", "rps"})  # what a machine's state of the moment moves
# What a ratio claim's value is, and over what (a gain is the candidate's over the baseline).
TRANSFORM_WORDS = {
    "gain": "gain of the candidate over the baseline",
    "speedup": "speedup of the candidate over the baseline",
    "reduction": "reduction of the candidate from the baseline",
    "ratio": "ratio of the candidate to the baseline",
}
MEASURED_APART = (
    "the two sides measured one after the other: the interval holds no change of the machine's "
    "state between them"
)


class MissingRecords(Exception):
    """The records a metric needs are not in the results (the message says which). `ran`: the
    run that makes them did run, so what it needs is no other run."""

    def __init__(self, message: str, *, ran: bool = False) -> None:
        super().__init__(message)
        self.ran = ran


class NothingToCheck(Exception):
    """The records are there, but held no chance to show the claim wrong (the message says)."""


@dataclass(frozen=True)
class Measurement:
    """A metric's value with its interval, the run ids it came from and how it was computed."""

    value: float
    interval: Interval
    n: int
    evidence: tuple[str, ...]
    detail: str
    partial: bool = False
    # A ratio measured in interleaved rounds: its transformed value in each round, in order.
    rounds: tuple[float, ...] = ()


def label_value_matches(actual: str | None, wanted: str) -> bool:
    """Equal strings, or equal numbers ("2700" == "2700.0")."""
    if actual is None:
        return False
    if actual == wanted:
        return True
    try:
        return float(actual) == float(wanted)
    except ValueError:
        return False


ANY_SCENARIO = "*"


def select_records(
    records: Sequence[RunRecord], runner: str, scenario: str, labels: Mapping[str, str]
) -> list[RunRecord]:
    """Records of `runner`/`scenario` (`*`: any of the runner's; `a+b`: either) whose labels
    match every given label."""
    scenarios = scenario.split(SCENARIO_JOIN)
    return [
        r
        for r in records
        if r.runner == runner
        and (scenario == ANY_SCENARIO or r.scenario in scenarios)
        and all(label_value_matches(r.labels.get(k), v) for k, v in labels.items())
    ]


def measure(records: Sequence[RunRecord], query: MetricQuery) -> Measurement:
    """Evaluate `query`; MissingRecords when no matching records hold the series."""
    if query.is_ratio:
        return _measure_ratio(records, query)
    chosen = _select(records, query, {})
    checked = _check_chances(chosen, query.chances) + _set_apart(chosen, query)
    values = _rows(chosen, query)
    statistic = _row_statistic(query)
    value = float(statistic(values[np.newaxis])[0])
    if query.statistic == "rate":
        successes = float(values.sum())
        interval = wilson_interval(successes, values.shape[0])
        detail = f"{successes:g} of {values.shape[0]} observations"
    elif query.statistic in EXACT:
        # A total of counted events, or the worst case seen, is what happened, not an estimate:
        # one expired-token send refutes "none", however few windows were measured.
        interval = Interval(value, value)
        detail = f"{query.statistic} of {values.shape[0]} observations (exact)"
    else:
        estimates = resample_statistic(values, statistic, resamples=RESAMPLES)
        interval = percentile_interval(estimates)
        detail = f"{query.statistic} of {values.shape[0]} observations"
    return _measurement(value, interval, values.shape[0], chosen, detail + checked)


def _check_chances(chosen: Sequence[RunRecord], chances: Chances | None) -> str:
    """What the claim could have seen (", over 80 of 80 replies came back 200"); NothingToCheck
    when that is none. Records made before the series existed are not asked."""
    holding = [r for r in chosen if chances is not None and chances.series in r.series_names]
    if chances is None or not holding:
        return ""
    values = np.concatenate([np.asarray(r.get(chances.series).values) for r in holding])
    seen = float(_indicator(values, chances.where).sum() if chances.where else values.sum())
    said = chances.describe(seen, values.size)
    if seen == 0:
        raise NothingToCheck(said)
    return f", over {said}"


def _measure_ratio(records: Sequence[RunRecord], query: MetricQuery) -> Measurement:
    assert query.baseline is not None and query.candidate is not None
    base_sel, cand_sel = (
        _select(records, query, query.baseline),
        _select(records, query, query.candidate),
    )
    where = ""
    if query.at_max:
        base_sel, cand_sel, where = _restrict_to_common_max(
            base_sel, cand_sel, query.at_max, _client_bound_levels(records, query.at_max)
        )
    base, cand = _rows(base_sel, query), _rows(cand_sel, query)
    statistic = _row_statistic(query)
    base_point = float(statistic(base[np.newaxis])[0])
    cand_point = float(statistic(cand[np.newaxis])[0])
    figure = figure_of(base_sel[0], query)
    detail = (
        f"{TRANSFORM_WORDS[query.transform]} ({query.statistic}): candidate "
        f"{_side(query.candidate, cand_sel)} = {figure.says(cand_point)} vs baseline "
        f"{_side(query.baseline, base_sel)} = {figure.says(base_point)}{where}"
    )
    chosen, n = [*base_sel, *cand_sel], base.shape[0] + cand.shape[0]
    rounds = shared_rounds(base_sel, cand_sel)
    if len(rounds) >= 2:
        return _measure_rounds(rounds, query, detail, chosen, n)
    base_est = resample_statistic(base, statistic, resamples=RESAMPLES, seed=1)
    cand_est = resample_statistic(cand, statistic, resamples=RESAMPLES, seed=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = cand_point / base_point if base_point else math.nan
        interval = percentile_interval(cand_est / base_est)
    value, interval = _transform(ratio, interval, query.transform)
    if _timed(chosen, query):
        detail += f" ({MEASURED_APART})"
    return _measurement(value, interval, n, chosen, detail)


def shared_rounds(
    base: Sequence[RunRecord], cand: Sequence[RunRecord]
) -> list[tuple[list[RunRecord], list[RunRecord]]]:
    """Each side's records per interleaved round both sides measured (`params.round`), in round
    order; empty when a record of either side was not measured in rounds."""
    if any("round" not in r.params for r in (*base, *cand)):
        return []
    numbers = sorted({r.params["round"] for r in base} & {r.params["round"] for r in cand})
    return [
        ([r for r in base if r.params["round"] == k], [r for r in cand if r.params["round"] == k])
        for k in numbers
    ]


def _measure_rounds(
    rounds: Sequence[tuple[list[RunRecord], list[RunRecord]]],
    query: MetricQuery,
    detail: str,
    chosen: Sequence[RunRecord],
    n: int,
) -> Measurement:
    """A ratio paired round by round: each round's candidate against its baseline, measured
    moments apart; the interval is the rounds' (t, `paired_ratio`)."""
    statistic = _row_statistic(query)
    base, cand = (
        [float(statistic(_rows(side, query)[np.newaxis])[0]) for side in sides]
        for sides in zip(*rounds, strict=True)
    )
    ratio, interval = paired_ratio(base, cand)
    value, interval = _transform(ratio, interval, query.transform)
    with np.errstate(divide="ignore", invalid="ignore"):
        each = tuple(_transform_value(c / b if b else math.nan, query.transform)
                     for b, c in zip(base, cand, strict=True))  # fmt: skip
    detail += f", paired over {len(rounds)} interleaved rounds"
    return replace(_measurement(value, interval, n, chosen, detail), rounds=each)


@dataclass(frozen=True)
class Figure:
    """How a side's statistic is printed: times `scale`, in `unit`."""

    scale: float = 1.0
    unit: str = ""

    def says(self, value: float) -> str:
        """`141.3 ok requests/s`, `12.5%`, `3.2 ms`."""
        shown = f"{value * self.scale:.4g}"
        return shown + self.unit if self.unit in ("", "%") else f"{shown} {self.unit}"


def figure_of(record: RunRecord, query: MetricQuery) -> Figure:
    """A statistic in its unit: the series' own; a ratio of sums over one unit a fraction; over
    latency in ms at a sweep level of N callers, N x Σ/Σlatency per second (Little's law: `ok`
    over its latency is ok requests/s, what the sweep's tables show)."""
    unit = _unit_of(record, query.series)
    if query.statistic == "rate":
        return Figure(100.0, "%")
    if query.statistic != "ratio_of_sums":
        return Figure(1.0, unit)
    per = _unit_of(record, query.denominator)
    callers = _as_float(record.labels.get("concurrency")) if query.at_max == "concurrency" else None
    if per == "ms" and callers:
        noun = "ok requests" if query.series == ("ok",) else "+".join(query.series)
        return Figure(callers * 1000.0, f"{noun}/s")
    return Figure(100.0, "%") if unit == per else Figure(1.0, f"{unit}/{per}")


def _unit_of(record: RunRecord, names: Sequence[str]) -> str:
    return "+".join(dict.fromkeys(record.get(name).unit for name in names))


def _side(labels: Mapping[str, str] | None, records: Sequence[RunRecord]) -> str:
    """`role=candidate (sanic_gw)`: the labels that chose a side and the subject they chose."""
    chosen = _fmt(labels)
    names = dict.fromkeys(
        name for r in records
        if (name := r.labels.get("subject") or r.labels.get("target") or r.labels.get("variant"))
    )  # fmt: skip
    named = [n for n in names if n not in (labels or {}).values()]
    return f"{chosen} ({', '.join(named)})" if named else chosen


def _timed(records: Sequence[RunRecord], query: MetricQuery) -> bool:
    """Whether the metric is a time or a rate over time, which the machine's state moves."""
    names = (*query.series, *query.denominator)
    return any(r.get(name).unit in TIMED_UNITS for r in records for name in names)


def _transform(ratio: float, interval: Interval, transform: str) -> tuple[float, Interval]:
    """The transformed value and interval (every transform is monotonic: its ends, in order)."""
    ends = sorted((_transform_value(interval.low, transform),
                   _transform_value(interval.high, transform)))  # fmt: skip
    if any(math.isnan(end) for end in ends):
        ends = [math.nan, math.nan]
    return _transform_value(ratio, transform), Interval(ends[0], ends[1], interval.confidence)


def _transform_value(ratio: float, transform: str) -> float:
    """candidate / baseline as the claim reads it: 1 - it (reduction), it - 1 (gain),
    baseline / candidate - 1 (speedup), or as it is."""
    if transform == "reduction":
        return 1.0 - ratio
    if transform == "speedup":
        return _inverse(ratio) - 1.0
    if transform == "gain":
        return ratio - 1.0
    return ratio


def _inverse(value: float) -> float:
    """1 / value, infinite at 0 (a candidate that took no time is infinitely faster)."""
    return 1.0 / value if value else math.inf


def _measurement(
    value: float, interval: Interval, n: int, chosen: Sequence[RunRecord], detail: str
) -> Measurement:
    evidence = tuple(dict.fromkeys(r.run_id for r in chosen))
    return Measurement(value, interval, n, evidence, detail, any(r.partial for r in chosen))


def _select(
    records: Sequence[RunRecord], query: MetricQuery, extra: Mapping[str, str]
) -> list[RunRecord]:
    labels = {**query.labels, **extra}
    matching = select_records(records, query.runner, query.scenario, labels)
    chosen = [
        r
        for r in matching
        if all(name in r.series_names for name in (*query.series, *query.denominator))
    ]
    if not chosen:
        # The run was there but measured none of it: say what it could have seen, when nothing.
        _check_chances(matching, query.chances)
        wanted = ", ".join(f"{k}={v}" for k, v in labels.items()) or "any labels"
        names = "+".join(query.series)
        raise MissingRecords(
            f"no {query.runner}/{query.scenario} records with {wanted} holding series {names}"
        )
    return chosen


def _restrict_to_common_max(
    base: list[RunRecord], cand: list[RunRecord], label: str, held: Mapping[str, set[float]]
) -> tuple[list[RunRecord], list[RunRecord], str]:
    """Keep only records at the largest numeric value of `label` present on both sides where
    no subject of either side was held back by the sweep's own client (`held`: subject ->
    values), and of those, measured in rounds by both when any was; the third item says which
    value, and which were passed over."""
    common = sorted(_numeric_labels(base, label) & _numeric_labels(cand, label), reverse=True)
    if not common:
        raise MissingRecords(f"baseline and candidate share no numeric value of label {label!r}")
    subjects = {r.labels.get("subject", "") for r in (*base, *cand)}
    limited = {v for s in subjects for v in held.get(s, set())}
    usable = [v for v in common if v not in limited]
    passed = ", ".join(f"{v:g}" for v in common if not usable or v > usable[0])
    if not usable:
        raise MissingRecords(
            f"the sweep's own client was the limit at every {label} both ran ({passed}), so "
            "neither side's own figure was measured"
        )
    at = {v: (_at(base, label, v), _at(cand, label, v)) for v in usable}
    rounded = [v for v in usable if len(shared_rounds(*at[v])) >= 2]
    top = rounded[0] if rounded else usable[0]
    where = f" at {label} {top:g}" + (
        f" ({passed}: the sweep's client was the limit)" if passed else ""
    )
    if top != usable[0]:
        where += f" (the highest level measured in rounds; {usable[0]:g}: one window a side)"
    return *at[top], where


def _at(records: Sequence[RunRecord], label: str, value: float) -> list[RunRecord]:
    return [r for r in records if _as_float(r.labels.get(label)) == value]


def _client_bound_levels(records: Sequence[RunRecord], label: str) -> dict[str, set[float]]:
    """Sweep levels where the sweep's own client was a subject's limit (subject -> levels)."""
    if label != "concurrency":
        return {}
    held: dict[str, set[float]] = {}
    for (subject, _), levels in client_bound_levels(records).items():
        held.setdefault(subject, set()).update(float(v) for v in levels)
    return held


def _numeric_labels(records: Sequence[RunRecord], label: str) -> set[float]:
    return {v for r in records if (v := _as_float(r.labels.get(label))) is not None}


def _as_float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _set_apart(chosen: Sequence[RunRecord], query: MetricQuery) -> str:
    """What `query.unless` left out, each kind apart ("; 22 requests met a fault the mock
    injected, 11 requests the open loop never sent, set apart"), "" when nothing; an
    observation two kinds flag is said under the first."""
    counts = [0] * len(query.unless)
    for record in chosen:
        flags = _flags(record, query.unless, len(record.get(query.series[0]).values))
        taken = np.zeros(flags.shape[1], dtype=bool)
        for index, row in enumerate(flags):
            counts[index] += int((row & ~taken).sum())
            taken |= row
    said = [f"{n} {_what(unless)}" for unless, n in zip(query.unless, counts, strict=True) if n]
    return f"; {', '.join(said)}, set apart" if said else ""


def _kinds_apart(records: Sequence[RunRecord], query: MetricQuery) -> str:
    """The kinds `query.unless` set some observation of `records` apart by, in its order."""
    flagged = np.zeros(len(query.unless), dtype=bool)
    for record in records:
        size = len(record.get(query.series[0]).values)
        flagged |= _flags(record, query.unless, size).any(axis=1)
    return "; ".join(_what(u) for u, hit in zip(query.unless, flagged, strict=True) if hit)


def _what(unless: Unless) -> str:
    return unless.what or f"observations with {unless.series}"


def _flags(record: RunRecord, unless: Sequence[Unless], size: int) -> npt.NDArray[np.bool_]:
    """Per kind set apart, True per observation (of `size`) of `record` it flags: none when the
    record has no such series, or one of another length."""
    rows = np.zeros((len(unless), size), dtype=bool)
    for index, kind in enumerate(unless):
        if kind.series in record.series_names:
            values = np.asarray(record.get(kind.series).values, dtype=np.float64)
            rows[index] = values != 0 if values.size == size else False
    return rows


def _kept(record: RunRecord, names: Sequence[str], query: MetricQuery) -> Array:
    """`_summed(record, names)` less the observations `query.unless` sets apart."""
    values = _summed(record, names)
    return values[~_flags(record, query.unless, values.size).any(axis=0)]


def _rows(records: Sequence[RunRecord], query: MetricQuery) -> Array:
    """Pooled observations (those `query.unless` sets apart left out): 1-D, or 2-D (numerator,
    denominator) for ratio_of_sums."""
    numerator = np.concatenate([_kept(r, query.series, query) for r in records])
    if query.statistic == "ratio_of_sums":
        denominator = np.concatenate([_kept(r, query.denominator, query) for r in records])
        if denominator.shape != numerator.shape:
            raise MissingRecords("numerator and denominator series differ in length")
        return np.column_stack([numerator, denominator])
    if numerator.size == 0 and query.unless:
        raise NothingToCheck(f"every observation set apart ({_kinds_apart(records, query)})")
    if numerator.size == 0:
        raise MissingRecords(f"the series {'+'.join(query.series)} hold no values", ran=True)
    if query.statistic == "rate":
        return _indicator(numerator, query.where)
    return numerator


def _summed(record: RunRecord, names: Sequence[str]) -> Array:
    """Element-wise sum of several series of one record (e.g. file_reads + file_writes)."""
    arrays = [np.asarray(record.get(n).values, dtype=np.float64) for n in names]
    if len({a.size for a in arrays}) > 1:
        raise MissingRecords(f"series {names} of record {record.run_id} differ in length")
    return np.asarray(np.sum(arrays, axis=0), dtype=np.float64)


def _indicator(values: Array, where: tuple[str, float] | None) -> Array:
    """1.0 where the observation counts as a success (nonzero, or satisfies `where`)."""
    if where is None:
        return np.asarray(values != 0, dtype=np.float64)
    op, x = where
    tests = {
        "==": values == x,
        "!=": values != x,
        "<=": values <= x,
        ">=": values >= x,
        "<": values < x,
        ">": values > x,
    }
    return np.asarray(tests[op], dtype=np.float64)


def _row_statistic(query: MetricQuery) -> RowStatistic:
    if query.statistic in ("rate", "mean"):
        return row_mean
    if query.statistic == "median":
        return row_percentile(50)
    if query.statistic == "percentile":
        return row_percentile(query.quantile)
    if query.statistic == "sum":
        return lambda rows: np.asarray(rows.sum(axis=1), dtype=np.float64)
    if query.statistic == "max":
        return lambda rows: np.asarray(rows.max(axis=1), dtype=np.float64)
    return _ratio_of_sums


def _ratio_of_sums(rows: Array) -> Array:
    totals = rows.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(totals[..., 0] / totals[..., 1], dtype=np.float64)


def _fmt(labels: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (labels or {}).items())
