"""The raw per-request rows of a load run: one tab-separated line per request.

The locust child writes them (one file per writing process, see `scenarios/load/_sfperf.py`);
the load runner reads them back and turns them into RunRecords. Pure code, no locust import, so
both sides share one definition of the format. Times are epoch seconds (`time.time()`) so rows
from several processes or hosts line up.

Columns: name, intended_s, start_s, response_ms, status, ok, ttft_ms, itl_ms (`;`-joined),
fidelity kinds (`,`-joined), error, body (the first `BODY_CHARS` characters of a reply that was
not ok or reads like an error, a JSON error's message first: `quote_body`, so the report can
quote what the target said), then what the load runner judges the
answer with once the run is over (`harness.join`): the request's marker, the answer's facts
(text sha256, finish reason, usage `prompt,completion,total` with a part empty when not an int
and the column empty when there was no usage), flags (`e` error object, `i` incomplete stream,
`x` error-like text, `n` usage not asked, `j` one whole JSON completion answered a request for
a stream; `f` the scenario injects faults at random, so any
error status may be right; `-` none), the request body as sent (compact JSON), and the reply's
`Retry-After` header ("" without one). Rows of older runs stop after error (10 columns), body
(11) or the request (17). A request its user was stopped waiting for has error `IN_FLIGHT`;
`read_rows` settles those (`settle_in_flight`). An open loop's scheduled request that no user
was free to send has error `UNSENT`, status 0, and the wait from its intended start to the
window's end as its latency (`start_s` is the end: it never left).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.fidelity import KINDS as FIDELITY_KINDS
from harness.fidelity import AnswerFacts, Usage
from harness.records import Series, make_series

ROW_FILE_GLOB = "requests-*.tsv"
BODY_CHARS = 200
_COLUMNS = 20
# before bodies were kept; the join's columns; Retry-After; the client's connection (R101)
_OLDER_COLUMNS = (10, 11, 17, 18)
_FLAGS = (("e", "error"), ("i", "incomplete"), ("x", "error_text"), ("n", "usage_unasked"),
          ("j", "unstreamed"), ("m", "mojibake"), ("b", "broken_characters"),
          ("s", "split_characters"), ("r", "raw_text"), ("w", "without_done"))  # fmt: skip
FAULTS_FLAG = "f"


@dataclass(frozen=True)
class Row:
    """One request as the client saw it."""

    name: str
    intended_s: float  # planned start (open loop); equal to start_s in closed loop
    start_s: float  # when the request was actually sent
    response_ms: float  # from send to the last byte (or the error)
    status: int  # HTTP status; 0 when no reply came (connection error, timeout)
    ok: bool
    ttft_ms: float | None = None  # streaming: send to first content chunk
    itl_ms: tuple[float, ...] = ()  # streaming: gaps between content chunks
    fidelity: tuple[str, ...] = ()  # mismatch kinds found by the fidelity check
    error: str = ""
    body: str = ""  # the start of the reply when it was not ok
    marker: str = ""  # the request's marker (`mock_salesforce.markers`), "" when it had none
    answer: AnswerFacts | None = None  # what the join judges; None when the answer was not read
    request: str = ""  # the request body as sent (JSON): a reply is predicted from it if need be
    errors_allowed: bool = False  # faults were injected at random: an error status may be right
    retry_after: str = ""  # the reply's Retry-After header, "" without one
    # The client's connection: the time it took to open a new one for this request (None: it
    # reused one), and whether the reply said the target closes it after (`Connection: close`).
    connect_ms: float | None = None
    closed: bool = False

    @property
    def latency_ms(self) -> float:
        """Latency counted from the intended start, so a late send shows as latency."""
        return self.response_ms + self.send_lag_ms

    @property
    def send_lag_ms(self) -> float:
        """How late the request left against its plan (open loop; 0 in closed loop)."""
        return max(0.0, self.start_s - self.intended_s) * 1000.0

    @property
    def end_s(self) -> float:
        return self.start_s + self.response_ms / 1000.0


# Transport errors that mean the client stopped waiting (its own timeout, `LoadPlan.timeout_s`),
# not that the target hung up: a slow reply is not a dropped one.
CLIENT_TIMEOUTS = frozenset({"TimeoutError", "timeout", "Timeout", "ConnectionTimeout"})


def quote_body(payload: bytes) -> str:
    """The start of a reply for the report (`BODY_CHARS`): a JSON error's message first when
    the body would cut it (it often sits after a page of details), then the body as sent."""
    text = payload.decode("utf-8", "replace")
    message = error_message(text)
    if message and message not in text[:BODY_CHARS]:
        text = f"{message} | {text}"
    return text[:BODY_CHARS]


_MESSAGE_KEYS = ("message", "error_description", "detail", "error")


def error_message(text: str) -> str:
    """The message of a JSON error body (`error.message`, `message`, `error_description`,
    `detail`, or `error` as text); "" when it has none."""
    try:
        document = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    nested = document.get("error")
    for where in (nested, document) if isinstance(nested, dict) else (document,):
        found = next((where[k] for k in _MESSAGE_KEYS if isinstance(where.get(k), str)), "")
        if found:
            return str(found)
    return ""


# A request still waiting for its reply when its user was stopped (the window's end, or a
# ramp-down): the locust child writes it with this error and the time it had waited so far.
IN_FLIGHT = "InFlight"
# One of those that had waited `HELD_FACTOR` times as long as the slowest reply of its window
# (and `HELD_MIN_MS`): the target held it, a request left without a reply (R64). The others are
# the window's cut: a request sent near the end of a few slow replies may outwait them all.
HELD = "Held"
HELD_FACTOR = 3.0
HELD_MIN_MS = 2000.0
# An open loop's scheduled request no user was free to send before the window ended (each was
# waiting on the target): not ok, and not the target's to answer (R90).
UNSENT = "Unsent"


@dataclass(frozen=True)
class InFlight:
    """The requests a window's end found still waiting: how many, how many of them the target
    held (`HELD`), the longest wait, and the wait beyond which one counts as held; in an open
    loop, the starts due that no user had taken (`UNSENT` rows): how many were left out as the
    window's cut (`due`), overdue by less than `overdue_after_ms`."""

    requests: int = 0
    held: int = 0
    longest_wait_ms: float = 0.0
    held_after_ms: float = HELD_MIN_MS
    due: int = 0
    overdue_after_ms: float = HELD_MIN_MS


