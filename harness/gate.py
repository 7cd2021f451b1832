"""The regression gate: did the candidate get slower than the baseline?

Per-metric rules (TOML) say which series to compare, which direction is better and how large a
change must be to matter. A regression needs BOTH a significant difference and an effect beyond
every threshold the rule sets (relative and/or absolute), so noise alone never fails a build.

Evidence comes in runs (one result set each). With several runs in all, each run gives one value
per metric (the rule's `statistic` of its rounds) and the between-run spread is the noise: rounds
within a run share the machine's state of the moment, so they cannot say how much the next run
will move. With one run a side the rounds are compared (Mann-Whitney), which is over-confident;
`confirm_runs` then adds runs. p-values are Holm-adjusted over all metrics, so the chance of any
false alarm is at most `alpha`, not alpha per metric. `harness.gate_summary` renders reports.
"""

from __future__ import annotations

import fnmatch
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.changes import OK_ONLY, RATES, ok_values
from harness.errors import UsageError
from harness.files import read_toml
from harness.gate_claims import ClaimChange
from harness.gate_findings import FindingChange
from harness.pairing import Alias, aliased, target_aliases
from harness.records import RunRecord, fingerprint_of, machine_warnings, record_key
from harness.stats import (
    ON_ROUNDS,
    Comparison,
    check_statistic,
    compare_moments,
    compare_rates,
    compare_runs,
    compare_samples,
    holm_adjust,
    moment_spread,
    pooled_spread,
    run_statistic,
    select_runs,
    shared_prior,
)
from harness.subjects.extractors import EXTRACTORS
from harness.subjects.token_providers import TOKEN_PROVIDERS
from harness.upstreams import unlike_words, upstream_of

REGRESSION, IMPROVEMENT, UNCHANGED = "regression", "improvement", "unchanged"
UNCONFIRMED, MISSING, UNTESTABLE = "unconfirmed", "missing", "untestable"
# Measured against unlike upstreams (sfperf's fast mock vs a user's at 450 ms): not compared.
OTHER_UPSTREAM = "other upstream"
DIRECTIONS = ("lower", "higher")
MIN_VALUES = 3
# A median shift of every reference measurement of a runner beyond this suggests machine drift.
DRIFT_LIMIT, DRIFT_MIN_METRICS = 0.10, 3
# Units of a speed (a time or a rate per time): only a speed can say the machine changed.
SPEED_UNITS = frozenset({"ms", "s", "rps"})
# A sweep's `kind` of the subjects sfperf brings, the same code on both sides of a comparison.
REFERENCE_KINDS = frozenset({"gateway", "client", "ceiling"})
# The decision rests on the Mann-Whitney test; the bootstrap only sizes the ratio's interval.
RESAMPLES = 1000
# Baseline runs kept per machine: the newest ones are the between-run noise estimate.
HISTORY_RUNS = 10
# Rounds of confirmation reruns at most: a second only while a worse-looking metric has too
# few runs in the fast mode to be judged.
CONFIRM_ROUNDS = 2

# One run: the records one measurement produced (one results.json).
Run = Sequence[RunRecord]
# Per gated metric: its rule, the values of each run (or round) that has any, its unit.
Grouped = dict[str, tuple["Rule", list[list[float]], str]]


@dataclass(frozen=True)
class Rule:
    """Which series to gate and what counts as a regression (direction: which is better)."""

    runner: str
    scenario: str
    series: str
    direction: str = "lower"
    max_relative: float | None = 0.10
    max_absolute: float | None = None
    alpha: float = 0.01
    # The value a run contributes when several runs are compared: min, median, mean or pNN.
    statistic: str = "median"
    # Only runs within this fraction of the best run count (a fast/slow machine); None: all.
    mode_width: float | None = None

    def applies_to(self, record: RunRecord, series: str) -> bool:
        return (
            series == self.series
            and fnmatch.fnmatchcase(record.runner, self.runner)
            and fnmatch.fnmatchcase(record.scenario, self.scenario)
        )


@dataclass(frozen=True)
class MetricResult:
    """The gate's finding on one metric (one series of one labelled record group)."""

    key: str
    rule: Rule
    status: str
    comparison: Comparison | None = None
    unit: str = ""
    note: str = ""
    p_adjusted: float = math.nan  # Holm-adjusted over every tested metric of the report


