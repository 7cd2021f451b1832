"""Which requests of a run met a calm upstream, by the phases its scenario walked the mock
through and the faults the journal shows on their calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.runners.support.loadrows import Row
from harness.runners.support.phases import (
    PhaseSpan,
    calm_requests,
    fault_phases_untested,
    faults_unmet,
    not_exercised,
    read_phases,
    self_answered,
    write_phases,
)

SPANS = (PhaseSpan("calm", 100.0, True), PhaseSpan("503 outage", 110.0, False),
         PhaseSpan("calm", 120.0, True), PhaseSpan("hangs", 130.0, True))  # fmt: skip


def sent(start_s: float, marker: str, response_ms: float = 500.0) -> Row:
    return Row("chat", start_s, start_s, response_ms, 500, False, marker=marker)


def call(marker: str, fault: str | None) -> dict[str, Any]:
    return {"endpoint": "chat-generations", "markers": [marker], "fault": fault}


def test_a_request_is_calm_when_sent_and_answered_inside_one_calm_phase() -> None:
    rows = [sent(101.0, "a"), sent(109.8, "edge"), sent(111.0, "outage"), sent(121.0, "b"),
            sent(99.0, "before")]  # fmt: skip
    assert [r.marker for r in calm_requests(rows, SPANS, [])] == ["a", "b"]


def test_a_request_whose_upstream_call_met_an_aimed_fault_is_not_calm() -> None:
    rows = [sent(131.0, "hung", 3000.0), sent(131.5, "after")]
    journal = [call("hung", "hang"), call("hung", None), call("after", None)]
    assert [r.marker for r in calm_requests(rows, SPANS, journal)] == ["after"]


def test_a_request_that_never_went_upstream_is_judged_by_its_phase_alone() -> None:
    assert [r.marker for r in calm_requests([sent(125.0, "cache")], SPANS, None)] == ["cache"]


def test_phases_written_beside_the_rows_read_back_and_none_when_there_are_none(
    tmp_path: Path,
) -> None:
    write_phases(tmp_path, SPANS)
    assert read_phases(tmp_path) == SPANS
    assert read_phases(tmp_path / "elsewhere") == ()


def test_a_request_whose_own_call_was_spared_in_a_fault_phase_met_a_calm_upstream() -> None:
    spared = sent(111.0, "spared")  # the 429 burst hits half the calls; not this one's
    assert calm_requests([spared], SPANS, [call("spared", None)]) == [spared]


def test_the_phases_no_upstream_call_reached_are_named_when_a_stall_held_every_client() -> None:
    # R64: the target's last Models call at t=2.7 s of the mock's clock (epoch 100 + t_s); its
    # token fetch later does not count as exercising a phase.
    journal = [{"endpoint": "chat-generations", "t_s": t} for t in (0.5, 1.2, 2.7)]
    journal += [{"endpoint": "token", "t_s": 25.0}]
    spans = (*SPANS[:3], PhaseSpan("hangs", 130.0, False), PhaseSpan("calm", 135.0, True))
    assert not_exercised(spans, journal, 100.0) == ["503 outage", "calm 2", "hangs", "calm 3"]
    assert not_exercised(SPANS, [{"endpoint": "chat-generations", "t_s": t}
                                 for t in (1.0, 11.0, 21.0, 31.0)], 100.0) == []  # fmt: skip


def test_a_fault_phase_whose_calls_were_all_refused_first_is_named_with_what_they_got() -> None:
    # R116: a never-refreshed token: from 2.8 s on every call is refused 401 before the mock
    # applies the phase's fault; no 503 and no hang was ever met.
    spans = (PhaseSpan("calm", 100.0, True), PhaseSpan("503 outage", 110.0, False, True),
             PhaseSpan("calm", 120.0, True), PhaseSpan("hangs", 130.0, True, True),
             PhaseSpan("429 burst", 140.0, False, True))  # fmt: skip

    def entry(t_s: float, status: int, fault: str | None = None) -> dict[str, Any]:
        return {"endpoint": "chat-generations", "t_s": t_s, "status": status, "fault": fault}

    journal = [entry(1.0, 200), *(entry(11.0 + i, 401) for i in range(3)), entry(21.0, 401),
               entry(31.0, 401), entry(32.0, 200, "hang")]  # fmt: skip
    assert faults_unmet(spans, journal, 100.0) == ["503 outage (401 x3)"]
    # The 429 burst had no call at all: not_exercised names it; both count as untested.
    assert not_exercised(spans, journal, 100.0) == ["429 burst"]
    assert fault_phases_untested(spans, journal, 100.0) == 2
    assert fault_phases_untested(SPANS, journal, 100.0) == 0  # phases written before `injects`


def test_a_phase_the_target_answered_all_alone_is_told_from_one_that_held_its_clients() -> None:
    # R141: an open circuit breaker answered 502 at once through calm 3 and the hangs; nobody
    # waited, yet the card said "its clients all waiting on it".
    spans = (PhaseSpan("calm", 100.0, True), PhaseSpan("calm", 110.0, True),
             PhaseSpan("hangs", 120.0, True, True))  # fmt: skip
    breaker = "no eligible provider (salesforce: circuit breaker is open)"
    body = f'{{"error": {{"message": "{breaker}", "type": "NoEligibleProviderError"}}}}'
    refused = [Row("chat", t, t, 2.0, 502, False, body=body) for t in (111.0, 112.0, 113.0)]
    waiting = [Row("chat", 121.0, 121.0, 9000.0, 0, False, error="InFlight")]
    said = self_answered(spans, [*refused, *waiting], ["calm 2", "hangs"])
    assert said == [f"calm 2 (502 x3 of 3: {breaker})"]
    assert self_answered(spans, refused, ["hangs"]) == []  # it made calls in calm 2
