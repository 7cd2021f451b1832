"""Statistics derived from raw Series values: summaries, intervals, A/B comparisons.

Pure functions over sequences of floats. Bootstrap resampling is seeded, so the same values give
the same intervals on every run; scipy provides the Wilson interval, the Mann-Whitney test and
the t distribution. Comparisons come in two kinds: of the rounds of one run a side
(`compare_samples`) and of several runs a side, one value per run (`compare_runs`), the honest
unit when machine state drifts between runs; `holm_adjust` controls the error over many metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
# A statistic maps a 2-D array (one resample per row) to one value per row.
RowStatistic = Callable[[Array], Array]

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 20261127
# The method of a comparison of the rounds of one run a side (`compare_samples`).
ON_ROUNDS = "Mann-Whitney on rounds"
# Resampled values held in memory at once: bounds memory for large samples.
_CHUNK_VALUES = 2_000_000


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float
    confidence: float = CONFIDENCE

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class DistributionSummary:
    """n, mean, median and percentiles of one sample, with bootstrap CIs for the median and
    each percentile (the one summary used for every metric)."""

    n: int
    mean: float
    stdev: float
    minimum: float
    maximum: float
    median: float
    median_ci: Interval
    percentiles: dict[float, float] = field(default_factory=dict)
    percentile_cis: dict[float, Interval] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "stdev": self.stdev,
            "min": self.minimum,
            "max": self.maximum,
            "median": self.median,
            "median_ci": self.median_ci.as_dict(),
            "percentiles": {f"p{q:g}": v for q, v in self.percentiles.items()},
            "percentile_cis": {f"p{q:g}": ci.as_dict() for q, ci in self.percentile_cis.items()},
        }


@dataclass(frozen=True)
class Comparison:
    """Candidate against baseline: ratio of medians (candidate / baseline) with a bootstrap CI,
    the Mann-Whitney two-sided p-value, Cliff's delta and the minimum detectable ratio change.

    From `compare_runs` with a t-test, the "medians" are the geometric means of the runs
    compared, the interval and p-value the t-test's; `method` says which."""

    baseline_median: float
    candidate_median: float
    ratio: float
    ratio_ci: Interval
    p_value: float
    cliffs_delta: float
    mde_relative: float
    n_baseline: int
    n_candidate: int
    # What the test was run on: the rounds of one run a side, or runs (one value per run).
    method: str = ON_ROUNDS
    # Runs were ranked because too few fell in the fast mode: more runs could decide.
    mode_missing: bool = False

    @property
    def relative_change(self) -> float:
        """(candidate - baseline) / baseline: +0.15 means 15% larger."""
        return self.ratio - 1.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"relative_change": self.relative_change}


