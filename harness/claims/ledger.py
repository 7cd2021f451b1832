"""The claim ledger: TOML claims parsed into typed, validated objects.

A ledger is a list of `[[claim]]` tables. A measured claim names a metric (a query over
RunRecords) and an expectation; a consistency claim names an arithmetic expression over the
figures the source states; a sample-size claim asks what a reported percentage says about the
number of observations behind it. Every error names the claim and the key (UsageError).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.files import read_toml

KINDS = ("measured", "consistency", "sample-size")
STATISTICS = ("rate", "mean", "median", "sum", "max", "ratio_of_sums", "percentile")
# candidate/baseline as is, 1 - it (reduction), it - 1 (gain), baseline/candidate - 1 (speedup).
TRANSFORMS = ("ratio", "reduction", "gain", "speedup")
WHERE_OPS = ("==", "!=", "<=", ">=", "<", ">")


@dataclass(frozen=True)
class Expectation:
    """The region a claim's value must lie in: [low, high] (either end may be infinite)."""

    low: float
    high: float
    wording: str

    def describe(self, unit: str) -> str:
        """`at most 0 requests`, `15% to 25%`: the region in the claim's unit."""
        return _percent_wording(self) if unit == "fraction" else f"{self.wording} {unit}".rstrip()


SCENARIO_JOIN = "+"  # a claim on several scenarios names them joined: `steady+streaming`


@dataclass(frozen=True)
class MetricQuery:
    """Which records, which series and which statistic; optionally a ratio of two variants."""

    runner: str
    scenario: str
    series: tuple[str, ...]
    statistic: str
    labels: Mapping[str, str] = field(default_factory=dict)
    where: tuple[str, float] | None = None
    denominator: tuple[str, ...] = ()
    quantile: float = 50.0
    baseline: Mapping[str, str] | None = None
    candidate: Mapping[str, str] | None = None
    transform: str = "ratio"
    at_max: str | None = None
    chances: Chances | None = None
    unless: tuple[Unless, ...] = ()

    @property
    def is_ratio(self) -> bool:
        return self.baseline is not None


@dataclass(frozen=True)
class Chances:
    """What could have shown a claim wrong: the observations of `series` (those that satisfy
    `where`, or its total when there is no `where`) in the records a claim selects. None of them
    leaves "no error text in a 200" with nothing to check, not true."""

    series: str
    where: tuple[str, float] | None = None
    what: str = ""  # how the report says it: "replies came back 200"

    def describe(self, seen: float, of: int) -> str:
        what = self.what or f"observations of {self.series}"
        return f"{seen:g} of {of} {what}" if self.where is not None else f"{seen:g} {what}"


@dataclass(frozen=True)
class Unless:
    """Observations set apart: those of a per-observation series whose `series` value (0/1, one
    per observation, in the same record) is nonzero, such as the requests that met a fault a
    user's own mock injected (R89) or that an open loop never sent (R115); records without
    `series` keep every observation. A claim may set apart several kinds, each said apart."""

    series: str
    what: str = ""  # how the report says them: "requests met a fault the mock injected"


@dataclass(frozen=True)
class Claim:
    """One quantitative claim of a source document and how to check it."""

    id: str
    text: str
    expect: Expectation
    kind: str = "measured"
    source_file: str = ""
    quote: str = ""
    workload: str = ""
    unit: str = ""
    note: str = ""
    metric: MetricQuery | None = None
    expression: str = ""
    inputs: Mapping[str, float] = field(default_factory=dict)
    reported: float = 0.0
    digits: int = 4


@dataclass(frozen=True)
class Ledger:
    title: str
    source: str
    claims: tuple[Claim, ...]


def compared_values(ledger: Ledger, runner: str, label: str) -> set[str]:
    """The values of `label` on either side of the ledger's ratio claims over `runner`'s
    records: e.g. the sweep subjects some claim compares."""
    sides = [
        side
        for claim in ledger.claims
        if claim.metric is not None and claim.metric.runner == runner
        for side in (claim.metric.baseline, claim.metric.candidate)
        if side is not None
    ]
    return {side[label] for side in sides if label in side}


def default_ledger_path() -> Path:
    """The seed report's ledger shipped with sfperf (`scenarios/claims/seed.toml`)."""
    from scenarios import scenario_path

    return scenario_path("claims", "seed.toml")