def settle_in_flight(rows: Sequence[Row]) -> tuple[list[Row], InFlight]:
    """The rows a window's statistics count: a request in flight at its end is kept as `HELD`
    (no reply, its wait as its latency) when it waited `HELD_FACTOR` times as long as the
    slowest reply and `HELD_MIN_MS`; one that waited less is the window's cut, left out like a
    request never sent. An open loop's start no user took (`UNSENT`) is kept (not ok) when it
    was overdue by `HELD_FACTOR` times the fastest reply and `HELD_MIN_MS`: the target's stall
    kept it unsent; one due a moment ago, while its user read a reply, is the cut (R90)."""
    waiting = [r for r in rows if r.error == IN_FLIGHT]
    due = [r for r in rows if r.error == UNSENT]
    sent = [r for r in rows if r.error not in (IN_FLIGHT, UNSENT)]
    held_after_ms = max([HELD_MIN_MS, *(HELD_FACTOR * r.latency_ms for r in sent)])
    held = [replace(r, error=HELD) for r in waiting if r.latency_ms > held_after_ms]
    # The fastest reply, not a typical one: under a stall every later reply queued too.
    fastest_ms = min((r.response_ms for r in sent), default=0.0)
    overdue_after_ms = max(HELD_MIN_MS, HELD_FACTOR * fastest_ms)
    overdue = [r for r in due if r.latency_ms > overdue_after_ms]
    kept = sorted([*sent, *overdue, *held], key=lambda r: r.intended_s)
    longest_ms = max((r.latency_ms for r in waiting), default=0.0)
    return kept, InFlight(len(waiting), len(held), round(longest_ms, 1), round(held_after_ms, 1),
                          len(due) - len(overdue), round(overdue_after_ms, 1))  # fmt: skip


def no_reply(row: Row) -> bool:
    """Whether the client was left with no reply at all: the connection closed, reset or
    refused, or the target held the request past the window's end (`HELD`); not the client's
    own timeout, nor a request the client never sent (`UNSENT`)."""
    return row.status == 0 and row.error not in CLIENT_TIMEOUTS and row.error != UNSENT


def unsent(rows: Iterable[Row]) -> int:
    """The open loop's scheduled requests no user was free to send (`UNSENT`)."""
    return sum(1 for row in rows if row.error == UNSENT)