def as_array(values: Sequence[float]) -> Array:
    """A float64 copy of `values`; ValueError when empty or not finite."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError("no values")
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite")
    return array


def resample_statistic(
    values: Array, statistic: RowStatistic, *, resamples: int = RESAMPLES, seed: int = SEED
) -> Array:
    """`statistic` of `resamples` bootstrap resamples of the rows of `values` (1-D or 2-D)."""
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    width = values[0].size if values.ndim > 1 else 1
    chunk = max(1, _CHUNK_VALUES // (n * width))
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        index = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = statistic(values[index])
    return out


def percentile_interval(estimates: Array, confidence: float = CONFIDENCE) -> Interval:
    """The percentile interval of bootstrap `estimates` (NaNs from degenerate resamples dropped)."""
    finite = estimates[np.isfinite(estimates)]
    if finite.size == 0:
        return Interval(math.nan, math.nan, confidence)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Interval(float(low), float(high), confidence)


def bootstrap_ci(
    values: Sequence[float] | Array,
    statistic: RowStatistic,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Interval:
    """Seeded percentile-bootstrap CI of `statistic` over the rows of `values`."""
    array = np.asarray(values, dtype=np.float64)
    estimates = resample_statistic(array, statistic, resamples=resamples, seed=seed)
    return percentile_interval(estimates, confidence)


def row_percentile(q: float) -> RowStatistic:
    """A row statistic: the q-th percentile (0-100) of each row."""
    return lambda rows: np.asarray(np.percentile(rows, q, axis=1), dtype=np.float64)


def row_mean(rows: Array) -> Array:
    return np.asarray(rows.mean(axis=1), dtype=np.float64)


def summarize(
    values: Sequence[float],
    *,
    percentiles: Sequence[float] = (50, 90, 95, 99),
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> DistributionSummary:
    """A DistributionSummary of `values` with seeded bootstrap CIs."""
    array = as_array(values)
    qs = [50.0, *(float(q) for q in percentiles if q != 50)]
    estimates = {
        q: resample_statistic(array, row_percentile(q), resamples=resamples, seed=seed) for q in qs
    }
    cis = {q: percentile_interval(est, confidence) for q, est in estimates.items()}
    points = {q: float(np.percentile(array, q)) for q in qs}
    return DistributionSummary(
        n=int(array.size),
        mean=float(array.mean()),
        stdev=float(array.std(ddof=1)) if array.size > 1 else 0.0,
        minimum=float(array.min()),
        maximum=float(array.max()),
        median=points[50.0],
        median_ci=cis[50.0],
        percentiles={float(q): points[float(q)] for q in percentiles},
        percentile_cis={float(q): cis[float(q)] for q in percentiles},
    )


def wilson_interval(successes: float, trials: float, confidence: float = CONFIDENCE) -> Interval:
    """Wilson score interval for a proportion `successes / trials`."""
    if trials <= 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    z = _z(confidence)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denominator
    # At p = 0 or 1 one end is exactly 0 or 1; rounding leaves ~1e-17, which reads as noise.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high, confidence)


def rate_difference_interval(
    baseline: tuple[float, float], candidate: tuple[float, float], confidence: float = CONFIDENCE
) -> Interval:
    """Interval of candidate rate - baseline rate, each given as (successes, trials): Newcombe's
    hybrid score method from the two Wilson intervals (sound at 0% and 100%, unlike Wald)."""
    (k1, n1), (k2, n2) = baseline, candidate
    p1, p2 = k1 / n1, k2 / n2
    w1, w2 = wilson_interval(k1, n1, confidence), wilson_interval(k2, n2, confidence)
    difference = p2 - p1
    low = difference - math.hypot(p2 - w2.low, w1.high - p1)
    high = difference + math.hypot(w2.high - p2, p1 - w1.low)
    return Interval(low, high, confidence)


def binomial_tail(successes: int, trials: int, rate: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, rate): how likely chance alone gives as many."""
    if not 0 <= successes <= trials or not 0.0 <= rate <= 1.0:
        raise ValueError(f"need 0 <= successes <= trials and 0 <= rate <= 1, got "
                         f"{successes}/{trials} at {rate}")  # fmt: skip
    from scipy.stats import binom

    return float(binom.sf(successes - 1, trials, rate))