@dataclass(frozen=True)
class GateReport:
    """Every gated metric's result; `nothing_compared` says why no metric could be tested
    (empty when some were): such a gate has no verdict, and the command exits 2."""

    results: tuple[MetricResult, ...]
    warnings: tuple[str, ...] = field(default=())
    nothing_compared: str = ""
    # Report-card claims whose verdict moved (`harness.gate_claims`); holds -> refuted fails.
    claims: tuple[ClaimChange, ...] = ()
    # FAIL and WARN findings new in or cleared from the candidate (`harness.gate_findings`);
    # a new FAIL fails.
    findings: tuple[FindingChange, ...] = ()
    # Gated metrics of the candidate measured in partial records (a window cut short).
    partial_metrics: int = 0
    # Why the candidate run did not measure all it set out to (`harness.completeness`).
    candidate_unfinished: str = ""
    # `--allow-missing`: an incomplete candidate is judged on what it has.
    missing_allowed: bool = False

    @property
    def regressions(self) -> list[MetricResult]:
        return [r for r in self.results if r.status == REGRESSION]

    @property
    def missing(self) -> list[MetricResult]:
        """The baseline's gated metrics the candidate does not have."""
        return [r for r in self.results if r.status == MISSING]

    @property
    def incomplete(self) -> str:
        """Why the candidate cannot be judged whole ("" when it can): the baseline's metrics it
        lacks, those it measured in partial records, and what stopped its run (R111)."""
        parts = [f"the candidate lacks {len(self.missing)} of the baseline's "
                 f"{len(self.results)} gated metrics"] if self.missing else []  # fmt: skip
        if self.partial_metrics:
            parts.append(f"{self.partial_metrics} of its gated metrics come from partial "
                         "records (a window cut short)")  # fmt: skip
        if not parts:
            return ""
        unfinished = self.candidate_unfinished
        return "; ".join(parts) + (f" (the candidate run: {unfinished})"
                                   if unfinished else "")  # fmt: skip

    @property
    def withheld(self) -> bool:
        """No verdict: nothing compared, or an incomplete candidate not allowed to pass; a
        regression found is a verdict all the same."""
        if self.failed:
            return False
        return bool(self.nothing_compared) or bool(self.incomplete and not self.missing_allowed)

    @property
    def failed(self) -> bool:
        return (
            bool(self.regressions)
            or any(c.regressed for c in self.claims)
            or any(f.regressed for f in self.findings)
        )

    @property
    def tested(self) -> int:
        """How many metrics were compared at all (none: the gate cannot say "no regression")."""
        return sum(r.comparison is not None for r in self.results)

    @property
    def suspects(self) -> list[MetricResult]:
        """Metrics worse beyond their thresholds, significant or not: worth re-measuring."""
        return [r for r in self.results if r.comparison and is_worse(r.rule, r.comparison)]

    @property
    def undecided(self) -> list[MetricResult]:
        """Suspects whose runs missed the fast mode (too few fast runs a side to compare)."""
        return [r for r in self.suspects if r.comparison and r.comparison.mode_missing]


def load_rules(path: Path) -> list[Rule]:
    """Rules from a TOML file: `[defaults]` then `[[rule]]` tables."""
    return parse_rules(read_toml(path, "gate rules"), str(path))


def shipped_rules() -> list[Rule]:
    """The rules sfperf ships (scenarios/gate/default.toml)."""
    from scenarios import scenario_path

    return load_rules(scenario_path("gate", "default.toml"))


def parse_rules(data: Mapping[str, Any], origin: str = "rules") -> list[Rule]:
    defaults = dict(data.get("defaults", {}))
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise UsageError(f"{origin}: no [[rule]] tables")
    return [
        _parse_rule(defaults | raw, f"{origin}: rule #{i + 1}") for i, raw in enumerate(raw_rules)
    ]


def _parse_rule(raw: Mapping[str, Any], where: str) -> Rule:
    unknown = set(raw) - {f for f in Rule.__dataclass_fields__}
    if unknown:
        raise UsageError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        rule = Rule(
            runner=str(raw.get("runner", "*")),
            scenario=str(raw.get("scenario", "*")),
            series=str(raw["series"]),
            direction=str(raw.get("direction", "lower")),
            max_relative=_optional_float(raw.get("max_relative", 0.10)),
            max_absolute=_optional_float(raw.get("max_absolute")),
            alpha=float(raw.get("alpha", 0.01)),
            statistic=check_statistic(str(raw.get("statistic", "median"))),
            mode_width=_optional_float(raw.get("mode_width")),
        )
    except KeyError:
        raise UsageError(f"{where}: 'series' is required") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None
    if rule.direction not in DIRECTIONS:
        raise UsageError(f"{where}: direction must be one of {DIRECTIONS}")
    if not 0 < rule.alpha < 1:
        raise UsageError(f"{where}: alpha must be between 0 and 1")
    return rule


