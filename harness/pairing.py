"""Line up the records of two runs, or of the two targets of one run, and compare each metric.

Records pair by runner, scenario and labels. Those left without an identical partner pair once
the labels that name what was measured are set aside: when, within a runner and scenario, each
side's leftovers share one value of a label (each side measured one target) and the two values
differ, that label is named and ignored, so `load/steady[target=flask-app]` lines up with
`load/steady[target=quart-app]`. Scalar parameters that differ between partners are named too.
Each metric is compared by `harness.changes` (what it measures decides how; a verdict needs
significance and a minimum effect); the sweep level by level, with levels where the sweep's
own client was the limit said so rather than judged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from harness.changes import (
    BETTER,
    HIGHER,
    LOWER,
    NO_CLEAR_CHANGE,
    SMALL_CHANGE,
    WORSE,
    Change,
    compare_closed_loop_throughput,
    compare_metric,
    compare_ok_percentile,
    minimum_effect,
    series_kind,
)
from harness.records import RunRecord
from harness.saturation import (
    LevelPoint,
    Saturation,
    level_points,
    measured_level,
    saturations,
)

if TYPE_CHECKING:  # the gate imports this module: its rules are for annotations only
    from harness.gate import Rule

# Parameters that name where or how a target (or its mock) was reached, or what observing it
# cost the harness: not what load it was given.
IGNORED_PARAMS = frozenset({
    "target_url", "locust_command", "target_metrics", "fidelity", "mock_url", "observer_s",
    "warm_up_s", "raw_rows", "calls_in_flight", "machine_load", "in_flight",
})  # fmt: skip
CLIENT_BOUND = "client-bound"
# Labels that name the gateway measured (a launched target, a reference variant, a sweep subject).
TARGET_LABELS = frozenset({"target", "variant", "subject"})
# Compared first in a pair: whether it worked, how much, how fast.
LEADING_SERIES = ("ok", "throughput_rps", "latency_ms")

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
    for base_left, cand_left in _leftovers(base, cand).values():
        pairs += _pair_targets(base_left, cand_left)
    return pairs


def unpaired(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]
) -> tuple[list[str], list[str]]:
    """The sources (`runner/scenario[labels]`) one side measured that `pair_records` lines up
    with nothing of the other: what the candidate lacks of the baseline, and the reverse."""
    pairs = pair_records(baseline, candidate)
    paired = {id(r) for pair in pairs for r in (*pair.baseline, *pair.candidate)}

    def left(records: Sequence[RunRecord]) -> list[str]:
        keys = (_source_key(r) for r in records if id(r) not in paired)
        return sorted(dict.fromkeys(keys))

    return left(baseline), left(candidate)


def _source_key(record: RunRecord) -> str:
    labels = ",".join(f"{k}={v}" for k, v in sorted(record.labels.items()))
    return f"{record.runner}/{record.scenario}[{labels}]"


@dataclass(frozen=True)
class Alias:
    """A label the candidate's records of one runner and scenario take from the baseline's, so
    that one target lines up with one as `pair_records` pairs them (`target: a → b`)."""

    runner: str
    scenario: str
    label: str
    baseline_value: str
    candidate_value: str

    def applies_to(self, record: RunRecord) -> bool:
        return (record.runner, record.scenario) == (self.runner, self.scenario) and (
            record.labels.get(self.label) == self.candidate_value
        )


def target_aliases(
    baseline: Sequence[RunRecord],
    candidate: Sequence[RunRecord],
    labels: Collection[str] = TARGET_LABELS,
) -> list[Alias]:
    """The labels set aside to pair the records no identical partner took (`pair_records`),
    as renamings of the candidate's values, for tools that key metrics by every label; only
    `labels` may be set aside (a benchmark case renamed is another case, not another target)."""
    aliases = []
    for (runner, scenario), (base, cand) in _leftovers(
        _grouped(baseline), _grouped(candidate)
    ).items():
        aliases += [
            Alias(runner, scenario, name, base[0].labels[name], cand[0].labels[name])
            for name in identity_labels(base, cand)
            if name in labels
        ]
    return aliases


def aliased(records: Iterable[RunRecord], aliases: Sequence[Alias]) -> list[RunRecord]:
    """`records` with every alias that applies to one given its baseline value."""
    renamed = []
    for record in records:
        labels = dict(record.labels)
        for alias in (a for a in aliases if a.applies_to(record)):
            labels[alias.label] = alias.baseline_value
        renamed.append(replace(record, labels=labels) if labels != record.labels else record)
    return renamed


def _grouped(
    records: Iterable[RunRecord], ignored: Iterable[str] = ()
) -> dict[LabelKey, list[RunRecord]]:
    groups: dict[LabelKey, list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[label_key(record, ignored)].append(record)
    return groups


def _leftovers(
    base: Mapping[LabelKey, list[RunRecord]], cand: Mapping[LabelKey, list[RunRecord]]
) -> dict[tuple[str, str], tuple[list[RunRecord], list[RunRecord]]]:
    """Per runner and scenario, each side's records whose labels the other side lacks."""
    sources: dict[tuple[str, str], tuple[list[RunRecord], list[RunRecord]]] = defaultdict(
        lambda: ([], [])
    )
    for side, (groups, other) in enumerate(((base, cand), (cand, base))):
        for key in sorted(groups.keys() - other.keys()):
            sources[key[0], key[1]][side].extend(groups[key])
    return sources


def _pair_targets(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord]) -> list[Pair]:
    """One runner and scenario's leftovers, paired by the labels each side holds one value of."""
    identity = identity_labels(baseline, candidate)
    if not identity:
        return []
    base_groups, cand_groups = _grouped(baseline, identity), _grouped(candidate, identity)
    named = tuple(f"{k}: {baseline[0].labels[k]} → {candidate[0].labels[k]}" for k in identity)
    return [
        _pair(base_groups[key], cand_groups[key], named, identity)
        for key in sorted(base_groups.keys() & cand_groups.keys())
    ]


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


