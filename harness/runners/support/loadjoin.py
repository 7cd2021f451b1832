"""After a load run: its rows joined with the mock's journal, and what the join tells.

Rows are judged against what the upstream really sent (`harness.join`); the gateway's own share
of the latency and how it streams come from the same join (`harness.overhead`); what it did to
the requests (model, endpoint, system text, parameters) becomes a `verdict`/`rewrites` record
(`harness.findings.rewrites`). Rows the journal cannot place are judged against the reply
predicted from their request as sent; the record says how many rows were judged which way.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.card.measures import in_flight_at_end, top_errors
from harness.fidelity import ReplyOracle
from harness.findings.grading import findings_record, most_severe_first
from harness.findings.mock_faults import injected
from harness.findings.rewrites import (
    DUPLICATED,
    REWRITE_FINDINGS,
    ROLE_LOST,
    Ask,
    grade_rewrites,
    rewrite_summary,
)
from harness.findings.routes import calls_by_route, other_upstream_calls
from harness.join import (
    CACHE_HIT,
    OTHER_PROMPT,
    Joined,
    JoinResult,
    ReplyMemory,
    calls_by_marker,
    judge_rows,
    met_fault_flags,
    user_text_changed,
)
from harness.overhead import added_latency_ms, stream_behaviour, stream_timings, upstream_calls
from harness.records import RunRecord, Series, make_series
from harness.runners.support.loadrows import UNSENT, Row, answered, asked_stream, no_reply
from harness.runners.support.phases import PhaseSpan, calm_requests
from mock_salesforce.replies import prompt_texts

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
    oracle: Callable[[], ReplyOracle | None],
    labels: Mapping[str, str],
    mock_epoch: Callable[[], float | None],
    journal_lost: bool = False,
    partial: bool = False,
    phases: Sequence[PhaseSpan] = (),
    model_upstream: str = "",
    memory: ReplyMemory | None = None,
) -> LoadJoin:
    """Join `rows` with `journal` (None: none could be read). `oracle` (the mock's predicted
    replies, None: no mock) is asked once, for rows no call carries and whether the calls carried
    the client's own last user message; `mock_epoch` only when a streamed answer joined;
    `partial`: the run was cut short (the rewrites record says so too); `phases`: the ones the
    scenario walked the mock through, if any (see `calm_series`);
    `model_upstream`: the Models API model the target's listing says the asked one stands for;
    `memory`: what the target's earlier windows showed (this window is added to it)."""
    predictions = oracle() if rows else None
    result = judge_rows(rows, journal, predictions, memory)
    if memory is not None:
        memory.remember(rows, journal)
    params: dict[str, Any] = {"fidelity_basis": dict(result.basis),
                              "journal": _journal_state(journal, journal_lost)}  # fmt: skip
    series = calm_series(result.rows, phases, journal, params)
    series += fault_series(result.rows, journal, params)
    series += reuse_series(result, whole=journal is not None and not journal_lost)
    if not result.joined:
        return LoadJoin(result.rows, tuple(series), params=params)
    series.append(make_series("added_latency_ms", "ms", added_latency_ms(result.joined)))
    streaming = _streaming(result.joined, mock_epoch, series)
    if streaming:
        params["streaming"] = streaming
    ask = replace(ask_of(result.joined), stands_for=model_upstream or None)
    changed = user_text_changed(result.joined, predictions)
    # Requests in flight at the window's end made their calls in it too.
    sent = sum(1 for row in rows if row.error != UNSENT) + in_flight_at_end(journal or (), rows)
    rewrites = _rewrites_record(result.joined, ask, labels, partial or journal_lost, changed,
                                window=(journal or (), sent))  # fmt: skip
    return LoadJoin(result.rows, tuple(series), params, rewrites)