def _optional_float(value: Any) -> float | None:
    # TOML has no null: a negative threshold (e.g. -1) switches that threshold off.
    if value is None or float(value) < 0:
        return None
    return float(value)


def collect(
    records: Sequence[RunRecord], rules: Sequence[Rule]
) -> dict[str, tuple[Rule, list[float], str]]:
    """Pool the values of each gated series (first matching rule wins), keyed by `record_key`;
    a request's latency counts only for a successful request (`harness.changes.OK_ONLY`: an
    error answered in 2 ms is not a faster reply)."""
    pooled: dict[str, tuple[Rule, list[float], str]] = {}
    for record in records:
        for series in record.series:
            rule = _rule_for(rules, record, series.name)
            if rule is not None:
                entry = pooled.setdefault(record_key(record, series.name), (rule, [], series.unit))
                entry[1].extend(_gated_values(record, series.name))
    return pooled


def collect_rounds(
    records: Sequence[RunRecord], rules: Sequence[Rule]
) -> dict[str, tuple[Rule, list[list[float]]]]:
    """Per gated metric of a run measured in interleaved rounds (its records carry
    `params.round`; two rounds or more, as at a sweep's judged level): its rule and the values
    of each round that has any."""
    rounds: dict[str, tuple[Rule, dict[int, list[float]]]] = {}
    for record in records:
        turn = record.params.get("round")
        if not isinstance(turn, int):
            continue
        for series in record.series:
            if (rule := _rule_for(rules, record, series.name)) is not None:
                entry = rounds.setdefault(record_key(record, series.name), (rule, {}))
                entry[1].setdefault(turn, []).extend(_gated_values(record, series.name))
    return {key: (rule, [values for _, values in sorted(by_round.items()) if values])
            for key, (rule, by_round) in rounds.items() if len(by_round) >= 2}  # fmt: skip


def _rule_for(rules: Sequence[Rule], record: RunRecord, series: str) -> Rule | None:
    """The first rule that selects `series` of `record` (the first match decides)."""
    return next((rule for rule in rules if rule.applies_to(record, series)), None)


def _gated_values(record: RunRecord, series: str) -> list[float]:
    if series in OK_ONLY:
        return ok_values([record], series) or []
    return list(record.get(series).values)


def collect_runs(runs: Sequence[Run], rules: Sequence[Rule]) -> Grouped:
    """Per gated metric, the values of each run that has any (one list per run): a run whose
    requests all failed adds no latency, but its metric is still known, as untestable."""
    grouped: Grouped = {}
    for run in runs:
        for key, (rule, values, unit) in collect(run, rules).items():
            entry = grouped.setdefault(key, (rule, [], unit))
            if values:
                entry[1].append(values)
    return grouped


def evaluate_gate(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], rules: Sequence[Rule]
) -> GateReport:
    """Compare every gated metric present in the baseline run with the candidate run."""
    return evaluate_runs([baseline], [candidate], rules)


def evaluate_runs(
    baseline: Sequence[Run], candidate: Sequence[Run], rules: Sequence[Rule]
) -> GateReport:
    """Compare every gated metric of the baseline runs with the candidate runs (Holm over all).
    Records are lined up as `sfperf report A B` pairs them: when each side measured one target
    under its own name, the candidate's take the baseline's name (a warning says so)."""
    flat_base = [r for run in baseline for r in run]
    aliases = target_aliases(flat_base, [r for run in candidate for r in run])
    candidate = [aliased(run, aliases) for run in candidate]
    flat_cand = [r for run in candidate for r in run]
    base, cand = collect_runs(baseline, rules), collect_runs(candidate, rules)
    if not base:
        raise UsageError("the baseline has no records that any gate rule selects")
    priors = rule_priors(base, cand)
    one_each = len(baseline) == len(candidate) == 1
    moments = moment_priors([*baseline, *candidate], rules) if one_each else {}
    unlike = unlike_upstreams(flat_base, flat_cand, rules)
    measured = [
        MetricResult(key, rule, OTHER_UPSTREAM, unit=unit, note=unlike[key])
        if key in unlike
        else judge(
            key,
            rule,
            runs,
            cand[key][1] if key in cand else None,
            unit,
            priors.get(rule),
            moment=moments.get(rule),
        )
        for key, (rule, runs, unit) in sorted(base.items())
    ]
    results = adjust(measured)
    warnings = (
        alias_warnings(aliases)
        + machine_warnings(flat_base, flat_cand)
        + drift_warnings(results, machine_keys(flat_base))
    )
    why = nothing_compared(results, (base, cand), (flat_base, flat_cand))
    partial = partial_metrics(flat_cand, rules)
    report = GateReport(tuple(results), tuple(warnings), why, partial_metrics=partial)
    return replace(report, warnings=report.warnings + undecided_warnings(report))