def load_ledger(path: Path) -> Ledger:
    """Parse and validate the ledger at `path`."""
    return parse_ledger(read_toml(path, "claim ledger"), str(path))


def parse_ledger(data: Mapping[str, Any], origin: str = "ledger") -> Ledger:
    """A Ledger from already-decoded TOML data."""
    header = data.get("ledger", {})
    raw_claims = data.get("claim", [])
    if not isinstance(raw_claims, list) or not raw_claims:
        raise UsageError(f"{origin}: no [[claim]] tables")
    claims = tuple(
        parse_claim(raw, f"{origin}: claim #{i + 1}") for i, raw in enumerate(raw_claims)
    )
    ids = [c.id for c in claims]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"{origin}: duplicate claim ids {duplicates}")
    return Ledger(str(header.get("title", "")), str(header.get("source", "")), claims)


def parse_claim(raw: Mapping[str, Any], where: str) -> Claim:
    """One `[[claim]]` table -> Claim."""
    claim_id = _text(raw, "id", where)
    where = f"{where} ({claim_id})"
    kind = str(raw.get("kind", "measured"))
    if kind not in KINDS:
        raise UsageError(f"{where}: kind must be one of {KINDS}, not {kind!r}")
    source = raw.get("source", {})
    claim = Claim(
        id=claim_id,
        text=_text(raw, "text", where),
        kind=kind,
        expect=parse_expectation(raw.get("expect"), where),
        source_file=str(source.get("file", "")) if isinstance(source, dict) else str(source),
        quote=str(source.get("quote", "")) if isinstance(source, dict) else "",
        workload=str(raw.get("workload", "")),
        unit=str(raw.get("unit", "")),
        note=str(raw.get("note", "")),
    )
    return _with_kind_fields(claim, raw, where)


def _with_kind_fields(claim: Claim, raw: Mapping[str, Any], where: str) -> Claim:
    from dataclasses import replace

    if claim.kind == "measured":
        if not claim.workload:
            raise UsageError(f"{where}: a measured claim needs 'workload' (how to measure it)")
        return replace(claim, metric=parse_metric(raw.get("metric"), where))
    if claim.kind == "consistency":
        inputs = raw.get("inputs", {})
        if not isinstance(inputs, dict) or not all(_is_number(v) for v in inputs.values()):
            raise UsageError(f"{where}: 'inputs' must be a table of numbers")
        values = {str(k): float(v) for k, v in inputs.items()}
        return replace(claim, expression=_text(raw, "expression", where), inputs=values)
    reported = raw.get("reported")
    if not isinstance(reported, int | float) or isinstance(reported, bool):
        raise UsageError(f"{where}: a sample-size claim needs a numeric 'reported' fraction")
    return replace(claim, reported=float(reported), digits=int(raw.get("digits", 4)))