def proportion_mde(
    rate: float, n_a: int, n_b: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest absolute difference between two rates detectable with these sample sizes."""
    spread = math.sqrt(max(rate * (1.0 - rate), 1e-12) * (1.0 / n_a + 1.0 / n_b))
    return (_z(1.0 - alpha) + _z_one_sided(power)) * spread


def compare_samples(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    power: float = 0.8,
) -> Comparison:
    """Compare two independent samples by the ratio of their medians."""
    base, cand = as_array(baseline), as_array(candidate)
    base_medians = resample_statistic(base, row_percentile(50), resamples=resamples, seed=seed)
    cand_medians = resample_statistic(cand, row_percentile(50), resamples=resamples, seed=seed + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = cand_medians / base_medians
    base_median, cand_median = float(np.median(base)), float(np.median(cand))
    return Comparison(
        baseline_median=base_median,
        candidate_median=cand_median,
        ratio=cand_median / base_median if base_median else math.nan,
        ratio_ci=percentile_interval(ratios, confidence),
        p_value=mann_whitney_p(base, cand),
        cliffs_delta=cliffs_delta(base, cand),
        mde_relative=_ratio_mde(ratios, 1.0 - confidence, power),
        n_baseline=int(base.size),
        n_candidate=int(cand.size),
    )


def median_difference_interval(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Interval:
    """The bootstrap interval of median(candidate) - median(baseline), in their unit."""
    base, cand = as_array(baseline), as_array(candidate)
    base_medians = resample_statistic(base, row_percentile(50), resamples=resamples, seed=seed)
    cand_medians = resample_statistic(cand, row_percentile(50), resamples=resamples, seed=seed + 1)
    return percentile_interval(cand_medians - base_medians, confidence)


def compare_rates(
    baseline: Sequence[float], candidate: Sequence[float], *, confidence: float = CONFIDENCE
) -> Comparison:
    """Compare two rates of 0/1 observations (e.g. requests answered ok): the "medians" are the
    rates, the ratio's interval comes from Newcombe's interval of their difference, the p-value
    from Fisher's exact test; `method` says so."""
    from scipy.stats import fisher_exact

    base, cand = as_array(baseline), as_array(candidate)
    (k1, n1), (k2, n2) = (float(base.sum()), base.size), (float(cand.sum()), cand.size)
    rate_b, rate_c = k1 / n1, k2 / n2
    spread = rate_difference_interval((k1, n1), (k2, n2), confidence)
    same = k1 + k2 in (0, n1 + n2)  # all fail or all succeed: nothing to test
    # The detectable change, at the pooled rate kept off 0 and 1 (a rate of 1 has no spread).
    pooled = min(max((k1 + k2) / (n1 + n2), 1 / (n1 + n2)), 1 - 1 / (n1 + n2))
    return Comparison(
        baseline_median=rate_b,
        candidate_median=rate_c,
        ratio=rate_c / rate_b if rate_b else math.nan,
        ratio_ci=_over(spread, rate_b),
        p_value=1.0 if same else float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue),
        cliffs_delta=rate_c - rate_b,  # what Cliff's delta is for 0/1 observations
        mde_relative=proportion_mde(pooled, n1, n2) / rate_b if rate_b else math.nan,
        n_baseline=n1,
        n_candidate=n2,
        method="rates (Fisher's exact test)",
    )


def paired_ratio(
    baseline: Sequence[float], candidate: Sequence[float], *, confidence: float = CONFIDENCE
) -> tuple[float, Interval]:
    """The candidate / baseline ratio of paired measurements (rounds, each pair measured moments
    apart) and its t interval over the pairs: their own spread is the noise, so a machine whose
    state moved between rounds widens it. On logs (a geometric mean) when every ratio is
    positive, else on the ratios; NaN when a baseline is 0."""
    base, cand = as_array(baseline), as_array(candidate)
    if base.size != cand.size or base.size < 2:
        raise ValueError(f"need two or more pairs, got {base.size} and {cand.size} values")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = cand / base
    if not np.all(np.isfinite(ratios)):
        return math.nan, Interval(math.nan, math.nan, confidence)
    on_logs = bool(np.all(ratios > 0))
    values = np.log(ratios) if on_logs else ratios
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2.0, values.size - 1)) * float(
        values.std(ddof=1) / math.sqrt(values.size)
    )
    centre = float(values.mean())
    ends = (centre, centre - half, centre + half)
    ratio, low, high = (math.exp(v) for v in ends) if on_logs else ends
    return ratio, Interval(low, high, confidence)


def _over(difference: Interval, baseline: float) -> Interval:
    """An interval of candidate - baseline as one of candidate / baseline."""
    if not baseline:
        return Interval(math.nan, math.nan, difference.confidence)
    low, high = 1 + difference.low / baseline, 1 + difference.high / baseline
    return Interval(low, high, difference.confidence)