def unlike_upstreams(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], rules: Sequence[Rule]
) -> dict[str, str]:
    """Per gated metric both sides hold, why it is not compared when its windows were measured
    against unlike upstreams (params `upstream`, R102): the difference is the mocks'."""
    sides = [_upstreams_by_key(records, rules) for records in (baseline, candidate)]
    found = {key: unlike_words(sides[0][key], sides[1][key]) for key in sides[0].keys() & sides[1]}
    return {key: why for key, why in found.items() if why}


def _upstreams_by_key(
    records: Sequence[RunRecord], rules: Sequence[Rule]
) -> dict[str, list[Mapping[str, Any]]]:
    found: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        for series in record.series:
            if _rule_for(rules, record, series.name) is not None:
                found[record_key(record, series.name)].append(upstream_of(record.params))
    return found


def partial_metrics(records: Sequence[RunRecord], rules: Sequence[Rule]) -> int:
    """How many gated metrics of `records` come from a partial record (cut short)."""
    keys = {record_key(record, series.name) for record in records if record.partial
            for series in record.series if _rule_for(rules, record, series.name)}  # fmt: skip
    return len(keys)


def alias_warnings(aliases: Sequence[Alias]) -> list[str]:
    """One line per pair of names set aside to line the two sides' targets up (the labels
    that carried them named: a launched target is its `target`, `variant` and `subject`)."""
    labels: dict[tuple[str, str], list[str]] = defaultdict(list)
    for alias in aliases:
        named = labels[alias.baseline_value, alias.candidate_value]
        named += [alias.label] if alias.label not in named else []
    return [
        f"each side measured one target under its own name ({', '.join(names)}): {base} "
        f"(baseline) is compared with {cand} (candidate)"
        for (base, cand), names in labels.items()
    ]


def nothing_compared(
    results: Sequence[MetricResult],
    keys: tuple[Mapping[str, object], Mapping[str, object]],
    records: tuple[Sequence[RunRecord], Sequence[RunRecord]],
) -> str:
    """Why no metric was tested ("" when some were): the sides share none (which targets or
    metrics each has), or none shared could be tested (one such, and why)."""
    if any(r.comparison is not None for r in results):
        return ""
    base_keys, cand_keys = keys
    if not base_keys.keys() & cand_keys.keys():
        return (
            "nothing to compare: baseline and candidate share no gated metric; "
            + _what_each_has(records, (sorted(base_keys), sorted(cand_keys)))
        )
    untestable = [r for r in results if r.status in (UNTESTABLE, OTHER_UPSTREAM)]
    example = f"{untestable[0].key}: {untestable[0].note}"
    return f"nothing compared: no shared metric could be tested ({len(untestable)}; {example})"


def _what_each_has(
    records: tuple[Sequence[RunRecord], Sequence[RunRecord]],
    keys: tuple[Sequence[str], Sequence[str]],
) -> str:
    """`targets a vs b` when the two sides measured other targets, else a metric of each."""
    base, cand = ({r.labels["target"] for r in side if "target" in r.labels} for side in records)
    if base and cand and base != cand:
        return f"targets {', '.join(sorted(base))} vs {', '.join(sorted(cand))}"
    if not keys[1]:
        return "no gate rule selects any record of the candidate"
    return f"e.g. {keys[0][0]} vs {keys[1][0]}"


