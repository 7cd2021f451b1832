"""Grouping journal entries into logical calls, and the retry findings, on synthetic journals."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from harness.findings import GradingPolicy, grade_journal
from harness.findings.calls import client_host, group_calls
from harness.findings.grading import RETRY_FINDINGS, grade_retries
from harness.findings.model import Finding
from harness.findings.retries import with_client_replies

POLICY = GradingPolicy()


class Journal:
    """Builds journal entries like the mock's: seq and request ids assigned in order."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, t_s: float, **fields: Any) -> dict[str, Any]:
        seq = len(self.entries) + 1
        entry = {
            "seq": seq, "request_id": f"r{seq}", "t_s": t_s, "endpoint": "chat-generations",
            "model": "sfdc_ai__DefaultGPT4OmniMini", "client": f"127.0.0.1:{40000 + seq}",
            "body_sha256": "body-a", "token_id": "tok-1", "token_status": "valid",
            "token_expires_t_s": 1800.0, "status": 200, "shape": "official", "fault": None,
            "latency_ms": 10.0, "retry_after_s": None, "app_context": "EinsteinGPT",
            "feature_id": "ai-platform-models-connected-app", "extra_fields": [],
            "duration_s": 0.01, "disconnected": False,
        } | fields  # fmt: skip
        self.entries.append(entry)
        return entry

    def names(self) -> set[str]:
        return {f.name for f in grade_journal(self.entries, POLICY)}


def test_client_host_drops_the_port_of_ipv4_and_ipv6_peers() -> None:
    assert client_host("127.0.0.1:5123") == "127.0.0.1"
    assert client_host("[::1]:5123") == "::1"
    assert client_host("::1") == "::1"
    assert client_host(None) == ""


def test_a_resend_after_a_failure_from_another_port_is_a_retry_of_the_same_call() -> None:
    journal = Journal()
    journal.add(0.0, status=503)
    journal.add(1.0)
    calls = group_calls(journal.entries, window_s=60.0)
    assert [len(c.attempts) for c in calls] == [2]


def test_the_same_body_after_a_success_starts_a_new_call() -> None:
    journal = Journal()
    journal.add(0.0)
    journal.add(1.0)
    assert [len(c.attempts) for c in group_calls(journal.entries, 60.0)] == [1, 1]


def test_a_resend_sent_before_the_failure_was_answered_is_a_separate_call() -> None:
    journal = Journal()
    journal.add(0.0, status=503, duration_s=2.0)
    journal.add(0.5)  # a concurrent request with the same body, not a reaction to the 503
    assert [len(c.attempts) for c in group_calls(journal.entries, 60.0)] == [1, 1]


def test_a_resend_outside_the_window_is_a_new_call() -> None:
    journal = Journal()
    journal.add(0.0, status=503)
    journal.add(100.0)
    assert [len(c.attempts) for c in group_calls(journal.entries, 60.0)] == [1, 1]


def test_token_requests_are_not_calls() -> None:
    journal = Journal()
    journal.add(0.0, endpoint="token", model=None)
    assert group_calls(journal.entries, 60.0) == []


def test_retrying_before_retry_after_elapsed_is_a_failure_finding() -> None:
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=2.0)
    journal.add(0.5)
    findings = {f.name: f for f in grade_journal(journal.entries)}
    assert findings["retry_after_ignored"].examples == ("r2",)
    assert findings["retry_after_ignored"].severity.value == "FAIL"


def test_retrying_after_retry_after_elapsed_is_clean() -> None:
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=2.0)
    journal.add(2.1)
    assert journal.names() == set()


def test_retrying_a_404_is_retrying_a_non_retryable_status() -> None:
    journal = Journal()
    journal.add(0.0, status=404)
    journal.add(0.5, status=404)
    assert "retried_non_retryable" in journal.names()


def test_retrying_a_401_with_the_same_token_is_flagged_but_with_a_new_token_is_not() -> None:
    same, fresh = Journal(), Journal()
    same.add(0.0, status=401, token_status="expired")
    same.add(0.2, status=401, token_status="expired")
    fresh.add(0.0, status=401, token_status="expired")
    fresh.add(0.1, endpoint="token", model=None, body_sha256="form", token_id=None)
    fresh.add(0.2, token_id="tok-2")
    assert "retried_non_retryable" in same.names()
    assert "retried_non_retryable" not in fresh.names()
    assert "no_backoff" not in fresh.names()  # an auth retry is rightly immediate


def test_a_new_token_that_shares_its_id_with_the_refused_one_is_still_a_new_token() -> None:
    journal = Journal()  # the refused token came from an earlier mock with the same seed
    journal.add(0.0, status=401, token_status="expired", token_expires_t_s=-5.0)
    journal.add(0.2, token_expires_t_s=1800.0)
    assert "retried_non_retryable" not in journal.names()