def schedule_kept(rows: Sequence[Row], in_flight: InFlight) -> dict[str, int]:
    """An open loop's schedule over a window: the requests it `scheduled` (every row, and those
    the window's end cut), those never sent that count as not ok (`unsent`) or were left out as
    the cut (`due`), and those sent and still `waiting` at its end (the cut)."""
    waiting = in_flight.requests - in_flight.held
    return {"scheduled": len(rows) + waiting + in_flight.due, "unsent": unsent(rows),
            "due": in_flight.due, "waiting": waiting}  # fmt: skip


def client_replies(rows: Iterable[Row]) -> dict[str, tuple[int, str]]:
    """What the client got for each marked request: its status and `Retry-After` header (none
    for a request still waiting at the window's end: the client had nothing yet)."""
    return {
        row.marker: (row.status, row.retry_after)
        for row in rows
        if row.marker and row.error not in (IN_FLIGHT, HELD)
    }


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def format_row(row: Row) -> str:
    """The row as one line (with its newline)."""
    fields = (
        _clean(row.name),
        f"{row.intended_s:.6f}",
        f"{row.start_s:.6f}",
        f"{row.response_ms:.3f}",
        str(row.status),
        "1" if row.ok else "0",
        "" if row.ttft_ms is None else f"{row.ttft_ms:.3f}",
        ";".join(f"{v:.3f}" for v in row.itl_ms),
        ",".join(row.fidelity),
        _clean(row.error)[:200],
        _clean(row.body)[:BODY_CHARS],
        row.marker,
        *_answer_columns(row.answer, row.errors_allowed),
        row.request,
        _clean(row.retry_after)[:40],
        "" if row.connect_ms is None else f"{row.connect_ms:.3f}",
        "1" if row.closed else "",
    )
    return "\t".join(fields) + "\n"


def _answer_columns(answer: AnswerFacts | None, errors_allowed: bool) -> tuple[str, str, str, str]:
    if answer is None:
        return "", "", "", ""
    usage = (
        "" if answer.usage is None else ",".join("" if n is None else str(n) for n in answer.usage)
    )
    states = {"error": answer.error, "incomplete": not answer.complete,
              "error_text": answer.error_text, "usage_unasked": not answer.usage_asked,
              "unstreamed": not answer.streamed, "mojibake": answer.mojibake,
              "broken_characters": answer.broken_characters,
              "split_characters": answer.split_characters, "raw_text": not answer.sse,
              "without_done": answer.without_done}  # fmt: skip
    flags = "".join(letter for letter, state in _FLAGS if states[state])
    flags += FAULTS_FLAG if errors_allowed else ""
    return answer.text_sha256, _clean(answer.finish_reason)[:40], usage, flags or "-"


def _answer_of(text_sha256: str, finish: str, usage: str, flags: str) -> AnswerFacts | None:
    if not flags:
        return None  # no answer was read (a row of another kind of user, or an older row)
    counts: Usage | None = None
    if usage:
        prompt, completion, total = (int(v) if v else None for v in usage.split(","))
        counts = (prompt, completion, total)
    return AnswerFacts(
        text_sha256, finish, counts, error="e" in flags, complete="i" not in flags,
        error_text="x" in flags, usage_asked="n" not in flags, streamed="j" not in flags,
        mojibake="m" in flags, broken_characters="b" in flags, split_characters="s" in flags,
        sse="r" not in flags, without_done="w" in flags,
    )  # fmt: skip


def parse_row(line: str) -> Row:
    """The Row a `format_row` line holds; ValueError when the line is not one."""
    fields = line.rstrip("\n").split("\t")
    if len(fields) in _OLDER_COLUMNS:
        fields += [""] * (_COLUMNS - len(fields))
    if len(fields) != _COLUMNS:
        raise ValueError(f"expected {_COLUMNS} tab-separated fields, got {len(fields)}")
    name, intended, start, response, status, ok, ttft, itl, fidelity, error, body = fields[:11]
    return Row(
        name=name,
        intended_s=float(intended),
        start_s=float(start),
        response_ms=float(response),
        status=int(status),
        ok=ok == "1",
        ttft_ms=float(ttft) if ttft else None,
        itl_ms=tuple(float(v) for v in itl.split(";")) if itl else (),
        fidelity=tuple(fidelity.split(",")) if fidelity else (),
        error=error,
        body=body,
        marker=fields[11],
        answer=_answer_of(*fields[12:16]),
        request=fields[16],
        errors_allowed=FAULTS_FLAG in fields[15],
        retry_after=fields[17],
        connect_ms=float(fields[18]) if fields[18] else None,
        closed=fields[19] == "1",
    )


