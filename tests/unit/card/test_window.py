"""A window's observation: what lay between its start and its end, never more."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.card.measures import card_record
from harness.card.window import SETTLE_POLL_S, MockJournal, WindowObserver
from harness.runners.support.loadrows import Row
from harness.targets.resources import GroupResources
from tests.conftest import FakeClock
from tests.unit.card.test_credentials import jwt


def observe(*reports: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The io of a window whose start and end snapshots were `reports`."""
    answers = iter(reports)
    observer = WindowObserver("steady-closed", io_snapshot=lambda label: next(answers))
    observer.start()
    return observer.finish().io


START_UP = {"files": {"/s/config.json": {"opens": 1, "reads": 1}}}
LATER = {"files": {"/s/config.json": {"opens": 1, "reads": 1}, "/s/token.json": {"opens": 3}}}


def test_the_files_a_window_opened_are_the_end_snapshot_less_the_start_one() -> None:
    io = observe(START_UP, LATER)
    assert io is not None and io["files"] == {"/s/token.json": {"opens": 3}}


def test_without_a_start_snapshot_the_window_has_no_file_counts_rather_than_start_ups() -> None:
    assert observe(None, LATER) is None
    assert observe(START_UP, None) is None


class OncePerRequestGateway:
    """A target that opens its config file once per request as the request arrives, then
    calls the upstream, which journals the call when it ends `latency_s` later (as the mock
    does): at the load's end, calls are in flight whose opens are already counted."""

    def __init__(self, clock: FakeClock, latency_s: float) -> None:
        self.clock, self.latency_s = clock, latency_s
        self.calls: list[tuple[int, float, str]] = []  # (seq, ends at, marker)

    def serve(self, marker: str) -> None:
        self.calls.append((len(self.calls) + 1, self.clock() + self.latency_s, marker))

    def io_snapshot(self, label: str) -> Mapping[str, Any]:
        opens = len(self.calls)
        return {"files": {"/gw/gw.yaml": {"opens": opens, "reads": opens, "writes": 0}}}

    def journal(self) -> MockJournal:
        def done(since: int | None) -> list[tuple[int, float, str]]:
            return [c for c in self.calls if c[0] > (since or 0) and c[1] <= self.clock()]

        def since(url: str, seq: int | None) -> tuple[tuple[Mapping[str, Any], ...], bool]:
            entries = ({"seq": s, "endpoint": "chat-generations", "markers": [m]}
                       for s, _, m in done(seq))  # fmt: skip
            return tuple(entries), False

        def unfinished(url: str, seq: int) -> list[int]:
            return [s for s, end_s, _ in self.calls if s > seq and end_s > self.clock()]

        return MockJournal(position=lambda url: len(self.calls), since=since,
                           unfinished=unfinished)  # fmt: skip


def test_a_file_opened_once_per_request_is_one_open_per_request_served_with_calls_in_flight(
) -> None:  # fmt: skip
    clock = FakeClock(100.0)
    gateway = OncePerRequestGateway(clock, latency_s=1.5)
    observer = WindowObserver("steady-open", "http://mock", io_snapshot=gateway.io_snapshot,
                              clock=clock, sleep=clock.sleep,
                              journal=gateway.journal())  # fmt: skip
    observer.start()
    rows: list[Row] = []
    for index in range(40):  # one arrival every 0.25 s: six calls in flight at the end
        gateway.serve(f"m{index}")
        clock.sleep(0.25)
        rows += [Row("chat", 0.0, 0.0, 1500.0, 200, True, marker=m)
                 for _, end_s, m in gateway.calls[len(rows):] if end_s <= clock()]  # fmt: skip
    observation = observer.finish()
    record = card_record(observation, rows, target="t", scenario="steady-open")
    opens, served = (record.get(n).values[0] for n in ("config_file_opens", "requests_served"))
    assert (len(rows), opens, served) == (35, 40.0, 40.0)
    assert observation.params["calls_in_flight"] == 0


def test_a_window_waits_no_longer_than_its_settle_time_for_a_call_that_hangs() -> None:
    clock = FakeClock()
    gateway = OncePerRequestGateway(clock, latency_s=3600.0)
    observer = WindowObserver("faults-closed", "http://mock", io_snapshot=gateway.io_snapshot,
                              clock=clock, sleep=clock.sleep, journal=gateway.journal(),
                              settle_s=5.0)  # fmt: skip
    observer.start()
    gateway.serve("m0")
    assert observer.finish().params["calls_in_flight"] == 1
    assert 5.0 <= clock() < 5.0 + SETTLE_POLL_S * 2


def test_a_file_the_target_opened_that_holds_the_token_it_sent_is_marked_as_holding_it(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.db"
    with sqlite3.connect(state) as db:
        db.execute("create table kv (k text, v text)")
        db.execute("insert into kv values ('token', ?)", (jwt("jti-7"),))
    db.close()
    snapshots: list[Mapping[str, Any]] = [
        {"files": {}},
        {"files": {str(state): {"opens": 9, "reads": 9}}},
    ]
    counts = iter(snapshots)
    sent = ({"seq": 3, "endpoint": "chat-generations", "token_id": "jti-7"},)
    journal = MockJournal(position=lambda url: 2, since=lambda url, seq: (sent, False),
                          unfinished=lambda url, seq: [])  # fmt: skip
    observer = WindowObserver("steady-closed", "http://mock", journal=journal,
                              io_snapshot=lambda label: next(counts))  # fmt: skip
    observer.start()
    io = observer.finish().io
    assert io is not None and io["files"][str(state)] == {"opens": 9, "reads": 9, "holds_token": 1}


def test_a_windows_memory_and_descriptors_are_read_at_its_start_and_end() -> None:
    held = iter([GroupResources(40_000, 6, 2), GroupResources(55_000, 149, 2)])
    observer = WindowObserver("steady-closed", resources=lambda: next(held))
    observer.start()
    record = card_record(observer.finish(), [], target="gw", scenario="steady-closed")
    assert record.get("rss_growth_kb").values == (15_000.0,)
    assert record.get("open_fds_growth").values == (143.0,)
    assert record.get("open_fds").values == (149.0,)


def test_a_target_whose_processes_cannot_be_read_has_no_growth_series() -> None:
    held = iter([None, GroupResources(55_000, 149, 2)])
    observer = WindowObserver("steady-closed", resources=lambda: next(held))
    observer.start()
    record = card_record(observer.finish(), [], target="gw", scenario="steady-closed")
    assert "rss_growth_kb" not in record.series_names