def compare_series(pair: Pair, series: str, rules: Sequence[Rule] = ()) -> Change | None:
    """One metric of a pair, compared as `harness.changes` says (None: not a metric)."""
    return compare_metric(pair.baseline, pair.candidate, series, rules)


def shared_series(pair: Pair) -> list[str]:
    """Metrics every record of both sides holds: whether it worked, throughput and latency
    first, then the rest in the order of the first baseline record (context left out)."""
    records = (*pair.baseline, *pair.candidate)
    names = [n for n in pair.baseline[0].series_names if series_kind(n) != "context"]
    shared = [n for n in names if all(n in r.series_names for r in records)]
    lead = [n for n in LEADING_SERIES if n in shared]
    return lead + [n for n in shared if n not in lead]


# -- the sweep, level by level -----------------------------------------------------------------


@dataclass(frozen=True)
class SweepRow:
    """One concurrency level of a pair of sweep subjects: ok throughput and the p99 of ok
    replies, compared; error rates side by side and `ok`, the ok rates compared as rates (an
    error rate moving is a change in kind, never sized by a throughput threshold); CPU ms per
    request side by side."""

    subject: str
    concurrency: int
    upstream_latency_ms: str
    throughput: Change
    p99: Change
    error_rate: tuple[float, float]
    cpu_ms_per_request: tuple[float | None, float | None] = (None, None)
    ok: Change | None = None  # None: a side has no per-request `ok` (runs saved before it)


LevelKey = tuple[str, str, int]


def sweep_rows(
    baseline: Sequence[RunRecord], candidate: Sequence[RunRecord], rules: Sequence[Rule] = ()
) -> list[SweepRow]:
    """Throughput and p99 per level for every pair of sweep subjects, lowest level first (a
    level a side measured nothing at is left out)."""
    base_points, cand_points = _points_by_level(baseline), _points_by_level(candidate)
    rows = []
    for pair in pair_records(_sweep(baseline), _sweep(candidate)):
        base = base_points.get(_level_key(pair.baseline[0]))
        cand = cand_points.get(_level_key(pair.candidate[0]))
        if base is not None and cand is not None:
            rows.append(_sweep_row(pair, base, cand, rules))
    return sorted(rows, key=lambda r: (r.subject, r.upstream_latency_ms, r.concurrency))


def _sweep_row(pair: Pair, base: LevelPoint, cand: LevelPoint, rules: Sequence[Rule]) -> SweepRow:
    record = pair.baseline[0]
    throughput = compare_closed_loop_throughput(
        pair.baseline, pair.candidate, minimum_effect(record, "throughput_rps", rules)
    )
    p99 = compare_ok_percentile(
        pair.baseline,
        pair.candidate,
        "latency_ms",
        99.0,
        minimum_effect(record, "latency_ms", rules),
    )
    held = (base.client_bound, cand.client_bound)
    return SweepRow(
        subject=subject_text(pair),
        concurrency=base.concurrency,
        upstream_latency_ms=pair.labels.get("upstream_latency_ms", ""),
        throughput=held_back(throughput, *held),
        p99=held_back(p99, *held),
        error_rate=(base.error_rate, cand.error_rate),
        cpu_ms_per_request=(base.cpu_ms_per_request, cand.cpu_ms_per_request),
        ok=compare_metric(pair.baseline, pair.candidate, "ok", rules),
    )


def errors_text(ok: Change | None) -> str:
    """`errors 0.0% → 60.0%: worse`: the level's error rates and the verdict on them as rates
    (Newcombe's interval, a point at least); "" when not compared."""
    if ok is None:
        return ""
    return f"errors {1 - ok.baseline:.1%} → {1 - ok.candidate:.1%}: {ok.verdict}"


def held_back(change: Change, baseline_held: bool, candidate_held: bool) -> Change:
    """A verdict at a level where the sweep's client was the limit of a side: that side may do
    better than measured, so only a verdict in its favour stands; any other is `client-bound`."""
    if change.verdict not in (BETTER, WORSE, HIGHER, LOWER, NO_CLEAR_CHANGE, SMALL_CHANGE):
        return change
    stands = (not baseline_held or change.verdict == WORSE) and (
        not candidate_held or change.verdict == BETTER
    )
    if stands:
        return change
    sides = [n for n, held in (("baseline", baseline_held), ("candidate", candidate_held)) if held]
    note = (
        f"the sweep's own client was the limit for the {' and the '.join(sides)} at this level, "
        "so the subject's own figure was not reached"
    )
    return replace(change, verdict=CLIENT_BOUND, note=note)


def _points_by_level(records: Sequence[RunRecord]) -> dict[LevelKey, LevelPoint]:
    return {
        (subject, upstream, point.concurrency): point
        for (subject, upstream), points in level_points(records).items()
        for point in points
    }


def _level_key(record: RunRecord) -> LevelKey:
    labels = record.labels
    concurrency = int(float(labels.get("concurrency", "0")))
    return labels.get("subject", "?"), labels.get("upstream_latency_ms", ""), concurrency


def _sweep(records: Iterable[RunRecord]) -> list[RunRecord]:
    return [r for r in records if measured_level(r)]


def subject_text(pair: Pair) -> str:
    """The subject compared: `name`, or `a → b` when the pair sets the subject label aside."""
    if "subject" in pair.labels:
        return pair.labels["subject"]
    return f"{pair.baseline[0].labels.get('subject')} → {pair.candidate[0].labels.get('subject')}"


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