def undecided_warnings(report: GateReport) -> tuple[str, ...]:
    """A warning when worse-looking metrics could not be judged: too few fast-mode runs, or
    one run a side of a metric whose runs flip between machine states."""
    unconfirmed = sum(r.status == UNCONFIRMED for r in report.results)
    warnings = [f"{unconfirmed} metric(s) look worse beyond their thresholds in one run a side, "
                "whose rounds share the machine's state; more runs (--confirm-cmd) can decide"
                ] if unconfirmed else []  # fmt: skip
    if report.undecided:
        warnings.append(
            f"{len(report.undecided)} metric(s) look worse beyond their thresholds but too few "
            "runs of each side fell in the machine's fast state to judge them; more runs "
            "(--confirm-runs) can decide"
        )
    return tuple(warnings)


def rule_priors(
    base: Mapping[str, tuple[Rule, list[list[float]], str]],
    cand: Mapping[str, tuple[Rule, list[list[float]], str]],
) -> dict[Rule, tuple[float, float]]:
    """Per rule, the typical between-run variance of its metrics (measured alike, in the same
    runs), which steadies each metric's own estimate from a handful of runs."""
    spreads: dict[Rule, list[tuple[float, int]]] = defaultdict(list)
    for key, (rule, runs, _) in base.items():
        if rule.series in RATES:  # rates are pooled over runs, not judged run by run
            continue
        if key in cand and runs and cand[key][1] and len(runs) + len(cand[key][1]) >= 3:
            values = run_values(rule, runs), run_values(rule, cand[key][1])
            lower = rule.direction == "lower"
            selection = select_runs(*values, lower_is_better=lower, mode_width=rule.mode_width)
            spreads[rule].append(selection.spread)
    priors = {rule: shared_prior(found) for rule, found in spreads.items()}
    return {rule: prior for rule, prior in priors.items() if prior is not None}


def moment_priors(runs: Sequence[Run], rules: Sequence[Rule]) -> dict[Rule, tuple[float, float]]:
    """Per rule, how much its metrics measured in interleaved rounds (a sweep's judged level)
    move from one moment to the next: the variance of the logs of their rounds' values, pooled
    over those metrics and every run given (`pooled_spread`; fewer than 3 such: none).

    With one run a side this is the noise of each side's value, of every metric of the rule:
    the rounds of a run are moments apart, and a run is one more moment. A difference no larger
    than the machine moves between rounds is not the code's (R40: sfperf's own reference
    gateway "regressed" 11% between two runs of one commit, its rounds 8% apart in each)."""
    spreads: dict[Rule, list[tuple[float, int]]] = defaultdict(list)
    for run in runs:
        for rule, per_round in collect_rounds(run, rules).values():
            if rule.series not in RATES and (spread := moment_spread(run_values(rule, per_round))):
                spreads[rule].append(spread)
    pooled = {rule: pooled_spread(found) for rule, found in spreads.items()}
    return {rule: spread for rule, spread in pooled.items() if spread is not None}


def run_values(rule: Rule, runs: list[list[float]]) -> list[float]:
    """One value per run: the rule's statistic of that run's rounds."""
    return [run_statistic(values, rule.statistic) for values in runs]


def adjust(results: Sequence[MetricResult]) -> list[MetricResult]:
    """Holm-adjust the p-values of the tested metrics, then classify each with its rule."""
    adjusted = iter(holm_adjust([r.comparison.p_value for r in results if r.comparison]))
    out = []
    for result in results:
        if result.comparison is not None:
            p_adjusted = next(adjusted)
            status = classify(result.rule, result.comparison, p_adjusted)
            result = one_run_caveat(replace(result, status=status, p_adjusted=p_adjusted))
        out.append(result)
    return out


def one_run_caveat(result: MetricResult) -> MetricResult:
    """A regression seen in the rounds of one run a side of a metric whose runs flip between a
    fast and a slow machine state (its rule sets `mode_width`) is `unconfirmed`: the rounds of
    a run share its state, so the difference may be the machine's, not the code's."""
    one_run = result.comparison is not None and result.comparison.method == ON_ROUNDS
    if result.status != REGRESSION or not one_run or result.rule.mode_width is None:
        return result
    note = (
        "one run a side, and this metric's runs flip between a fast and a slow machine "
        "state: confirm with more runs (--confirm-cmd, or more --baseline/--candidate dirs)"
    )
    return replace(result, status=UNCONFIRMED, note=note)


def machine_keys(records: Sequence[RunRecord]) -> set[str]:
    """The keys of the speed metrics that measure the machine rather than the code under test:
    those of sfperf's own yardsticks, the same code on both sides (`measures_machine`)."""
    return {record_key(record, series.name) for record in records if measures_machine(record)
            for series in record.series if series.unit in SPEED_UNITS}  # fmt: skip


