"""Line up the records of two runs, or of the two targets of one run, and compare each metric.

Records pair by runner, scenario and labels. Those left without an identical partner pair once
the labels that name what was measured are set aside: when, within a runner and scenario, each
side's leftovers share one value of a label (each side measured one target) and the two values
differ, that label is named and ignored, so `load/steady[target=flask-app]` lines up with
`load/steady[target=quart-app]`. Scalar parameters that differ between partners are named too.
Each metric gets the candidate / baseline ratio, its 95% bootstrap interval and a verdict.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.records import RunRecord
from harness.saturation import Saturation, ok_flags, saturations
from harness.stats import (
    Array,
    Interval,
    RowStatistic,
    compare_samples,
    effect_label,
    percentile_interval,
    resample_statistic,
    row_percentile,
)

RESAMPLES = 500
MIN_VALUES = 3  # fewer values a side give a ratio but no interval
# Which way is better, per series; a series not named here gets "higher" / "lower" verdicts.
HIGHER_IS_BETTER = frozenset({"throughput_rps", "ok", "matched", "hits", "fidelity_checked"})
LOWER_IS_BETTER = frozenset({
    "latency_ms", "ttft_ms", "itl_ms", "time_s", "send_lag_ms", "errors", "error_rate",
    "file_opens", "file_reads", "file_writes", "lookups", "fallback", "path_rank", "misses",
    "refreshes", "expired_sends",
})  # fmt: skip
# Parameters that name where or how a target was reached, not what load it was given.
IGNORED_PARAMS = frozenset({"target_url", "locust_command", "target_metrics", "fidelity"})

LabelKey = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Pair:
    """Records of one metric source on each side; `differs` names the labels set aside to
    pair them ("target: a → b") and `params_differ` the parameters that differ."""

    runner: str
    scenario: str
    labels: Mapping[str, str]
    differs: tuple[str, ...]
    params_differ: tuple[str, ...]
    baseline: tuple[RunRecord, ...]
    candidate: tuple[RunRecord, ...]

    @property
    def key(self) -> str:
        """`runner/scenario[shared labels]`, as the gate keys metrics (without the series)."""
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.runner}/{self.scenario}[{labels}]"


def label_key(record: RunRecord, ignored: Iterable[str] = ()) -> LabelKey:
    skip = set(ignored)
    labels = tuple(sorted((k, v) for k, v in record.labels.items() if k not in skip))
    return record.runner, record.scenario, labels


def pair_records(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[Pair]:
    """Every pairing of the two sides: identical labels first, then one target against one."""
    base, cand = _grouped(baseline), _grouped(candidate)
    pairs = [_pair(base[key], cand[key], ()) for key in sorted(base.keys() & cand.keys())]
    leftovers_base = [r for key in base.keys() - cand.keys() for r in base[key]]
    leftovers_cand = [r for key in cand.keys() - base.keys() for r in cand[key]]
    return pairs + _pair_targets(leftovers_base, leftovers_cand)


def _grouped(
    records: Iterable[RunRecord], ignored: Iterable[str] = ()
) -> dict[LabelKey, list[RunRecord]]:
    groups: dict[LabelKey, list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[label_key(record, ignored)].append(record)
    return groups


def _pair_targets(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[Pair]:
    """Within each runner and scenario, pair by the labels each side holds one value of."""
    sources: dict[tuple[str, str], tuple[list[RunRecord], list[RunRecord]]] = defaultdict(
        lambda: ([], [])
    )
    for side, records in enumerate((baseline, candidate)):
        for record in records:
            sources[record.runner, record.scenario][side].append(record)
    pairs: list[Pair] = []
    for base, cand in sources.values():
        identity = identity_labels(base, cand)
        if not identity:
            continue
        base_groups, cand_groups = _grouped(base, identity), _grouped(cand, identity)
        named = tuple(f"{k}: {base[0].labels[k]} → {cand[0].labels[k]}" for k in identity)
        for key in sorted(base_groups.keys() & cand_groups.keys()):
            pairs.append(_pair(base_groups[key], cand_groups[key], named, identity))
    return pairs


def identity_labels(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[str]:
    """Labels with one value on each side, different between the sides (sorted)."""
    if not baseline or not candidate:
        return []
    names = set(baseline[0].labels) & set(candidate[0].labels)
    found = []
    for name in sorted(names):
        base_values = {r.labels.get(name) for r in baseline}
        cand_values = {r.labels.get(name) for r in candidate}
        if len(base_values) == len(cand_values) == 1 and base_values != cand_values:
            found.append(name)
    return found


def _pair(
    baseline: Sequence[RunRecord],
    candidate: Sequence[RunRecord],
    differs: tuple[str, ...],
    ignored: Iterable[str] = (),
) -> Pair:
    runner, scenario, labels = label_key(baseline[0], ignored)
    return Pair(
        runner, scenario, dict(labels), differs,
        params_differ(baseline[0].params, candidate[0].params),
        tuple(baseline), tuple(candidate),
    )  # fmt: skip


def params_differ(
    baseline: Mapping[str, object], candidate: Mapping[str, object]
) -> tuple[str, ...]:
    """`name: a → b` for every scalar parameter that differs (where the target was is not one)."""
    scalar = (str, int, float, bool, type(None))
    changed = []
    for name in sorted((baseline.keys() & candidate.keys()) - IGNORED_PARAMS):
        a, b = baseline[name], candidate[name]
        if isinstance(a, scalar) and isinstance(b, scalar) and a != b:
            changed.append(f"{name}: {a} → {b}")
    return tuple(changed)


@dataclass(frozen=True)
class Change:
    """Candidate against baseline on one metric: the ratio, its interval and the verdict."""

    baseline: float
    candidate: float
    ratio: float
    interval: Interval
    verdict: str
    n_baseline: int
    n_candidate: int
    p_value: float = math.nan  # Mann-Whitney, for per-observation series
    effect: str = ""  # Cliff's delta, in words

    def describe(self, digits: int = 1) -> str:
        """`1.52 [1.47, 1.58] better (120.0 → 182.4)`."""
        spread = (
            f" [{self.interval.low:.2f}, {self.interval.high:.2f}]"
            if math.isfinite(self.interval.low)
            else ""
        )
        return (
            f"{self.ratio:.2f}{spread} {self.verdict} "
            f"({self.baseline:.{digits}f} → {self.candidate:.{digits}f})"
        )


def better_direction(series: str) -> str:
    """`higher`, `lower`, or "" when the series says nothing of which is better."""
    if series in HIGHER_IS_BETTER:
        return "higher"
    if series in LOWER_IS_BETTER or series.startswith(("fidelity_", "finding:")):
        return "lower"
    return ""


def verdict_of(interval: Interval, better: str) -> str:
    """`better` / `worse` when the interval excludes 1 (`higher` / `lower` for a series of no
    known direction), `no clear change` when it holds 1."""
    if not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return "no interval"
    if interval.low <= 1.0 <= interval.high:
        return "no clear change"
    moved = "higher" if interval.low > 1.0 else "lower"
    if not better:
        return moved
    return "better" if moved == better else "worse"


def compare_series(pair: Pair, series: str) -> Change | None:
    """Ratio of medians with its bootstrap interval; one value a side gets no interval."""
    before = pooled(pair.baseline, series)
    after = pooled(pair.candidate, series)
    if not before or not after:
        return None
    if min(len(before), len(after)) < MIN_VALUES:
        b, c = float(np.median(before)), float(np.median(after))
        none = Interval(math.nan, math.nan)
        return Change(b, c, c / b if b else math.nan, none, "too few values", len(before),
                      len(after))  # fmt: skip
    compared = compare_samples(before, after, resamples=RESAMPLES)
    return Change(
        compared.baseline_median, compared.candidate_median, compared.ratio, compared.ratio_ci,
        verdict_of(compared.ratio_ci, better_direction(series)),
        compared.n_baseline, compared.n_candidate,
        compared.p_value, effect_label(compared.cliffs_delta),
    )  # fmt: skip


def pooled(records: Iterable[RunRecord], series: str) -> list[float]:
    values: list[float] = []
    for record in records:
        if series in record.series_names:
            values.extend(record.get(series).values)
    return values


def shared_series(pair: Pair) -> list[str]:
    """Series every record of both sides holds, in the order of the first baseline record."""
    names = [n for n in pair.baseline[0].series_names]
    return [n for n in names if all(n in r.series_names for r in (*pair.baseline, *pair.candidate))]


# -- the sweep, level by level -----------------------------------------------------------------


@dataclass(frozen=True)
class SweepRow:
    """One concurrency level of a pair of sweep subjects: ok throughput and p99, compared."""

    subject: str
    concurrency: int
    upstream_latency_ms: str
    throughput: Change
    p99: Change
    error_rate: tuple[float, float]


def sweep_rows(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[SweepRow]:
    """Throughput and p99 per level for every pair of sweep subjects, lowest level first."""
    rows = []
    for pair in pair_records(_sweep(baseline), _sweep(candidate)):
        if not all(_has_latency(r) for r in (*pair.baseline, *pair.candidate)):
            continue
        rows.append(
            SweepRow(
                subject=subject_text(pair),
                concurrency=int(float(pair.labels.get("concurrency", "0"))),
                upstream_latency_ms=pair.labels.get("upstream_latency_ms", ""),
                throughput=throughput_change(pair),
                p99=percentile_change(pair, "latency_ms", 99.0),
                error_rate=(_error_rate(pair.baseline), _error_rate(pair.candidate)),
            )
        )
    return sorted(rows, key=lambda r: (r.subject, r.upstream_latency_ms, r.concurrency))


def _sweep(records: Iterable[RunRecord]) -> list[RunRecord]:
    return [r for r in records if r.runner == "sweep"]


def _has_latency(record: RunRecord) -> bool:
    return "latency_ms" in record.series_names and len(record.get("latency_ms").values) > 0


def subject_text(pair: Pair) -> str:
    """The subject compared: `name`, or `a → b` when the pair sets the subject label aside."""
    if "subject" in pair.labels:
        return pair.labels["subject"]
    return f"{pair.baseline[0].labels.get('subject')} → {pair.candidate[0].labels.get('subject')}"


def throughput_change(pair: Pair) -> Change:
    """Successful requests per second, by Little's law for a closed loop of N callers:
    N x (ok requests) / (summed latency), bootstrapped over requests."""
    level = float(pair.labels.get("concurrency", "1"))
    base, cand = _ok_latency_rows(pair.baseline), _ok_latency_rows(pair.candidate)

    def statistic(rows: Array) -> Array:
        totals = rows.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(level * 1000.0 * totals[..., 0] / totals[..., 1], dtype=np.float64)

    return _bootstrap_change(base, cand, statistic, "higher")


def percentile_change(pair: Pair, series: str, q: float) -> Change:
    """The q-th percentile of `series`, compared."""
    base = np.asarray(pooled(pair.baseline, series), dtype=np.float64)
    cand = np.asarray(pooled(pair.candidate, series), dtype=np.float64)
    return _bootstrap_change(base, cand, row_percentile(q), better_direction(series))


def _ok_latency_rows(records: Iterable[RunRecord]) -> Array:
    ok = np.concatenate([ok_flags(r) for r in records])
    latency = np.concatenate([np.asarray(r.get("latency_ms").values) for r in records])
    return np.column_stack([ok, latency])


def _bootstrap_change(base: Array, cand: Array, statistic: RowStatistic, better: str) -> Change:
    b = float(statistic(base[np.newaxis])[0])
    c = float(statistic(cand[np.newaxis])[0])
    base_estimates = resample_statistic(base, statistic, resamples=RESAMPLES, seed=1)
    cand_estimates = resample_statistic(cand, statistic, resamples=RESAMPLES, seed=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        interval = percentile_interval(cand_estimates / base_estimates)
    ratio = c / b if b else math.nan
    return Change(b, c, ratio, interval, verdict_of(interval, better), len(base), len(cand))


def _error_rate(records: Iterable[RunRecord]) -> float:
    ok = np.concatenate([ok_flags(r) for r in records])
    return 1.0 - float(ok.mean()) if ok.size else 0.0


def knees_side_by_side(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]
) -> list[tuple[Saturation, Saturation]]:
    """The knee and shape of each pair of sweep subjects, baseline beside candidate."""
    base = {(s.subject, s.upstream_latency_ms): s for s in saturations(baseline)}
    cand = {(s.subject, s.upstream_latency_ms): s for s in saturations(candidate)}
    seen: dict[tuple[str, str, str, str], None] = {}
    for pair in pair_records(_sweep(baseline), _sweep(candidate)):
        b, c = pair.baseline[0].labels, pair.candidate[0].labels
        seen[b["subject"], b.get("upstream_latency_ms", ""), c["subject"],
             c.get("upstream_latency_ms", "")] = None  # fmt: skip
    return [(base[bs, bu], cand[cs, cu]) for bs, bu, cs, cu in seen if (bs, bu) in base
            and (cs, cu) in cand]  # fmt: skip


def split_roles(
    records: Sequence[RunRecord],
) -> tuple[list[RunRecord], list[RunRecord]] | None:
    """A run's `role=baseline` and `role=candidate` records, or None when it has not both."""
    base = [r for r in records if r.labels.get("role") == "baseline"]
    cand = [r for r in records if r.labels.get("role") == "candidate"]
    return (base, cand) if base and cand else None