def test_more_attempts_than_the_policy_allows_is_a_retry_storm() -> None:
    journal = Journal()
    for attempt in range(7):
        journal.add(2.0**attempt, status=503)
    findings = {f.name: f for f in grade_journal(journal.entries)}
    assert findings["retry_storm"].count == 1
    assert findings["retry_storm"].examples == ("r1",)


def retrying_journal(wait_s: Callable[[int], float], calls: int, failures: int = 3) -> Journal:
    """`calls` calls, each failing `failures` times with a 503 before it succeeds; the client
    waits `wait_s(n)` seconds before its n-th retry."""
    journal = Journal()
    for call in range(calls):
        t_s, body = call * 30.0, f"body-{call}"
        for retry in range(1, failures + 1):
            journal.add(t_s, status=503, body_sha256=body)
            t_s += 0.01 + wait_s(retry)  # the mock's answer took 10 ms
        journal.add(t_s, body_sha256=body)
    return journal


def full_jitter(rng: random.Random, base_s: float) -> Callable[[int], float]:
    """AWS's full jitter: anywhere from 0 to the doubling ceiling."""
    return lambda retry: rng.uniform(0.0, base_s * 2 ** (retry - 1))


def equal_jitter(rng: random.Random, base_s: float) -> Callable[[int], float]:
    """Half the doubling ceiling, plus up to half again (the reference gateways' backoff)."""
    return lambda retry: base_s * 2 ** (retry - 1) * (0.5 + 0.5 * rng.random())


def waits_in(journal: Journal) -> list[float]:
    return [round(g, 6) for c in group_calls(journal.entries, 60.0) for g in c.gaps_s()]


def test_full_jitter_that_draws_a_retry_at_once_now_and_then_is_not_graded_no_backoff() -> None:
    journal = retrying_journal(full_jitter(random.Random(3), base_s=0.1), calls=20)
    assert min(waits_in(journal)) < POLICY.immediate_retry_s  # the draw the old rule tripped on
    assert "no_backoff" not in journal.names()


@pytest.mark.parametrize("seed", range(20))
def test_jittered_and_plain_exponential_backoffs_are_clean_whatever_they_draw(seed: int) -> None:
    rng = random.Random(seed)
    for wait_s in (full_jitter(rng, 0.1), equal_jitter(rng, 0.05), lambda n: 0.1 * 2 ** (n - 1)):
        for calls in (1, 2, 5, 30):
            assert "no_backoff" not in retrying_journal(wait_s, calls).names()


def test_two_equal_jitter_waits_that_happen_to_be_close_are_not_a_constant_interval() -> None:
    # Equal-jitter draws for retries 1 and 2 (25-50 ms, then 50-100 ms) that fall within 1.2x:
    # a single call once looked like a constant client.
    draws = iter([0.048, 0.055])
    journal = retrying_journal(lambda retry: next(draws), calls=1, failures=2)
    assert "no_backoff" not in journal.names()


def test_a_client_that_never_waits_is_graded_no_backoff_once_the_habit_cannot_be_chance() -> None:
    one_call = retrying_journal(lambda retry: 0.001, calls=1)
    habit = retrying_journal(lambda retry: 0.001, calls=4)
    assert "no_backoff" not in one_call.names()  # 3 retries at once: full jitter does that
    finding = {f.name: f for f in grade_journal(habit.entries, POLICY)}["no_backoff"]
    assert finding.count == 4
    assert "12 of 12 retries within 20 ms" in finding.explanation


def test_a_client_that_retries_at_a_constant_interval_is_graded_no_backoff() -> None:
    journal = retrying_journal(lambda retry: 0.5, calls=6)
    finding = {f.name: f for f in grade_journal(journal.entries, POLICY)}["no_backoff"]
    assert finding.count == 6
    assert "at a constant interval (12 of 12 successive waits" in finding.explanation


def test_one_jittered_call_with_near_equal_gaps_among_growing_ones_is_clean() -> None:
    journal = Journal()
    for call, gaps in enumerate([(0.04, 0.041), (0.03, 0.09), (0.05, 0.08)]):
        start, body = call * 10.0, f"body-{call}"
        journal.add(start, status=503, body_sha256=body)
        journal.add(start + 0.01 + gaps[0], status=503, body_sha256=body)
        journal.add(start + 0.02 + gaps[0] + gaps[1], body_sha256=body)
    assert journal.names() == set()


def test_exponential_backoff_is_clean() -> None:
    journal = Journal()
    journal.add(0.0, status=503)
    journal.add(0.51, status=503)
    journal.add(1.52, status=503)
    journal.add(3.53)
    assert journal.names() == set()


