"""After a load run: its rows joined with the mock's journal, and what the join tells.

Rows are judged against what the upstream really sent (`harness.join`); the gateway's own share
of the latency and how it streams come from the same join (`harness.overhead`); what it did to
the requests (model, endpoint, system text, parameters) becomes a `verdict`/`rewrites` record
(`harness.findings.rewrites`). Without a journal (no mock, or one that would not say), the rows
keep the child's verdict against the predicted reply, and the record says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.findings.grading import findings_record
from harness.findings.rewrites import REWRITE_FINDINGS, Ask, grade_rewrites, rewrite_summary
from harness.join import Joined, judge_rows
from harness.overhead import added_latency_ms, stream_behaviour, stream_timings, upstream_calls
from harness.records import RunRecord, Series, make_series
from harness.runners.support.loadrows import Row

Entry = Mapping[str, Any]


@dataclass(frozen=True)
class LoadJoin:
    """The judged rows, the series and params the load record gains, the rewrites record."""

    rows: tuple[Row, ...]
    series: tuple[Series, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    rewrites: RunRecord | None = None


def join_load(
    rows: Sequence[Row],
    journal: Sequence[Entry] | None,
    *,
    checked: bool,
    ask: Ask,
    labels: Mapping[str, str],
    mock_epoch: Callable[[], float | None],
    journal_lost: bool = False,
    partial: bool = False,
) -> LoadJoin:
    """Join `rows` with `journal` (None: none could be read); `checked`: the child predicted
    replies (a mock was known); `mock_epoch` is asked only when a streamed answer joined;
    `partial`: the run was cut short (the rewrites record says so too)."""
    result = judge_rows(rows, journal, checked=checked)
    params: dict[str, Any] = {"fidelity_basis": dict(result.basis),
                              "journal": _journal_state(journal, journal_lost)}  # fmt: skip
    if not result.joined:
        return LoadJoin(result.rows, params=params)
    series = [
        make_series("added_latency_ms", "ms", added_latency_ms(result.joined)),
        make_series("upstream_calls", "count", upstream_calls(result.joined)),
    ]
    streaming = _streaming(result.joined, mock_epoch, series)
    if streaming:
        params["streaming"] = streaming
    rewrites = _rewrites_record(result.joined, ask, labels, partial or journal_lost)
    return LoadJoin(result.rows, tuple(series), params, rewrites)


def _journal_state(journal: Sequence[Entry] | None, lost: bool) -> str:
    if journal is None:
        return "unavailable"
    return "lost some entries" if lost else "read"


def _streaming(
    joined: Sequence[Joined], mock_epoch: Callable[[], float | None], series: list[Series]
) -> dict[str, Any]:
    """Stream timing series (added to `series`) and the behaviour they show."""
    if not any(j.row.ttft_ms is not None for j in joined):
        return {}
    epoch_s = mock_epoch()
    if epoch_s is None:
        return {"mode": "unknown", "says": "the mock's clock could not be read"}
    timings = stream_timings(joined, epoch_s)
    series.append(make_series("stream_lag_ms", "ms", (t.lag_ms for t in timings)))
    series.append(make_series("stream_spread_ms", "ms", (t.spread_ms for t in timings)))
    return stream_behaviour(timings)


def _rewrites_record(
    joined: Sequence[Joined], ask: Ask, labels: Mapping[str, str], partial: bool
) -> RunRecord:
    calls = {int(c["seq"]): c for j in joined for c in j.calls}
    entries = [calls[seq] for seq in sorted(calls)]
    summary = rewrite_summary(entries, ask)
    labels = dict(labels)
    target = labels.pop("target", "")
    return findings_record(
        grade_rewrites(entries, ask), target, params={"rewrites": summary},
        scenario="rewrites", names=REWRITE_FINDINGS, labels=labels, partial=partial,
    )  # fmt: skip