def measures_machine(record: RunRecord) -> bool:
    """A sweep's reference subjects (a reference gateway, a client, the ceiling) and the micro
    suites' built-in extractors and token providers; never a user's target or plug-in."""
    labels = record.labels
    return (
        labels.get("kind") in REFERENCE_KINDS
        or labels.get("extractor") in EXTRACTORS
        or labels.get("provider") in TOKEN_PROVIDERS
    )


def drift_warnings(
    results: Sequence[MetricResult], machine: set[str], limit: float = DRIFT_LIMIT
) -> list[str]:
    """A warning per runner whose reference measurements (`machine`: keys from `machine_keys`)
    ALL got slower, or all faster, together: the machine may have changed.

    Only the yardsticks' speed says so: a code change moves the code's own metrics (a broken
    gateway's error rates, its latencies), a busier or throttled machine moves every yardstick.
    """
    slowdowns: dict[str, list[float]] = defaultdict(list)
    for result in results:
        comparison = result.comparison
        if result.key in machine and comparison is not None and not math.isnan(comparison.ratio):
            sign = 1.0 if result.rule.direction == "lower" else -1.0
            slowdowns[result.key.split("/", 1)[0]].append(sign * comparison.relative_change)
    return [
        f"every {runner} reference measurement moved together ({abs(median):.0%} "
        f"{'slower' if median > 0 else 'faster'}, median over {len(moved)} speed metrics of "
        "subjects whose code is the same on both sides): the machine's speed may have changed "
        "between the runs; rerun on a quiet machine or use --confirm-cmd"
        for runner, moved in sorted(slowdowns.items())
        if len(moved) >= DRIFT_MIN_METRICS and abs(median := statistics.median(moved)) > limit
    ]


def judge(
    key: str,
    rule: Rule,
    baseline: list[list[float]],
    candidate: list[list[float]] | None,
    unit: str,
    prior: tuple[float, float] | None = None,
    *,
    moment: tuple[float, float] | None = None,
) -> MetricResult:
    """One metric's comparison under `rule` (status UNCHANGED until `adjust` classifies it);
    `prior` moderates a run-level variance (see `rule_priors`); `moment`, the moment-to-moment
    variance of the rule's metrics (`moment_priors`), judges one run a side."""
    if candidate is None:
        return MetricResult(key, rule, MISSING, unit=unit, note="not in the candidate run")
    if not baseline or not candidate:
        side = "baseline" if not baseline else "candidate"
        return MetricResult(key, rule, UNTESTABLE, unit=unit, note=f"no value in the {side}"
                            + (" (no ok reply)" if rule.series in OK_ONLY else ""))  # fmt: skip
    if rule.series in RATES:
        return judge_rate(key, rule, baseline, candidate, unit)
    if len(baseline) + len(candidate) >= 3:
        comparison = compare_runs(
            run_values(rule, baseline),
            run_values(rule, candidate),
            lower_is_better=rule.direction == "lower",
            mode_width=rule.mode_width,
            prior=prior,
        )
        return MetricResult(key, rule, UNCHANGED, comparison, unit)
    base_values, cand_values = baseline[0], candidate[0]
    values = run_statistic(base_values, rule.statistic), run_statistic(cand_values, rule.statistic)
    if moment is not None and min(values) > 0:
        note = "one run a side, each one moment of the machine: more runs can decide"
        return MetricResult(key, rule, UNCHANGED, compare_moments(*values, moment), unit, note)
    if min(len(base_values), len(cand_values)) < MIN_VALUES:
        note = f"needs >= {MIN_VALUES} values per side for a test"
        return MetricResult(key, rule, UNTESTABLE, unit=unit, note=note)
    comparison = compare_samples(base_values, cand_values, resamples=RESAMPLES)
    note = "one run a side: rounds share the machine's state; confirm with more runs"
    return MetricResult(key, rule, UNCHANGED, comparison, unit, note)


def judge_rate(
    key: str, rule: Rule, baseline: list[list[float]], candidate: list[list[float]], unit: str
) -> MetricResult:
    """A 0/1 series (a request answered ok or not) as two rates: every run's observations
    pooled, Fisher's exact test; its thresholds read in points (`max_absolute` 0.01 = 1)."""
    before = [v for run in baseline for v in run]
    after = [v for run in candidate for v in run]
    runs = len(baseline) + len(candidate)
    note = f"{runs} runs pooled" if runs > 2 else ""
    return MetricResult(key, rule, UNCHANGED, compare_rates(before, after), unit, note)