def mann_whitney_p(baseline: Array, candidate: Array) -> float:
    """Two-sided Mann-Whitney U p-value (1.0 when both samples are constant and equal)."""
    from scipy.stats import mannwhitneyu

    if np.ptp(np.concatenate([baseline, candidate])) == 0:
        return 1.0
    return float(mannwhitneyu(candidate, baseline, alternative="two-sided").pvalue)


def cliffs_delta(baseline: Array, candidate: Array) -> float:
    """P(candidate > baseline) - P(candidate < baseline), in [-1, 1]; 0 for no effect."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([candidate, baseline]))
    n_c, n_b = candidate.size, baseline.size
    u_candidate = float(ranks[:n_c].sum()) - n_c * (n_c + 1) / 2.0
    return 2.0 * u_candidate / (n_c * n_b) - 1.0


def effect_label(delta: float) -> str:
    """Romano et al. thresholds for |Cliff's delta|."""
    size = abs(delta)
    if size < 0.147:
        return "negligible"
    if size < 0.33:
        return "small"
    return "medium" if size < 0.474 else "large"


def _ratio_mde(ratios: Array, alpha: float, power: float) -> float:
    """Relative change of the median detectable at `alpha` with `power` (log-normal approx.)."""
    logs = np.log(ratios[np.isfinite(ratios) & (ratios > 0)])
    if logs.size < 2:
        return math.nan
    return float(math.exp((_z(1.0 - alpha) + _z_one_sided(power)) * float(logs.std())) - 1.0)


def _z(confidence: float) -> float:
    """Two-sided normal quantile: 1.96 for 0.95."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2.0))


def _z_one_sided(probability: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(probability))


RUN_STATISTICS = ("min", "median", "mean")


def run_statistic(values: Sequence[float], statistic: str) -> float:
    """One value summing up a run's rounds: `min`, `median`, `mean` or `pNN` (a percentile)."""
    array = as_array(values)
    if statistic == "min":
        return float(array.min())
    if statistic == "median":
        return float(np.median(array))
    if statistic == "mean":
        return float(array.mean())
    return float(np.percentile(array, float(check_statistic(statistic)[1:])))


def check_statistic(statistic: str) -> str:
    """`statistic` itself when it is `min`, `median`, `mean` or `pNN` (0-100), else ValueError."""
    if statistic in RUN_STATISTICS:
        return statistic
    try:
        q = float(statistic.removeprefix("p")) if statistic.startswith("p") else -1.0
    except ValueError:
        q = -1.0
    if not 0 <= q <= 100:
        raise ValueError(f"unknown statistic {statistic!r}: use min, median, mean or pNN")
    return statistic


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: compare each with alpha to hold the family-wise error
    rate at alpha over all the tests, whatever their dependence."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def fast_mode(costs: Array, width: float) -> npt.NDArray[np.bool_]:
    """Which values lie within `width` (a fraction) of the smallest: the machine's fast state.

    `costs` are logs, oriented so that smaller is better."""
    return np.asarray(costs <= costs.min() + math.log1p(width), dtype=np.bool_)


@dataclass(frozen=True)
class RunSelection:
    """The runs a run-level comparison rests on: each side's kept values (logs when every
    value is positive), or `ranked` when too few runs fall in the fast mode."""

    baseline: Array
    candidate: Array
    log_scale: bool
    ranked: bool
    description: str

    @property
    def spread(self) -> tuple[float, int]:
        """The pooled between-run variance of the kept values and its degrees of freedom."""
        df = self.baseline.size + self.candidate.size - 2
        if self.ranked or df < 1:
            return math.nan, 0
        squares = np.sum((self.baseline - self.baseline.mean()) ** 2) + np.sum(
            (self.candidate - self.candidate.mean()) ** 2
        )
        return float(squares) / df, df


