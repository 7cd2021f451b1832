"""A sweep window's replies judged through the join, as a load run's are.

Every sweep prompt carries a marker (`sweepsubjects.messages`), so after a window its kept
replies are judged against what the upstream really sent for them (`harness.join`), or against
the reply predicted for the request when the journal cannot place them. A measured request whose
reply was judged wrong is not ok: the sweep and the load runner count ok the same way
(`harness.fidelity.answered`). A reply cache's hits found in earlier windows are ok here too
(`harness.join.ReplyMemory`: the judge remembers the windows it judged). A request whose upstream
call met a fault the user's mock injected (`sfperf mock --fault ...` behind `--mock-url`) is
flagged (`Sample.met_fault`) and, when the subject passed the failure on (an error status, no
reply), left out of the tally: the mock's doing, which the sweep's shapes set apart as the load's
ok claims do (R89, review7 B6); a 200 hiding it is still judged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from harness.card.window import journal_since
from harness.fidelity import FidelityTally, ReplyOracle, answer_facts, fetch_oracle
from harness.findings.journal import journal_position
from harness.join import OTHER_PROMPT, ReplyMemory, judge_rows, met_fault_flags
from harness.runners.support.closedloop import NO_REPLY, Window
from harness.runners.support.loadrows import Row
from harness.runners.support.sweepsubjects import Exchange, HttpWindow
from mock_salesforce.markers import find_markers

EXAMPLE_BYTES = 300


class WindowJudge:
    """Judges the replies of the windows of subjects behind the mock at `mock_url`: `start()`
    before a window, `judge(result)` after it."""

    def __init__(self, mock_url: str) -> None:
        self.mock_url = mock_url
        self._since: int | None = None
        self._oracle: ReplyOracle | None = None
        self._memory = ReplyMemory()
        self.upstream_429: int | None = None  # the last window's 429s from the mock (None: unread)
        self.own_429: int | None = None  # of its kept replies, 429s the subject made itself
        self.crossed_uncalled: int | None = None  # crossed replies with no upstream call at all

    def start(self) -> None:
        self._since = journal_position(self.mock_url)

    def judge(self, window: HttpWindow) -> tuple[Window, FidelityTally]:
        """The window with each judged request's `ok` from its verdict and whether it met a
        fault the mock injected, and the tally of kinds (a failure passed on after one left
        out); a request that got no reply counts as `dropped`."""
        journal, _ = journal_since(self.mock_url, self._since)
        exchanges = window.exchanges
        rows = [exchange_row(exchange) for exchange in exchanges]
        result = judge_rows(rows, journal, self.oracle(), self._memory)
        judged = result.rows
        self.upstream_429 = None if journal is None else sum(
            1 for entry in journal if entry.get("status") == 429)  # fmt: skip
        self.own_429 = own_429(exchanges) if self.upstream_429 == 0 else None
        self.crossed_uncalled = None if journal is None else result.reuse.count(OTHER_PROMPT)
        self._memory.remember(rows, journal)
        faulted = met_fault_flags(rows, journal)
        tally = FidelityTally()
        for exchange, row, met in zip(exchanges, judged, faulted, strict=True):
            if met and not 200 <= row.status < 300:  # the mock's failure, passed on: not judged
                continue
            tally.add(row.fidelity, exchange.body[:EXAMPLE_BYTES].decode(errors="replace"))
        for _ in range(window.window.errors):
            tally.add(("dropped",))
        return with_verdicts(window.window, [row.ok for row in judged], faulted), tally

    def oracle(self) -> ReplyOracle | None:
        """The mock's predicted replies, read once (None when its settings cannot be read)."""
        if self._oracle is None:
            try:
                self._oracle = fetch_oracle(self.mock_url)
            except ValueError:
                return None
        return self._oracle


class FaultFlags:
    """Flags the requests of windows whose upstream call met a fault the mock at `mock_url`
    injected, judging nothing else (the ceiling's replies are the mock's own): `start()` before
    a window, `flag(result)` after it."""

    def __init__(self, mock_url: str) -> None:
        self.mock_url = mock_url
        self._since: int | None = None

    def start(self) -> None:
        self._since = journal_position(self.mock_url)

    def flag(self, window: HttpWindow) -> Window:
        journal, _ = journal_since(self.mock_url, self._since)
        rows = [exchange_row(exchange) for exchange in window.exchanges]
        return with_verdicts(window.window, [True] * len(rows), met_fault_flags(rows, journal))


def own_429(exchanges: tuple[Exchange, ...]) -> int:
    """Replies that were 429: with no 429 from the upstream in the window, the subject's own
    limit (judged `wrong_status`, but a limit it holds: R74; with or without a Retry-After,
    R137)."""
    return sum(1 for e in exchanges if e.status == 429)


def exchange_row(exchange: Exchange) -> Row:
    """A kept exchange as the row the join judges (ok: it came back 2xx)."""
    request = json.dumps(exchange.request, separators=(",", ":"))
    markers = find_markers(request.encode())
    status = exchange.status
    return Row(
        "sweep", 0.0, 0.0, 0.0, status, 200 <= status < 300, marker=markers[0] if markers else "",
        answer=answer_facts(exchange.request, status, exchange.body), request=request,
    )  # fmt: skip


def with_verdicts(window: Window, verdicts: Sequence[bool], faulted: Sequence[bool] = ()) -> Window:
    """`window` with every sample whose reply was judged (its tag) ok only if its verdict is,
    and flagged `met_fault` as `faulted` says (per tag, as `verdicts`)."""
    met = list(faulted) or [False] * len(verdicts)
    samples = tuple(
        replace(s, ok=s.ok and verdicts[s.tag], met_fault=met[s.tag])
        if 0 <= s.tag < len(verdicts) and s.status != NO_REPLY
        else s
        for s in window.samples
    )
    return replace(window, samples=samples)