def parse_metric(raw: Any, where: str) -> MetricQuery:
    """A `[claim.metric]` table -> MetricQuery."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: a measured claim needs a [claim.metric] table")
    statistic = str(raw.get("statistic", ""))
    quantile = 50.0
    if statistic.startswith("p") and statistic[1:].replace(".", "", 1).isdigit():
        statistic, quantile = "percentile", float(statistic[1:])
    if statistic not in STATISTICS:
        raise UsageError(f"{where}: metric.statistic must be one of {STATISTICS} or pNN")
    transform = str(raw.get("transform", "ratio"))
    if transform not in TRANSFORMS:
        raise UsageError(f"{where}: metric.transform must be one of {TRANSFORMS}")
    baseline, candidate = raw.get("baseline"), raw.get("candidate")
    if (baseline is None) != (candidate is None):
        raise UsageError(f"{where}: a ratio metric needs both 'baseline' and 'candidate' labels")
    query = MetricQuery(
        runner=_text(raw, "runner", where),
        scenario=_scenario(raw, where),
        series=_names(raw.get("series"), where, "series"),
        statistic=statistic,
        labels=_labels(raw.get("labels", {}), where),
        where=_parse_where(raw.get("where"), where),
        denominator=_names(raw.get("denominator", []), where, "denominator", required=False),
        quantile=quantile,
        baseline=None if baseline is None else _labels(baseline, where),
        candidate=None if candidate is None else _labels(candidate, where),
        transform=transform,
        at_max=str(raw["at_max"]) if "at_max" in raw else None,
        chances=_parse_chances(raw.get("chances"), where),
        unless=_parse_unless(raw.get("unless"), where),
    )
    if statistic == "ratio_of_sums" and not query.denominator:
        raise UsageError(f"{where}: statistic ratio_of_sums needs 'denominator'")
    return query


def parse_expectation(raw: Any, where: str) -> Expectation:
    """`{at_least = x}`, `{at_most = x}`, `{within = x, tolerance = t}` or `{between = [a, b]}`."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: needs an 'expect' table (at_least/at_most/within/between)")
    if _is_number(raw.get("at_least")):
        value = float(raw["at_least"])
        return Expectation(value, float("inf"), f"at least {value:g}")
    if _is_number(raw.get("at_most")):
        value = float(raw["at_most"])
        return Expectation(float("-inf"), value, f"at most {value:g}")
    if _is_number(raw.get("within")) and _is_number(raw.get("tolerance")):
        value, tolerance = float(raw["within"]), abs(float(raw["tolerance"]))
        return Expectation(value - tolerance, value + tolerance, f"{value:g} ± {tolerance:g}")
    bounds = raw.get("between")
    if isinstance(bounds, list) and len(bounds) == 2 and all(_is_number(b) for b in bounds):
        low, high = sorted(float(b) for b in bounds)
        return Expectation(low, high, f"between {low:g} and {high:g}")
    raise UsageError(f"{where}: 'expect' must give at_least, at_most, within+tolerance or between")


def _percent_wording(expect: Expectation) -> str:
    low, high = expect.low * 100, expect.high * 100
    if expect.high == float("inf"):
        return f"at least {low:.4g}%"
    if expect.low == float("-inf"):
        return f"at most {high:.4g}%"
    return f"{low:.4g}% to {high:.4g}%"


def _parse_unless(raw: Any, where: str) -> tuple[Unless, ...]:
    """`unless = "series"`, `{series = "met_fault", what = "..."}`, or a list of those."""
    if raw is None:
        return ()
    return tuple(_one_unless(item, where) for item in (raw if isinstance(raw, list) else [raw]))


def _one_unless(raw: Any, where: str) -> Unless:
    if isinstance(raw, str) and raw:
        return Unless(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("series"), str):
        raise UsageError(
            f"{where}: metric.unless must be a series name, a table with 'series', or a list "
            "of those"
        )
    return Unless(raw["series"], str(raw.get("what", "")))


def _parse_chances(raw: Any, where: str) -> Chances | None:
    """`chances = "series"` or `{series = "status", where = "== 200", what = "..."}`."""
    if raw is None:
        return None
    if isinstance(raw, str) and raw:
        return Chances(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("series"), str):
        raise UsageError(f"{where}: metric.chances must be a series name or a table with 'series'")
    return Chances(raw["series"], _parse_where(raw.get("where"), where), str(raw.get("what", "")))


def _parse_where(raw: Any, where: str) -> tuple[str, float] | None:
    if raw is None:
        return None
    text = str(raw).strip()
    for op in sorted(WHERE_OPS, key=len, reverse=True):
        rest = text.removeprefix(op).strip()
        if text.startswith(op) and _is_number_text(rest):
            return op, float(rest)
    raise UsageError(f"{where}: metric.where must look like '== 1' or '<= 2', not {text!r}")


def _names(raw: Any, where: str, key: str, *, required: bool = True) -> tuple[str, ...]:
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise UsageError(f"{where}: metric.{key} must be a series name or a list of names")
    if required and not names:
        raise UsageError(f"{where}: metric.{key} is required")
    return tuple(names)


def _labels(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: labels must be a table of label = value")
    return {str(k): _label_value(v) for k, v in raw.items()}


def _label_value(value: Any) -> str:
    # TOML numbers become label strings; matching compares numerically when both sides are numbers.
    return f"{value:g}" if isinstance(value, float) else str(value)


def _scenario(raw: Mapping[str, Any], where: str) -> str:
    """`scenario`: one name, `*`, or a list of names (kept joined by `+`: `steady+streaming`)."""
    value = raw.get("scenario")
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return SCENARIO_JOIN.join(value)
    return _text(raw, "scenario", where)


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: '{key}' must be a non-empty string")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