def reuse_series(result: JoinResult, *, whole: bool) -> list[Series]:
    """With the whole window's journal read: `upstream_calls` (per request answered 200 or
    joined to a call: how many Models calls it made, 0 for a reply with none), `reply_cache_hit`
    (0/1 per 200 answer: the upstream's reply to an earlier request with the same prompt, no
    call of its own) and `crossed_uncalled` (count: `crossed` replies that made no call: a reply
    cache keyed on less than the prompt, not a race). With part of it, `upstream_calls` of the
    joined requests only: a request whose call was lost from the ring did make one."""
    joined = {id(j.row): len(j.calls) for j in result.joined}
    if not whole:
        return [make_series("upstream_calls", "count", upstream_calls(result.joined))] if (
            result.joined) else []  # fmt: skip
    counted = [(r, how) for r, how in zip(result.rows, result.reuse, strict=True)
                if r.status == 200 or id(r) in joined]  # fmt: skip
    if not counted:
        return []
    return [
        make_series("upstream_calls", "count", (float(joined.get(id(r), 0)) for r, _ in counted)),
        make_series("reply_cache_hit", "count",
                    (float(how == CACHE_HIT) for r, how in counted if r.status == 200)),
        make_series("crossed_uncalled", "count", [float(result.reuse.count(OTHER_PROMPT))]),
    ]  # fmt: skip


def fault_series(
    rows: Sequence[Row], journal: Sequence[Entry] | None, params: dict[str, Any]
) -> list[Series]:
    """With calls of the window hit by a fault the mock injected (a user's `sfperf mock
    --fault`, or a scenario's): `met_fault` (0/1 per request: one of its upstream calls met one;
    the ok claims set those apart, R89) and, in `params`, `met_faults` (`requests`, `answered`,
    the faults by kind, what the client got by status). None without such a call."""
    flags = met_fault_flags(rows, journal)
    if not any(flags):
        return []
    calls = calls_by_marker(journal or ())
    hit = [row for row, met in zip(rows, flags, strict=True) if met]
    params["met_faults"] = {
        "requests": len(hit),
        "answered": sum(map(answered, hit)),
        "faults": dict(Counter(fault for r in hit for fault in injected(calls[r.marker]))),
        "statuses": dict(Counter(str(r.status) for r in hit)),
    }
    return [make_series("met_fault", "count", (float(met) for met in flags))]


def calm_series(
    rows: Sequence[Row],
    phases: Sequence[PhaseSpan],
    journal: Sequence[Entry] | None,
    params: dict[str, Any],
) -> list[Series]:
    """With `phases`: `calm_answered` (0/1 per request that met a calm upstream: did it get the
    upstream's answer), `fault_status` (the status each request that met the faults got, 0:
    no reply), `fault_error_in_200` (0/1 per 200 reply of those: was it error text) and, in
    `params`, `calm_errors`: the calm requests that failed with a reply (those left without
    one are in `no_reply_errors` already)."""
    if not phases:
        return []
    calm = calm_requests(rows, phases, journal)
    calm_ids = {id(r) for r in calm}
    met_faults = [r for r in rows if id(r) not in calm_ids]
    params["calm_errors"] = top_errors([r for r in calm if not answered(r) and not no_reply(r)])
    params["phases"] = [{"name": p.name, "start_s": p.start_s, "calm": p.calm,
                         "injects": p.injects} for p in phases]  # fmt: skip
    return [
        make_series("calm_answered", "count", (float(answered(r)) for r in calm)),
        make_series("fault_status", "code", (r.status for r in met_faults)),
        make_series("fault_error_in_200", "count",
                    (float("error_in_200" in r.fidelity) for r in met_faults if r.status == 200)),
    ]  # fmt: skip


def ask_of(joined: Sequence[Joined]) -> Ask:
    """What the client asked, read from the first joined request as sent."""
    request = next((r for r in (_request(j.row) for j in joined) if r), {})
    messages = request.get("messages")
    if not isinstance(messages, list):
        return Ask(str(request.get("model", "")), "completions")
    system = [str(m.get("content")) for m in messages
              if isinstance(m, dict) and m.get("role") == "system"]  # fmt: skip
    return Ask(str(request.get("model", "")), "chat-completions", "\n".join(system) or None)