def parse_rows(lines: Iterable[str]) -> Iterator[Row]:
    """Rows from lines, skipping a torn last line (a process killed mid-write)."""
    for line in lines:
        if not line.endswith("\n"):
            return
        try:
            yield parse_row(line)
        except ValueError:
            continue


def read_rows(directory: Path) -> list[Row]:
    """Every row of every per-process file in `directory` that the window's statistics count
    (`settle_in_flight`), in order of intended start."""
    return read_window(directory)[0]


def read_window(directory: Path) -> tuple[list[Row], InFlight]:
    """The rows of `directory` a window counts, and what was in flight at its end."""
    rows: list[Row] = []
    for path in sorted(directory.glob(ROW_FILE_GLOB)):
        with path.open(encoding="utf-8") as handle:
            rows.extend(parse_rows(handle))
    return settle_in_flight(rows)


def throughput_rps(rows: Sequence[Row]) -> float:
    """Completed requests per second over the span from the first planned start to the last end
    (requests never sent, `UNSENT`, left out)."""
    rows = [r for r in rows if r.error != UNSENT]
    if not rows:
        return 0.0
    span_s = max(r.end_s for r in rows) - min(r.intended_s for r in rows)
    return len(rows) / span_s if span_s > 0 else 0.0


def asked_stream(row: Row) -> bool:
    """Whether the request asked for a stream (`"stream": true` in the body as sent)."""
    try:
        request = json.loads(row.request) if row.request else None
    except ValueError:
        return False
    return isinstance(request, dict) and request.get("stream") is True


def answered(row: Row) -> bool:
    """A 200 with the upstream's answer: ok, or wrong in its token usage alone (a defect of its
    own, counted by `fidelity_usage_mismatch`, so a claim on answers does not count it again)."""
    return row.ok or (row.status == 200 and not row.error and set(row.fidelity) == _USAGE_ONLY)


_USAGE_ONLY = {"usage_mismatch"}


def row_series(rows: Sequence[Row]) -> tuple[Series, ...]:
    """The per-request series of internals.md (load), plus `t_s`, `status` and `send_lag_ms`.

    `send_lag_ms` shows when the load generator itself fell behind its open-loop schedule
    (too few users for the rate): that wait is in `latency_ms` too, and is not the target's.
    """
    first_s = min((r.intended_s for r in rows), default=0.0)
    series = [
        make_series("latency_ms", "ms", (r.latency_ms for r in rows)),
        make_series("send_lag_ms", "ms", (r.send_lag_ms for r in rows)),
        make_series("ok", "count", (1.0 if r.ok else 0.0 for r in rows)),
        make_series("answered", "count", (1.0 if answered(r) else 0.0 for r in rows)),
        # Whose fate the window's end decided, not a reply: the answers claims set them apart.
        make_series("unsent", "count", (float(r.error == UNSENT) for r in rows)),
        make_series("held", "count", (float(r.error == HELD) for r in rows)),
        make_series("t_s", "s", (r.intended_s - first_s for r in rows)),
        make_series("status", "code", (r.status for r in rows)),
        make_series("throughput_rps", "rps", (throughput_rps(rows),)),
    ]
    ttft = [r.ttft_ms for r in rows if r.ttft_ms is not None]
    if ttft:
        series.append(make_series("ttft_ms", "ms", ttft))
        series.append(make_series("itl_ms", "ms", (v for r in rows for v in r.itl_ms)))
    # Per request that asked for a stream: did its text come back as one (timed chunks)?
    streamed = [float(r.ttft_ms is not None) for r in rows if asked_stream(r)]
    if streamed:
        series.append(make_series("streamed", "count", streamed))
    # Every kind gets a series, zero included, so a claim "no wrong content under load" finds
    # its series even when nothing went wrong.
    counts = Counter(kind for r in rows for kind in r.fidelity)
    for kind in sorted(set(FIDELITY_KINDS) | set(counts)):
        series.append(make_series(f"fidelity_{kind}", "count", (counts[kind],)))
    series.append(make_series("no_reply", "count", (sum(map(no_reply, rows)),)))
    return tuple(series)