def test_a_retryable_failure_passed_on_without_retry_is_giving_up() -> None:
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=1.0)
    journal.add(5.0, body_sha256="body-b")
    findings = {f.name: f for f in grade_journal(journal.entries)}
    assert findings["gave_up"].examples == ("r1",)
    assert findings["gave_up"].severity.value == "WARN"


def graded_with_client(status: int, retry_after: str) -> dict[str, Finding]:
    """The findings of a 429 (Retry-After 1 s) passed on unretried, the client's request
    having got `status` with `retry_after` as its Retry-After header."""
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=1.0, markers=["m1"])
    joined = with_client_replies(journal.entries, {"m1": (status, retry_after)})
    return {f.name: f for f in grade_journal(joined)}


def test_a_429_passed_on_with_its_retry_after_is_left_to_the_client_to_retry_not_given_up(
) -> None:  # fmt: skip
    findings = graded_with_client(429, "1")
    assert "gave_up" not in findings
    relayed = findings["passed_on_retryable"]
    assert (relayed.severity.value, relayed.examples) == ("INFO", ("r1",))
    assert "as 429 x1 with the upstream's Retry-After" in relayed.explanation


def test_a_429_turned_into_a_502_without_retry_after_is_giving_up_and_hides_the_hint() -> None:
    findings = graded_with_client(502, "")
    assert "passed_on_retryable" not in findings
    assert findings["gave_up"].severity.value == "WARN"
    assert "turned into 502 x1 without Retry-After: the client cannot tell it may retry" in (
        findings["gave_up"].explanation)  # fmt: skip


def test_a_429_passed_on_without_its_retry_after_is_giving_up_the_upstreams_pace() -> None:
    findings = graded_with_client(429, "")
    assert "as 429 x1 without the upstream's Retry-After" in findings["gave_up"].explanation


def test_a_journal_alone_says_nothing_of_what_the_client_got() -> None:
    journal = Journal()
    journal.add(0.0, status=503)
    explanation = {f.name: f for f in grade_journal(journal.entries)}["gave_up"].explanation
    assert "client got" not in explanation and "not known" not in explanation
    assert "retry it in the gateway, or pass the 429/503 and its Retry-After on" in explanation


def test_passing_on_a_429_that_asks_for_a_long_wait_is_not_giving_up() -> None:
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=60.0)
    assert "gave_up" not in journal.names()


def test_a_non_retryable_failure_without_retry_is_not_giving_up() -> None:
    journal = Journal()
    journal.add(0.0, status=400)
    assert "gave_up" not in journal.names()


def test_staying_connected_to_a_hang_longer_than_the_policy_means_no_read_timeout() -> None:
    journal = Journal()
    journal.add(0.0, status=0, fault="hang", duration_s=40.0)
    journal.add(40.5)
    findings = {f.name: f for f in grade_journal(journal.entries)}
    assert findings["hang_no_timeout"].examples == ("r1",)
    assert "40.0 s" in findings["hang_no_timeout"].explanation


def test_hanging_up_on_a_hung_request_and_retrying_is_clean() -> None:
    journal = Journal()
    journal.add(0.0, status=0, fault="hang", duration_s=30.2, disconnected=True)
    journal.add(31.0)
    assert journal.names() == set()


def test_the_policy_sets_how_long_a_wait_on_a_hang_is_too_long() -> None:
    journal = Journal()
    journal.add(0.0, status=0, fault="hang", duration_s=2.0)
    assert {f.name for f in grade_journal(journal.entries, GradingPolicy(hang_wait_s=1.0))} == {
        "hang_no_timeout"
    }


def test_findings_are_ordered_most_severe_first() -> None:
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=2.0)
    journal.add(0.01, extra_fields=["temperature"])
    severities = [f.severity.rank for f in grade_journal(journal.entries)]
    assert severities == sorted(severities, reverse=True)
    assert len(severities) >= 2


def test_a_load_window_is_graded_on_its_retries_alone() -> None:
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=1.0)
    journal.add(0.01, extra_fields=["max Tokens"])  # a protocol finding: not the window's to name
    graded = {f.name for f in grade_retries(journal.entries, POLICY)}
    assert graded == {"retry_after_ignored"} <= set(RETRY_FINDINGS)
    assert "ignored_fields" in journal.names()  # the full grading still names it


def test_a_failure_whose_request_the_client_stopped_waiting_for_is_not_judged() -> None:
    journal = Journal()
    journal.add(0.0, status=429, retry_after_s=1.0, markers=["cut-at-the-end"])
    joined = with_client_replies(journal.entries, {"other": (200, "")})
    names = {f.name for f in grade_journal(joined)}
    assert not names & {"gave_up", "passed_on_retryable"}