def _with_roles(call: Entry, row: Row) -> Entry:
    """`call`, marked with what its journaled prompt digest tells of the client's messages as
    sent: `DUPLICATED` (every one twice, or the history twice before the last, R136), or
    `ROLE_LOST` (a chat call with no system message that sent every text of the client's
    request in order, its system message's included, R122)."""
    if call.get("endpoint") != "chat-generations":
        return call
    request = _request(row)
    texts = prompt_texts("chat-generations", request)
    sent = call.get("content_sha256")
    if len(texts) > 1 and sent in (_digest(texts * 2), _digest(texts[:-1] * 2 + texts[-1:])):
        return {**call, DUPLICATED: True}
    messages = request.get("messages")
    system = isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") == "system" for m in messages
    )
    if system and call.get("system_text") is None and sent == _digest(texts):
        return {**call, ROLE_LOST: True}
    return call


def _digest(texts: Sequence[str]) -> str:
    """The journal's `content_sha256` of a request sending `texts`."""
    return hashlib.sha256("\n".join(texts).encode("utf-8", "surrogatepass")).hexdigest()


def _request(row: Row) -> dict[str, Any]:
    try:
        request = json.loads(row.request) if row.request else {}
    except ValueError:
        return {}
    return request if isinstance(request, dict) else {}


def _journal_state(journal: Sequence[Entry] | None, lost: bool) -> str:
    if journal is None:
        return "unavailable"
    return "lost some entries" if lost else "read"


def _streaming(
    joined: Sequence[Joined], mock_epoch: Callable[[], float | None], series: list[Series]
) -> dict[str, Any]:
    """Stream timing series (added to `series`) and the behaviour they show."""
    if not any(j.row.ttft_ms is not None for j in joined):
        return _unstreamed(joined)
    epoch_s = mock_epoch()
    if epoch_s is None:
        return {"mode": "unknown", "says": "the mock's clock could not be read"}
    timings = stream_timings(joined, epoch_s)
    series.append(make_series("stream_lag_ms", "ms", (t.lag_ms for t in timings)))
    series.append(make_series("stream_spread_ms", "ms", (t.spread_ms for t in timings)))
    series.append(make_series("stream_gap_ms", "ms", (t.gap_ms for t in timings if t.chunks > 1)))
    return stream_behaviour(timings)


def _unstreamed(joined: Sequence[Joined]) -> dict[str, Any]:
    """How a gateway that streamed nothing answered the requests that asked for a stream."""
    whole = sum(1 for j in joined if j.row.answer is not None and not j.row.answer.streamed)
    if not whole:
        return {}
    asked = sum(1 for j in joined if asked_stream(j.row))
    return {
        "mode": "not-streamed",
        "requests": whole,
        "says": (
            f"answered {whole} of the {asked} requests that asked for a stream with one whole JSON "
            "reply: it does not stream (an OpenAI client iterating the stream reads no text)"
        ),
    }


def _rewrites_record(
    joined: Sequence[Joined],
    ask: Ask,
    labels: Mapping[str, str],
    partial: bool,
    changed: Sequence[Entry] = (),
    window: tuple[Sequence[Entry], int] = ((), 0),
) -> RunRecord:
    """`verdict/rewrites` of the joined calls, and of the `window`'s whole journal with its
    client request count: every call by route, the calls to routes the mock does not serve."""
    calls = {int(c["seq"]): _with_roles(c, j.row) for j in joined for c in j.calls}
    entries = [calls[seq] for seq in sorted(calls)]
    summary = rewrite_summary(entries, ask) | {"routes": calls_by_route(*window)}
    findings = [*grade_rewrites(entries, ask, changed), other_upstream_calls(*window)]
    labels = dict(labels)
    target = labels.pop("target", "")
    return findings_record(
        most_severe_first(findings), target, params={"rewrites": summary},
        scenario="rewrites", names=REWRITE_FINDINGS, labels=labels, partial=partial,
    )  # fmt: skip