def select_runs(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    lower_is_better: bool = True,
    mode_width: float | None = None,
) -> RunSelection:
    """With `mode_width`, keep only runs within that fraction of the best run of either side (a
    machine flipping between a fast and a slow state adds a second mode, not noise); rank all
    runs when that leaves fewer than two runs a side (or all of a one-run side)."""
    base, cand = as_array(baseline), as_array(candidate)
    if base.size + cand.size < 3:
        raise ValueError("a run-level comparison needs at least 3 runs in all")
    log_scale = bool(np.all(base > 0) and np.all(cand > 0))
    b, c = (np.log(base), np.log(cand)) if log_scale else (base, cand)
    everything = f"all runs ({b.size} baseline, {c.size} candidate"
    if mode_width is None or not log_scale:
        return RunSelection(b, c, log_scale, ranked=False, description=everything + ")")
    sign = 1.0 if lower_is_better else -1.0
    keep = fast_mode(sign * np.concatenate([b, c]), mode_width)
    kept_b, kept_c = b[keep[: b.size]], c[keep[b.size :]]
    # One lone run in the fast mode may be a third, in-between state: not a mode.
    if kept_b.size < min(2, b.size) or kept_c.size < min(2, c.size) or keep.sum() < 3:
        if b.size >= 2 and fast_mode(sign * b, mode_width).all():
            # The baseline never left its fast state: the candidate's distance is its own.
            return RunSelection(b, c, True, ranked=False, description=everything + ")")
        return RunSelection(b, c, True, ranked=True, description=everything + "; no fast mode)")
    description = (
        f"fast-mode runs ({kept_b.size} of {b.size} baseline, {kept_c.size} of {c.size} candidate)"
    )
    return RunSelection(kept_b, kept_c, True, ranked=False, description=description)


def shared_prior(spreads: Sequence[tuple[float, int]]) -> tuple[float, float] | None:
    """The typical between-run variance of several metrics measured alike (median variance,
    median degrees of freedom), to steady each one's own estimate; None for fewer than 3."""
    usable = [(v, df) for v, df in spreads if df >= 1 and math.isfinite(v)]
    if len(usable) < 3:
        return None
    return float(np.median([v for v, _ in usable])), float(np.median([df for _, df in usable]))


def pooled_spread(spreads: Sequence[tuple[float, int]]) -> tuple[float, float] | None:
    """One noise estimated several times (variance, df each): the variances pooled, weighted by
    their df, and the df summed; None for fewer than 3 estimates."""
    usable = [(v, df) for v, df in spreads if df >= 1 and math.isfinite(v)]
    if len(usable) < 3:
        return None
    df_total = sum(df for _, df in usable)
    return sum(v * df for v, df in usable) / df_total, float(df_total)


def compare_runs(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    lower_is_better: bool = True,
    mode_width: float | None = None,
    prior: tuple[float, float] | None = None,
    confidence: float = CONFIDENCE,
    power: float = 0.8,
) -> Comparison:
    """Compare two sets of run-level values (one per run): t-test on logs, the between-run
    spread as the noise (see `select_runs` for `mode_width`; ranked runs: Mann-Whitney).

    `prior` (variance, df), e.g. from `shared_prior` over the metrics of one rule, moderates
    the metric's own variance (Smyth 2004): few runs then still give a steady noise estimate."""
    selection = select_runs(
        baseline, candidate, lower_is_better=lower_is_better, mode_width=mode_width
    )
    if selection.ranked:
        ranked = compare_samples(baseline, candidate, confidence=confidence, power=power)
        method = f"Mann-Whitney on {selection.description}"
        return replace(ranked, method=method, mode_missing=mode_width is not None)
    b, c = selection.baseline, selection.candidate
    variance, df = moderate(*selection.spread, prior)
    test = _t_test(b, c, variance, df, confidence, power)
    shrunk = " (variance moderated over the rule's metrics)" if prior else ""
    method = f"t-test on {selection.description}{shrunk}"
    if selection.log_scale:
        base_loc, cand_loc = math.exp(test.locations[0]), math.exp(test.locations[1])
        ratio, low, high = (math.exp(v) for v in (test.diff, *test.diff_ci))
        mde = math.expm1(test.detectable)
    else:
        base_loc, cand_loc = test.locations
        ratio, low, high = (_linear_ratio(base_loc, v) for v in (test.diff, *test.diff_ci))
        mde = test.detectable / abs(base_loc) if base_loc else math.nan
    return Comparison(base_loc, cand_loc, ratio, Interval(low, high, confidence), test.p_value,
                      cliffs_delta(as_array(baseline), as_array(candidate)), mde, int(b.size),
                      int(c.size), method)  # fmt: skip


