"""What `sfperf load` prints after its summary."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.commands.load import (
    faults_summary,
    in_flight_summary,
    joined_summary,
    print_findings,
    rate_not_held,
)
from harness.findings.grading import RETRY_FINDINGS, findings_record
from harness.records import RunRecord, capture_environment, make_series


def test_a_gateway_that_never_refreshes_its_token_is_told_why_every_request_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One token fetched at start-up (before the window), then only sends of it once expired.
    sends = [{"seq": n, "request_id": f"r{n}", "endpoint": "chat-generations", "t_s": float(n),
              "status": 401, "token_id": "t1", "token_status": "expired"}
             for n in range(1, 6)]  # fmt: skip
    (tmp_path / "journal-gw.jsonl").write_text("".join(json.dumps(e) + "\n" for e in sends))
    graded = findings_record([], "gw", scenario="retries", names=RETRY_FINDINGS,
                             labels={"window": "resilience-closed"},
                             artifacts=["journal-gw.jsonl"])  # fmt: skip
    print_findings([graded], tmp_path)
    said = capsys.readouterr().out
    assert said.startswith("FAIL expired_token x5 (resilience-closed): never refreshed its token")
    assert "refresh before `exp` (and on a 401)" in said


def test_the_summary_says_what_the_target_held_at_the_windows_end_and_not_its_ordinary_cut() -> (
    None
):
    def load(in_flight: dict[str, float]) -> RunRecord:
        return RunRecord("load", "steady", {"in_flight": in_flight}, capture_environment(), ())

    held = {"requests": 4, "held": 4, "longest_wait_ms": 7700.0, "held_after_ms": 1000.0}
    assert in_flight_summary(load(held)) == (
        "; 4 held without a reply at the window's end (waiting up to 7.7 s, over 3 times any reply)"
    )
    cut = {"requests": 2, "held": 0, "longest_wait_ms": 90.0, "held_after_ms": 1000.0}
    assert in_flight_summary(load(cut)) == "; 2 in flight at the end, not counted"


def test_an_added_latency_the_clocks_cannot_resolve_is_said_so_never_printed_negative() -> None:
    # R91: a Go gateway "added p50 -0.1 ms".
    def load(added_ms: list[float]) -> RunRecord:
        series = (make_series("added_latency_ms", "ms", added_ms),)
        params = {"fidelity_basis": {"upstream": 3, "predicted": 0, "unchecked": 0}}
        return RunRecord("load", "steady", params, capture_environment(), series)

    assert joined_summary(load([-0.3, -0.052, 0.4])) == (
        "; judged against the upstream: 3 of 3, "
        "gateway added p50 under 1 ms (the join's resolution)"
    )
    assert joined_summary(load([2.0, 2.3, 9.0])).endswith("gateway added p50 2.3 ms")


def test_the_summary_says_apart_what_the_requests_that_met_injected_faults_were_answered() -> None:
    met = {"requests": 22, "answered": 0, "faults": {"500": 22}, "statuses": {"502": 22}}
    faulty = RunRecord("load", "steady", {"met_faults": met}, capture_environment(), ())
    assert faults_summary(faulty) == (
        "; 22 requests met a fault the mock injected (500 x22), answered 502 x22"
    )
    assert faults_summary(RunRecord("load", "steady", {}, capture_environment(), ())) == ""


def test_an_open_loop_the_target_fell_behind_says_how_many_scheduled_requests_had_no_reply() -> (
    None
):
    # R90: 5 users at 20 req/s on a target serving one at a time.
    def load(kept: dict[str, int]) -> RunRecord:
        params = {"open_loop": kept, "users": 5, "rate_rps": 20.0, "duration_s": 5.0,
                  "in_flight": {"longest_wait_ms": 4800.0, "overdue_after_ms": 3600.0}}  # fmt: skip
        labels = {"target": "gw", "mode": "open"}
        return RunRecord("load", "steady", params, capture_environment(), (), labels)

    said = rate_not_held(load({"scheduled": 101, "unsent": 60, "due": 32, "waiting": 5}))
    assert said.startswith("steady -> gw (open): the rate was not held: 4 of 101 scheduled "
                           "requests had a reply within the window; 5 were still waiting at its "
                           "end (up to 4.8 s), not counted; 92 were never sent, every one of "
                           "the 5 users still waiting on the target: the 60 overdue by more "
                           "than 3.6 s count as not ok")  # fmt: skip
    assert said.endswith("5 users keep 20 req/s through a stall of 0.25 s at most (--users 100 "
                         "outlast one the length of the window)")  # fmt: skip
    behind = rate_not_held(load({"scheduled": 101, "unsent": 0, "waiting": 97}))
    assert behind.startswith("steady -> gw (open): the target fell behind the rate: 4 of 101")
    assert rate_not_held(load({"scheduled": 100, "unsent": 0, "waiting": 1})) == ""  # the cut
    # A target that keeps up with 1 s replies has 20 in flight at 20 req/s: the usual cut.
    slow = load({"scheduled": 100, "unsent": 0, "due": 2, "waiting": 15})
    slow = replace(slow, series=(make_series("latency_ms", "ms", [1000.0] * 83),))
    assert rate_not_held(slow) == ""
