"""Token, protocol and record findings on synthetic journals."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.findings import (
    FINDING_NAMES,
    Finding,
    GradingPolicy,
    Severity,
    findings_from_record,
    findings_record,
    grade_journal,
    worst,
)
from harness.findings.grading import RETRY_FINDINGS, grade_window
from harness.records import RunRecord


def entry(seq: int, t_s: float, **fields: Any) -> dict[str, Any]:
    """A clean chat-generations journal entry, with `fields` changed."""
    return {
        "seq": seq, "request_id": f"r{seq}", "t_s": t_s, "endpoint": "chat-generations",
        "model": "sfdc_ai__DefaultGPT4OmniMini", "client": "127.0.0.1:40000",
        "body_sha256": f"body-{seq}", "token_id": "tok-1", "token_status": "valid",
        "token_expires_t_s": 1800.0, "status": 200, "shape": "official", "fault": None,
        "latency_ms": 10.0, "retry_after_s": None, "app_context": "EinsteinGPT",
        "feature_id": "ai-platform-models-connected-app", "extra_fields": [],
        "duration_s": 0.01, "disconnected": False,
    } | fields  # fmt: skip


def token(seq: int, t_s: float) -> dict[str, Any]:
    return entry(seq, t_s, endpoint="token", model=None, body_sha256="form", token_id=None,
                 token_status="not-required")  # fmt: skip


def by_name(entries: list[dict[str, Any]]) -> dict[str, Finding]:
    return {f.name: f for f in grade_journal(entries)}


def test_a_token_fetched_before_every_request_is_a_finding() -> None:
    journal = []
    for i in range(5):
        journal += [token(2 * i, i * 10.0), entry(2 * i + 1, i * 10.0 + 0.1)]
    findings = by_name(journal)
    assert findings["token_per_request"].count == 4  # the first fetch replaced no token
    assert findings["token_rate"].severity is Severity.INFO
    assert "1.00 per Models request" in findings["token_rate"].explanation


def test_every_load_window_is_graded_on_a_token_fetched_for_every_request() -> None:
    # R129: `sfperf load` said nothing of 20 tokens for 20 calls, each good for 30 minutes.
    journal = []
    for i in range(20):
        journal += [token(2 * i, i * 0.5), entry(2 * i + 1, i * 0.5 + 0.1, token_id=f"tok-{i}",
                                                  token_expires_t_s=i * 0.5 + 1800.0)]  # fmt: skip
    assert "token_per_request" in {f.name for f in grade_window(journal)}
    assert "token_per_request" in RETRY_FINDINGS


def test_a_token_refreshed_on_a_timer_whatever_the_traffic_is_named_a_timer() -> None:
    # R126: setInterval(refresh, 500) beside 30-minute tokens; 3 requests a second in bursts.
    journal = [token(0, 0.0)]
    for n in range(1, 13):
        journal.append(token(len(journal), n * 0.5 + 0.001 * (n % 3)))
        calls = 3 if n % 2 else 1
        journal += [entry(len(journal) + k, n * 0.5 + 0.05 + 0.13 * k, token_id=f"tok-{n}",
                          token_expires_t_s=n * 0.5 + 1800.0) for k in range(calls)]  # fmt: skip
    found = {f.name: f for f in grade_window(journal, GradingPolicy(target_processes=1))}
    assert found["token_timer"].explanation.startswith(
        "a token every 0.50 s (about 7,200 an hour) on a timer, whatever the traffic, while each "
        "is good for 30 min"
    )
    assert "tokens_per_process" not in found and "token_per_request" not in found


def test_refreshes_that_follow_the_traffic_are_no_timer() -> None:
    journal = [token(0, 0.0)]
    for n, t_s in enumerate((0.4, 1.5, 1.7, 3.9, 4.0, 6.5, 9.0), start=1):
        journal.append(token(len(journal), t_s))
        journal += [entry(len(journal) + k, t_s + 0.05 + 0.1 * k, token_id=f"tok-{n}",
                          token_expires_t_s=t_s + 1800.0) for k in range(3)]  # fmt: skip
    assert "token_timer" not in {f.name for f in grade_window(journal)}


def fetch_before_each_call(lifetime_s: float, calls: int, users: int) -> list[dict[str, Any]]:
    """A gateway that refreshes whenever its token has under a minute left, on tokens living
    `lifetime_s`: `users` concurrent requests every 0.2 s, each finding its token too old."""
    journal: list[dict[str, Any]] = []
    for call in range(calls):
        t_s = call * 0.2
        for user in range(users):
            seq = len(journal)
            journal.append(token(seq, t_s + 0.01 * user))
            journal.append(entry(seq + 1, t_s + 0.01 * user + 0.05, token_id=f"tok-{seq}",
                                 token_expires_t_s=t_s + lifetime_s))  # fmt: skip
    return journal


def test_refreshing_before_every_request_on_tokens_shorter_than_a_margin_is_not_judged() -> None:
    findings = by_name(fetch_before_each_call(lifetime_s=3.0, calls=20, users=4))
    assert set(findings) == {"token_rate"}
    assert "the tokens lived 2.94 s" in findings["token_rate"].explanation
    assert "not judged" in findings["token_rate"].explanation


def test_the_same_habit_on_thirty_minute_tokens_is_a_token_per_request_and_a_stampede() -> None:
    findings = by_name(fetch_before_each_call(lifetime_s=1800.0, calls=20, users=4))
    assert findings["token_per_request"].count == 76  # the first 4 came before any use
    assert findings["refresh_stampede"].count == 80
    assert "not judged" not in findings["token_rate"].explanation


def test_a_short_lived_token_kept_past_its_exp_is_still_a_failure() -> None:
    journal = [token(0, 0.0), entry(1, 0.1, token_id="tok-a", token_expires_t_s=3.0)]
    for i in range(2, 8):
        status = "expired" if i > 3 else "valid"
        journal.append(entry(i, 1.0 * i, token_id="tok-a", token_expires_t_s=3.0,
                             token_status=status))  # fmt: skip
    findings = by_name(journal)
    assert findings["expired_token"].count == 4
    assert findings["expired_token"].severity is Severity.FAIL


def test_a_token_fetched_once_and_sent_expired_for_good_is_named_never_refreshed() -> None:
    journal = [token(0, 0.0)]
    for i in range(1, 8):
        status = "expired" if i > 3 else "valid"
        journal.append(entry(i, 1.0 * i, token_id="tok-a", token_expires_t_s=3.0,
                             token_status=status, status=401 if i > 3 else 200))  # fmt: skip
    never = by_name(journal)["expired_token"]
    assert never.count == 4
    assert never.explanation.startswith("never refreshed its token")
    journal.append(token(8, 7.5))  # it did fetch another, late: an expired send, not "never"
    assert "never" not in by_name(journal)["expired_token"].explanation


def test_a_gateway_that_refreshes_on_a_401_is_told_its_first_send_was_wasted() -> None:
    journal = [token(0, 0.0), entry(1, 0.1, token_id="tok-a", token_expires_t_s=3.0)]
    for n, t_s in enumerate((3.2, 3.4)):
        refused = entry(
            2 + 3 * n,
            t_s,
            token_id="tok-a",
            token_expires_t_s=3.0,
            token_status="expired",
            status=401,
            body_sha256=f"ask-{n}",
        )
        again = entry(4 + 3 * n, t_s + 0.05, token_id=f"tok-{n}", token_expires_t_s=t_s + 3,
                      body_sha256=f"ask-{n}")  # fmt: skip
        journal += [refused, token(3 + 3 * n, t_s + 0.02), again]
    found = by_name(journal)["expired_token"]
    assert found.explanation == (
        "sent 2 request(s) with a token past its real expiry (within a second of it); 2 of them "
        "refused and sent again with a new token: it refreshes after a 401, so each first send "
        "was wasted (a round trip before the answer); refresh before the token's `exp` to avoid it"
    )


def test_a_retry_that_kept_its_token_across_a_retry_after_wait_is_told_so() -> None:
    # R118: 429 (Retry-After 1) at 2.61 s and 3.70 s with tok-a, then the retry at 4.85 s with
    # tok-a, which expired at 4.66 s; the gateway refreshes on `exp` otherwise (tok-b at 4.9 s).
    def send(seq: int, t_s: float, **fields: Any) -> dict[str, Any]:
        return entry(seq, t_s, token_id="tok-a", token_expires_t_s=4.66, body_sha256="ask",
                     duration_s=0.05, **fields)  # fmt: skip

    fresh = entry(5, 5.0, token_id="tok-b", token_expires_t_s=9.0, body_sha256="ask")
    journal = [token(0, 0.0), send(1, 2.61, status=429, retry_after_s=1.0),
               send(2, 3.70, status=429, retry_after_s=1.0),
               send(3, 4.85, status=401, token_status="expired"), token(4, 4.9), fresh]  # fmt: skip
    found = by_name(journal)["expired_token"]
    assert found.explanation == (
        "sent 1 request(s) with a token past its real expiry (within a second of it); it was a "
        "retry after waiting out a Retry-After with the token taken before the wait, which "
        "expired during it: take the token again (refreshed if due) before each retry"
    )
    assert "clock of its own" not in found.explanation


def test_a_refresh_a_few_minutes_before_exp_is_not_early() -> None:
    journal = [token(0, 0.0), entry(1, 1.0, token_id="tok-a", token_expires_t_s=1800.0)]
    for i, t_s in enumerate((1560.0, 1565.0, 1570.0)):  # under 5 minutes left: due
        journal += [token(10 + 2 * i, t_s), entry(11 + 2 * i, t_s + 0.1, token_id="tok-a",
                                                 token_expires_t_s=1800.0)]  # fmt: skip
    assert "token_per_request" not in by_name(journal)


def test_one_token_reused_for_many_requests_is_only_a_note() -> None:
    journal = [token(0, 0.0)] + [entry(i, i * 1.0) for i in range(1, 20)]
    findings = by_name(journal)
    assert set(findings) == {"token_rate"}
    assert findings["token_rate"].count == 1


def test_requests_with_expired_unknown_or_no_token_are_failures() -> None:
    journal = [
        entry(1, 61.0, token_status="expired", status=401, token_expires_t_s=1.0),
        entry(2, 2.0, token_status="unknown", status=401),
        entry(3, 3.0, token_status="missing", status=401, token_id=None),
    ]
    findings = by_name(journal)
    assert (
        "(up to 60 s after it); no new token was fetched" in findings["expired_token"].explanation
    )
    for name in ("expired_token", "unknown_token", "missing_token"):
        assert findings[name].count == 1
        assert findings[name].severity is Severity.FAIL


def test_three_token_requests_within_a_second_are_a_stampede() -> None:
    journal = [token(1, 0.0), token(2, 0.3), token(3, 0.6), token(4, 30.0)]
    journal += [entry(i, 40.0 + i) for i in range(5, 20)]
    findings = by_name(journal)
    assert findings["refresh_stampede"].count == 3
    assert findings["refresh_stampede"].examples == ("r1", "r2", "r3")


def test_token_requests_spread_out_are_not_a_stampede() -> None:
    journal = [token(1, 0.0), token(2, 0.8), token(3, 1.9)]
    assert "refresh_stampede" not in by_name(journal)


def test_missing_and_wrong_headers_are_failures_that_name_what_was_sent() -> None:
    journal = [entry(1, 0.0, app_context=None), entry(2, 1.0, app_context="MyApp")]
    journal.append(entry(3, 2.0, feature_id=None))
    findings = by_name(journal)
    assert findings["bad_app_context"].count == 2
    assert "missing on 1, wrong on 1" in findings["bad_app_context"].explanation
    assert "'MyApp'" in findings["bad_app_context"].explanation
    assert findings["bad_feature_id"].examples == ("r3",)


def test_an_uninjected_404_marks_an_unknown_model_but_an_injected_one_does_not() -> None:
    journal = [entry(1, 0.0, model="gpt-4o", status=404), entry(2, 1.0, status=404, fault="404")]
    findings = by_name(journal)
    assert findings["unknown_model"].examples == ("r1",)
    assert "gpt-4o" in findings["unknown_model"].explanation


def test_a_known_model_list_decides_unknown_models_when_given() -> None:
    policy = GradingPolicy(known_models=frozenset({"sfdc_ai__DefaultGPT4OmniMini"}))
    journal = [entry(1, 0.0), entry(2, 1.0, model="sfdc_ai__Nope")]
    names = [f.name for f in grade_journal(journal, policy)]
    assert names == ["unknown_model"]


def test_ignored_fields_that_name_a_setting_warn_and_say_what_a_misspelling_means() -> None:
    journal = [entry(1, 0.0, extra_fields=["temperature", "max Tokens"])]
    finding = by_name(journal)["ignored_fields"]
    assert finding.severity is Severity.WARN
    assert "`temperature`" in finding.explanation
    assert "`max Tokens` (meaning max_tokens?)" in finding.explanation


def test_ignored_fields_that_name_no_setting_are_an_informational_note() -> None:
    finding = by_name([entry(1, 0.0, extra_fields=["trace"])])["ignored_fields"]
    assert finding.severity is Severity.INFO


def test_a_clean_journal_has_no_findings() -> None:
    assert grade_journal([entry(i, float(i)) for i in range(10)]) == []


def test_the_record_has_a_count_series_for_every_finding_and_details_in_params() -> None:
    findings = by_name([entry(1, 0.0, app_context=None)])
    record = findings_record(list(findings.values()), "async", params={"mock": "x"})
    assert record.runner == "verdict"
    assert record.scenario == "findings"
    assert record.matches(target="async")
    assert record.get("finding:bad_app_context").values == (1.0,)
    assert record.get("finding:retry_storm").values == (0.0,)
    assert len(record.series) == len(FINDING_NAMES)
    assert record.params["mock"] == "x"


def test_findings_survive_a_record_round_trip() -> None:
    findings = list(by_name([entry(1, 0.0, token_status="expired")]).values())
    record = RunRecord.from_dict(findings_record(findings, "t").as_dict())
    assert findings_from_record(record) == findings


def test_worst_severity_picks_the_most_severe() -> None:
    info = Finding("a", Severity.INFO, 1, (), "")
    fail = Finding("b", Severity.FAIL, 1, (), "")
    assert worst([info, fail]) is Severity.FAIL
    assert worst([]) is None


def test_every_rule_name_is_declared_for_the_record() -> None:
    journal = [
        entry(1, 0.0, status=429, retry_after_s=5.0, app_context=None, feature_id=None),
        entry(2, 0.02, body_sha256="body-1", token_status="expired", extra_fields=["top_p"]),
        entry(3, 1.0, status=404, model="x", token_status="unknown"),
        token(4, 2.0), token(5, 2.1), token(6, 2.2), entry(7, 3.0, token_status="missing"),
    ]  # fmt: skip
    names = {f.name for f in grade_journal(journal)}
    assert names <= set(FINDING_NAMES)
    assert len(names) >= 10


_values = st.one_of(st.none(), st.integers(-5, 600), st.floats(0, 100), st.text(max_size=5))
_entries = st.lists(
    st.fixed_dictionaries(
        {"seq": st.integers(1, 50)},
        optional={
            "t_s": st.one_of(st.none(), st.floats(0, 100)),
            "duration_s": st.one_of(st.none(), st.floats(0, 50)),
            "endpoint": st.sampled_from(["token", "chat-generations", "feedback", "other", None]),
            "status": st.one_of(st.none(), st.sampled_from([0, 200, 401, 404, 429, 503])),
            "fault": st.sampled_from([None, "hang", "429", "reset"]),
            "retry_after_s": st.one_of(st.none(), st.floats(0, 5)),
            "token_status": st.sampled_from([None, "valid", "expired", "unknown", "missing"]),
            "extra_fields": st.one_of(st.none(), st.lists(st.text(max_size=4), max_size=2)),
            "client": _values, "model": _values, "body_sha256": _values, "token_id": _values,
            "app_context": _values, "feature_id": _values, "request_id": _values,
        },
    ),
    max_size=30,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(_entries)
def test_any_journal_grades_without_error_into_declared_counted_findings(
    journal: list[dict[str, Any]],
) -> None:
    findings = grade_journal(journal)
    assert {f.name for f in findings} <= set(FINDING_NAMES)
    assert all(f.count >= 1 and 1 <= len(f.examples) <= 5 for f in findings)


def refreshed_at_each_expiry(in_flight_s: float, users: int) -> list[dict[str, Any]]:
    """3-second tokens; at each expiry every one of `users` requests fetches its own token,
    each fetch in flight `in_flight_s` (overlapping when longer than their 10 ms spacing)."""
    journal: list[dict[str, Any]] = []
    for expiry in range(3):
        t_s = expiry * 3.0
        for user in range(users):
            seq = len(journal)
            journal.append(token(seq, t_s + 0.01 * user) | {"duration_s": in_flight_s})
            journal.append(entry(seq + 1, t_s + 0.1, token_id=f"tok-{seq}",
                                 token_expires_t_s=t_s + 3.0))  # fmt: skip
    return journal


def test_short_lived_tokens_refreshed_all_at_once_by_one_process_are_a_stampede() -> None:
    crowd = refreshed_at_each_expiry(in_flight_s=0.05, users=4)
    found = {f.name: f for f in grade_journal(crowd, GradingPolicy(target_processes=1))}
    assert found["refresh_stampede"].count == 12
    assert "2+ token requests in flight at once from a target of 1 process" in (
        found["refresh_stampede"].explanation
    )


def test_waiters_on_a_token_lock_that_each_refresh_again_are_a_stampede_one_at_a_time() -> None:
    # R123: 4 users queue on a lock at each expiry and each fetches its own token in turn.
    herd = refreshed_at_each_expiry(in_flight_s=0.005, users=4)
    herd += [entry(100 + n, (n % 3) * 3.0 + 0.5 + n * 0.01, token_id="kept") for n in range(60)]
    found = {f.name: f for f in grade_journal(herd, GradingPolicy(target_processes=1))}
    assert found["refresh_stampede"].count == 12
    assert found["refresh_stampede"].explanation.startswith(
        "2+ token requests one after another, each sent within 200 ms of the last one's answer, "
        "from a target of 1 process(es): each replaced a token a moment old"
    )


def test_one_refresh_at_each_expiry_or_one_per_process_are_no_stampede() -> None:
    one_at_a_time = refreshed_at_each_expiry(in_flight_s=0.005, users=1)
    assert "refresh_stampede" not in {
        f.name for f in grade_journal(one_at_a_time, GradingPolicy(target_processes=1))
    }
    # A token for every request, one after another: fair on tokens too short for its margin.
    per_request = [
        e
        for n in range(30)
        for e in (
            token(2 * n, n * 0.06) | {"duration_s": 0.05},
            entry(2 * n + 1, n * 0.06 + 0.055, token_id=f"tok-{n}", token_expires_t_s=3.0),
        )
    ]
    assert "refresh_stampede" not in {
        f.name for f in grade_journal(per_request, GradingPolicy(target_processes=1))
    }
    crowd = refreshed_at_each_expiry(in_flight_s=0.05, users=4)
    for processes in (4, None):  # each of 4 workers keeps its own token; or nobody counted them
        policy = GradingPolicy(target_processes=processes)
        assert "refresh_stampede" not in {f.name for f in grade_journal(crowd, policy)}


def token_per_thread(threads: int, requests: int) -> list[dict[str, Any]]:
    """A gateway keeping its token in a thread-local: each thread fetches one when it first
    serves (every 1.5 s here), then reuses it for its 30 minutes."""
    journal: list[dict[str, Any]] = []
    for call in range(requests):
        thread, t_s = call % threads, call * 0.1
        if call < threads:
            journal.append(token(len(journal), t_s))
        journal.append(entry(len(journal), t_s + 0.05, token_id=f"tok-{thread}",
                             token_expires_t_s=t_s + 1800.0))  # fmt: skip
    return journal


def test_more_tokens_than_processes_within_a_tokens_life_is_a_token_per_thread() -> None:
    # R79: one process, 17 threads each fetching its own 30-minute token.
    journal = token_per_thread(threads=17, requests=131)
    one_process = grade_journal(journal, GradingPolicy(target_processes=1))
    (found,) = [f for f in one_process if f.name == "tokens_per_process"]
    assert found.severity is Severity.WARN and found.count == 16
    assert found.explanation.startswith(
        "17 tokens fetched in 2 s by a target of 1 process(es), each good for 30 min: 16 while"
    )
    assert "token_per_request" not in {f.name for f in one_process}  # 16 for 131: not per request


def test_a_token_per_process_is_fine_and_unknown_processes_are_not_judged() -> None:
    journal = token_per_thread(threads=4, requests=40)
    assert "tokens_per_process" not in by_name(journal)  # processes not counted
    four = grade_journal(journal, GradingPolicy(target_processes=4))
    assert "tokens_per_process" not in {f.name for f in four}


def calls_over(connections: int, calls: int, **fields: Any) -> list[dict[str, Any]]:
    """`calls` Models requests spread over `connections` client ports."""
    return [entry(seq, seq * 0.1, client=f"127.0.0.1:{40000 + seq % connections}", **fields)
            for seq in range(calls)]  # fmt: skip


def test_a_new_connection_for_every_models_request_is_no_connection_reuse() -> None:
    # R72: requests.post per call instead of one Session: 109 requests over 109 connections.
    (found,) = grade_window(calls_over(109, 109))
    assert (found.name, found.severity, found.count) == ("no_connection_reuse", Severity.WARN, 109)
    assert found.explanation.startswith("109 Models requests over 109 connections")


def test_a_keep_alive_pool_smaller_than_the_calls_in_flight_is_named_not_a_client_per_call() -> (
    None
):
    # R93: one httpx client (20 kept alive) under 50 users: 477 requests over 447 connections,
    # 30 of them carried a second request; "keep one session per process" was the wrong advice.
    journal = [entry(seq, seq * 0.02, duration_s=0.99,
                     client=f"127.0.0.1:{40000 + (seq % 30 if seq < 60 else seq)}")
               for seq in range(200)]  # fmt: skip
    (found,) = grade_window(journal)
    assert (found.name, found.severity, found.count) == ("no_connection_reuse", Severity.WARN, 170)
    assert found.explanation.startswith(
        "200 Models requests over 170 connections: its client keeps connections alive (it reused "
        "30 of them), but not the 50 calls it had in flight at once: a keep-alive pool smaller"
    )
    assert "Limits(max_keepalive_connections=...)" in found.explanation
    assert "one HTTP session or client per process" not in found.explanation


def test_a_port_the_kernel_recycled_is_not_taken_for_a_reused_connection() -> None:
    # review7 B11: urlopen per call at 700 calls a second; the kernel gives ports out again, so
    # 100 connections came from 60 ports, each port's second use 3 s after its first.
    ports = [f"127.0.0.1:{40000 + n % 60}" for n in range(100)]
    numbered = [entry(n, n * 0.05, client=f"{port}#{n + 1}") for n, port in enumerate(ports)]
    unnumbered = [entry(n, n * 0.05, client=port) for n, port in enumerate(ports)]  # aiohttp's
    for journal in (numbered, unnumbered):
        (found,) = grade_window(journal)
        assert found.explanation.startswith(
            "100 Models requests over 100 connections: no connection reuse"
        ), found.explanation


def test_the_connection_number_keeps_a_kept_alive_connection_one_however_long_it_idles() -> None:
    idle = [entry(n, n * 5.0, client=f"127.0.0.1:{40000 + n % 4}#{n % 4 + 1}") for n in range(40)]
    assert grade_window(idle) == []


def test_a_pooled_client_a_short_window_or_a_faulty_one_is_not_judged_on_reuse() -> None:
    assert grade_window(calls_over(5, 109)) == []  # one connection per concurrent request
    assert grade_window(calls_over(9, 9)) == []  # too few to tell
    assert grade_window(calls_over(40, 40, fault="reset")) == []  # faults close connections
    assert grade_window([entry(s, s * 0.1, client="127.0.0.1") for s in range(40)]) == []


def test_every_load_window_is_graded_on_the_headers_and_model_names_it_sent() -> None:
    # R97: x-sfdc-app-context SalesGPT on every call: '100.0% ok', judged on resilience alone.
    journal = [entry(seq, seq * 0.1, client=f"127.0.0.1:{40000 + seq % 4}",
                     app_context="SalesGPT") for seq in range(20)]  # fmt: skip
    (found,) = grade_window(journal)
    assert (found.name, found.severity, found.count) == ("bad_app_context", Severity.FAIL, 20)
    assert "bad_feature_id" in RETRY_FINDINGS and "ignored_fields" not in RETRY_FINDINGS


def test_a_client_that_drops_connections_between_calls_one_at_a_time_is_not_a_small_pool() -> None:
    # review7 B5: calls one at a time, a few reused: "a pool smaller than the 1 calls in flight".
    connection = [n // 2 if n < 10 else n for n in range(40)]  # the first 5 carried two calls
    journal = [entry(n, n * 0.5, duration_s=0.2, client=f"127.0.0.1:{40000 + c}#{c}")
               for n, c in enumerate(connection)]  # fmt: skip
    (found,) = grade_window(journal)
    assert "in flight at once" not in found.explanation
    assert "its calls, one at a time, mostly went out on a new one: it drops connections" in (
        found.explanation
    )