def compare_moments(
    baseline: float,
    candidate: float,
    moment: tuple[float, float],
    *,
    confidence: float = CONFIDENCE,
    power: float = 0.8,
) -> Comparison:
    """One run a side, each one moment of a machine whose state moves: `moment` = (variance,
    df) of a log value from one moment to the next, as interleaved rounds showed it, is the
    noise of each side's value (t-test on logs; positive values only)."""
    b, c = np.log(as_array([baseline])), np.log(as_array([candidate]))
    variance, df = moment
    test = _t_test(b, c, variance, df, confidence, power)
    ratio, low, high = (math.exp(v) for v in (test.diff, *test.diff_ci))
    spread = math.expm1(math.sqrt(variance))
    method = (f"t-test on one run a side, each a moment: the noise is how much a round moves "
              f"from one moment to the next ({spread:.1%}, df {df:g})")  # fmt: skip
    return Comparison(baseline, candidate, ratio, Interval(low, high, confidence), test.p_value,
                      cliffs_delta(b, c), math.expm1(test.detectable), 1, 1, method)  # fmt: skip


def moment_spread(rounds: Sequence[float]) -> tuple[float, int] | None:
    """(variance, df) of the logs of one subject's interleaved rounds (one value each): how
    much it moves from one moment to the next; None for fewer than 2 or a value <= 0."""
    values = as_array(rounds)
    if values.size < 2 or not np.all(values > 0):
        return None
    return float(np.log(values).var(ddof=1)), int(values.size - 1)


def moderate(variance: float, df: float, prior: tuple[float, float] | None) -> tuple[float, float]:
    """The variance pooled with a prior (variance, df) as extra observations, and its df."""
    if prior is None:
        return variance, df
    prior_variance, prior_df = prior
    if df < 1:
        return prior_variance, prior_df
    return (prior_df * prior_variance + df * variance) / (prior_df + df), prior_df + df


def _linear_ratio(base: float, diff: float) -> float:
    return (base + diff) / base if base else math.nan


@dataclass(frozen=True)
class TTest:
    """A pooled-variance two-sample t-test: the means, their difference with its interval, the
    two-sided p-value and the difference detectable with the requested power."""

    locations: tuple[float, float]
    diff: float
    diff_ci: tuple[float, float]
    p_value: float
    detectable: float


def _t_test(
    b: Array, c: Array, variance: float, df: float, confidence: float, power: float
) -> TTest:
    from scipy.stats import t

    se = math.sqrt(variance * (1.0 / b.size + 1.0 / c.size))
    diff = float(c.mean() - b.mean())
    # Identical runs (counted metrics) have no spread: then any difference is real.
    p_value = float(2.0 * t.sf(abs(diff) / se, df)) if se else float(diff == 0.0)
    quantile = float(t.ppf(0.5 + confidence / 2.0, df))
    return TTest(
        locations=(float(b.mean()), float(c.mean())),
        diff=diff,
        diff_ci=(diff - quantile * se, diff + quantile * se),
        p_value=p_value,
        detectable=(quantile + float(t.ppf(power, df))) * se,
    )