def classify(rule: Rule, comparison: Comparison, p_value: float | None = None) -> str:
    """regression / improvement when significant AND beyond every threshold, else unchanged.

    `p_value` (e.g. Holm-adjusted) replaces the comparison's own when given."""
    p_value = comparison.p_value if p_value is None else p_value
    if p_value >= rule.alpha or math.isnan(comparison.ratio):
        return UNCHANGED
    if is_worse(rule, comparison):
        return REGRESSION
    if is_worse(rule, comparison, better=True):
        return IMPROVEMENT
    return UNCHANGED


def is_worse(rule: Rule, comparison: Comparison, *, better: bool = False) -> bool:
    """Whether the candidate is worse (or, with `better`, better) beyond every threshold."""
    if math.isnan(comparison.ratio):
        return False
    sign = 1.0 if rule.direction == "lower" else -1.0
    sign = -sign if better else sign
    worse_relative = sign * comparison.relative_change
    worse_absolute = sign * (comparison.candidate_median - comparison.baseline_median)
    return _beyond(rule, worse_relative, worse_absolute)


def _beyond(rule: Rule, relative: float, absolute: float) -> bool:
    checks = [relative > rule.max_relative] if rule.max_relative is not None else []
    if rule.max_absolute is not None:
        checks.append(absolute > rule.max_absolute)
    return bool(checks) and all(checks)


def confirm_runs(
    report: GateReport, baseline: Sequence[Run], candidate: Sequence[Run], rules: Sequence[Rule]
) -> GateReport:
    """Judge again on all the evidence (first runs plus reruns): a regression of `report` that
    does not hold across every run becomes `unconfirmed`."""
    final = evaluate_runs(baseline, candidate, rules)
    first = {r.key: r.status for r in report.results}
    runs = f"{len(baseline)} baseline and {len(candidate)} candidate runs"
    results = [
        replace(r, status=UNCONFIRMED, note=f"regressed on the first runs, not across {runs}")
        if first.get(r.key) == REGRESSION and r.status != REGRESSION
        else r
        for r in final.results
    ]
    warnings = tuple(dict.fromkeys(report.warnings + final.warnings))
    return replace(final, results=tuple(results), warnings=warnings)


def confirm_with(
    report: GateReport,
    runs: tuple[Sequence[Run], Sequence[Run]],
    rules: Sequence[Rule],
    remeasure: Callable[[], tuple[Sequence[Run], Sequence[Run]]],
) -> GateReport:
    """Confirm `report` (of `runs`: baseline, candidate) with fresh runs from `remeasure` (new
    baseline runs, new candidate runs), judging on all of them; a second round only while
    the evidence is undecided. Does nothing when no metric looks worse."""
    if not (report.failed or report.suspects):
        return report
    baseline, candidate = list(runs[0]), list(runs[1])
    final = report
    for _ in range(CONFIRM_ROUNDS):
        more_baseline, more_candidate = remeasure()
        baseline, candidate = [*baseline, *more_baseline], [*candidate, *more_candidate]
        final = confirm_runs(report, baseline, candidate, rules)
        if not final.undecided:
            break
    return final


def baseline_path(root: Path, fingerprint: str) -> Path:
    """Where the baseline of one machine lives: `<root>/<fingerprint>/`."""
    return root / fingerprint


def save_baseline(records: Sequence[RunRecord], root: Path, keep: int = HISTORY_RUNS) -> Path:
    """Store `records` as this machine's baseline (atomic) and add them to its history of runs
    (`history/NNNN/`, the newest `keep` kept); returns the baseline directory."""
    import shutil

    from harness.store import save_records

    directory = baseline_path(root, fingerprint_of(records))
    save_records(directory, records)
    history = sorted((directory / "history").glob("[0-9]" * 4))
    number = int(history[-1].name) + 1 if history else 1
    save_records(directory / "history" / f"{number:04d}", records)
    for old in history[: max(0, len(history) + 1 - keep)]:
        shutil.rmtree(old)
    return directory


def baseline_runs(directory: Path) -> list[Path]:
    """The run directories of a stored baseline: its history, or the single latest run."""
    history = sorted(p for p in (directory / "history").glob("[0-9]" * 4) if p.is_dir())
    return history or [directory]
