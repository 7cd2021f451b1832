from dataclasses import replace
from typing import Any

import pytest

from harness.card.measures import (
    WindowObservation,
    card_record,
    classify_path,
    expiry_chances,
    file_use,
    journal_record,
    measured_figures,
    token_economy,
    top_errors,
    window_errors,
)
from harness.fidelity import AnswerFacts
from harness.runners.support.loadrows import HELD, Row


def row(status: int = 200, ok: bool = True, body: str = "", error: str = "") -> Row:
    return Row("chat", 0.0, 0.0, 100.0, status, ok, error=error, body=body)


def entry(seq: int, endpoint: str, token_status: str = "valid") -> dict[str, Any]:
    return {"seq": seq, "endpoint": endpoint, "token_status": token_status, "latency_ms": 5}


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/tmp/sfgw/token.json", "credential"), ("/srv/gw/.oauth_cache", "credential"),
     ("/etc/gw/server.key", "credential"), ("/srv/gw/config.json", "config"),
     ("/srv/gw/settings.yaml", "config"), ("/srv/gw/.env", "config"),
     ("/srv/gw/prompts.txt", "other"), ("/proc/self/status", "other")],
)  # fmt: skip
def test_paths_are_classed_by_what_they_hold(path: str, kind: str) -> None:
    assert classify_path(path) == kind


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/tmp/cache/index.json", "data"), ("/srv/gw/state.db", "data"),
     ("/srv/gw/config.json", "data"), ("/tmp/sfgw/token.json", "credential")],
)  # fmt: skip
def test_a_file_the_target_writes_is_its_data_unless_it_holds_credentials(
    path: str, kind: str
) -> None:
    assert classify_path(path, {"opens": 10, "reads": 5, "writes": 5}) == kind
    assert classify_path(path, {"opens": 1, "renames": 1}) == kind


def test_a_file_only_read_is_classed_by_its_name() -> None:
    assert classify_path("/tmp/cache/index.json", {"opens": 9, "reads": 9}) == "config"


@pytest.mark.parametrize(
    ("counts", "use"),
    [({"opens": 40, "reads": 40, "writes": 40}, "read and rewritten on every request"),
     ({"opens": 40, "writes": 40}, "rewritten on every request"),
     ({"opens": 40, "reads": 40, "writes": 2}, "read on every request, written 2 times"),
     ({"opens": 40, "reads": 40}, "read on every request"),
     ({"opens": 3, "reads": 3}, "opened 3 times in 40 requests")],
)  # fmt: skip
def test_how_a_file_is_used_per_request_is_said_in_words(counts: dict[str, int], use: str) -> None:
    assert file_use(counts, 40.0) == use


def test_a_window_counts_a_written_json_file_as_data_not_config() -> None:
    io = {"files": {"/c/index.json": {"opens": 60, "reads": 30, "writes": 30},
                    "/c/3f2a.json": {"opens": 30, "reads": 0, "writes": 30}}}  # fmt: skip
    record = card_record(WindowObservation("w", 1.0, io=io), [row()] * 30, target="t",
                         scenario="w")  # fmt: skip
    assert record.get("config_file_opens").values == (0.0,)
    assert record.get("data_file_opens").values == (90.0,)
    assert record.params["files"]["/c/index.json"]["class"] == "data"


def test_the_token_economy_counts_fetches_hits_and_bad_tokens_per_models_request() -> None:
    entries = [entry(1, "token"), entry(2, "chat-generations"), entry(3, "chat-generations"),
               entry(4, "chat-generations", "expired"), entry(5, "token"),
               entry(6, "generations", "unknown"), entry(7, "feedback")]  # fmt: skip
    named = {s.name: s.values for s in token_economy(entries)}
    assert named["models_requests"] == (4.0,) and named["token_requests"] == (2.0,)
    assert sorted(named["token_cache_hit"]) == [0.0, 0.0, 1.0, 1.0]
    assert named["expired_token_sends"] == (1.0,) and named["unknown_token_sends"] == (1.0,)


def test_more_token_fetches_than_models_requests_mean_no_hits_not_negative_ones() -> None:
    named = {s.name: s.values for s in token_economy([entry(1, "token"), entry(2, "token"),
                                                      entry(3, "chat-generations")])}  # fmt: skip
    assert named["token_cache_hit"] == (0.0,)


def test_the_top_errors_quote_the_body_or_the_transport_error_with_counts() -> None:
    rows = [row(500, False, '{"error": "loop closed"}')] * 3
    rows += [row(), row(200, False, '{"choices": "Error: 429"}')]
    assert top_errors(rows) == [
        {"status": 500, "body": '{"error": "loop closed"}', "count": 3},
        {"status": 200, "body": '{"choices": "Error: 429"}', "count": 1},
    ]


def test_a_stream_with_a_character_split_across_its_chunks_is_named_so_in_the_errors() -> None:
    split = AnswerFacts("ab" * 32, "stop", (3, 3, 6), broken_characters=True,
                        split_characters=True)  # fmt: skip
    streamed = Row("chat", 0.0, 0.0, 50.0, 200, False, ttft_ms=9.0, answer=split,
                   fidelity=("broken_characters",), body="data: ...")  # fmt: skip
    replaced = replace(streamed, answer=replace(split, split_characters=False))
    (first, second) = top_errors([streamed, streamed, replaced])
    assert first["count"] == 2
    assert first["body"].startswith("fidelity: broken_characters (a character split across two "
                                    "stream chunks: lone surrogate escapes")  # fmt: skip
    assert second["body"].startswith("fidelity: broken_characters (U+FFFD in the text")


def test_requests_left_without_a_reply_come_first_and_the_clients_timeout_is_told_apart() -> None:
    closed = Row("chat", 0.0, 0.0, 5.0, 0, False, fidelity=("dropped",),
                 error="HTTPConnectionClosed")  # fmt: skip
    rows = [row(500, False, "busy")] * 9 + [closed] * 2
    rows += [row(0, False, error="TimeoutError")]
    assert top_errors(rows, top=2) == [
        {"status": 0, "body": "HTTPConnectionClosed: the connection ended without a reply",
         "count": 2},
        {"status": 0, "body": "TimeoutError: no reply within the client's timeout (the client "
         "gave up)", "count": 1},
    ]  # fmt: skip
    record = card_record(WindowObservation("w", 1.0), rows, target="t", scenario="w")
    assert record.get("no_reply").values == (2.0,)


def test_a_connection_refused_is_told_apart_from_a_reply_cut_short() -> None:
    # Nothing listened (a target that had exited, R85): no reply was begun and cut short.
    refused = Row("chat", 0.0, 0.0, 1.0, 0, False, error="ConnectionRefusedError")
    closed = Row("chat", 0.0, 0.0, 5.0, 0, False, error="HTTPConnectionClosed")
    assert top_errors([refused] * 3 + [closed]) == [
        {"status": 0, "body": "ConnectionRefusedError: nothing accepted the connection (no "
         "process listened at the address)", "count": 3},
        {"status": 0, "body": "HTTPConnectionClosed: the connection ended without a reply",
         "count": 1},
    ]  # fmt: skip


def test_a_request_the_target_held_past_the_windows_end_is_named_as_held_and_counted() -> None:
    held = Row("chat", 0.0, 0.0, 7700.0, 0, False, error=HELD)
    assert top_errors([held] * 4) == [
        {"status": 0, "body": "Held: still no reply when the window ended, after over 3 times "
         "as long as any reply took", "count": 4},
    ]  # fmt: skip
    record = card_record(WindowObservation("w", 1.0), [held] * 4, target="t", scenario="w")
    assert record.get("no_reply").values == (4.0,)


def test_replies_the_fidelity_check_failed_are_grouped_by_what_was_wrong() -> None:
    def wrong(text: str) -> Row:
        return Row("chat", 0, 0, 1, 200, False, fidelity=("wrong_content",), body=text)

    assert top_errors([wrong("a"), wrong("b"), wrong("c")]) == [
        {"status": 200, "body": "fidelity: wrong_content: e.g. a", "count": 3}
    ]
    assert len(top_errors([row(400 + i, False) for i in range(9)])) == 5


def test_a_window_record_holds_io_by_class_per_window_and_the_busiest_paths() -> None:
    io = {"files": {"/s/token.json": {"opens": 30, "reads": 30, "writes": 0},
                    "/s/config.json": {"opens": 30, "reads": 30, "writes": 0}}}  # fmt: skip
    journal = tuple(entry(i, "chat-generations") for i in range(1, 31))
    observation = WindowObservation("steady-closed", 5.0, journal=journal, io=io)
    record = card_record(observation, [row()] * 30, target="launch:gw", scenario="steady-closed")
    assert (record.runner, record.scenario) == ("card", "load")
    assert record.labels == {"target": "launch:gw", "window": "steady-closed"}
    assert record.get("credential_file_opens").values == (30.0,)
    assert record.get("config_file_reads").values == (30.0,)
    assert record.get("other_file_opens").values == (0.0,)
    assert record.params["files"]["/s/token.json"]["class"] == "credential"
    assert "reported_gap" not in record.series_names


def test_a_target_seen_without_mock_or_shim_has_only_client_side_series() -> None:
    record = card_record(WindowObservation("w", 1.0), [row(503, False, "busy")], target="t",
                         scenario="w")  # fmt: skip
    assert set(record.series_names) == {"client_requests", "error_responses", "no_reply",
                                        "requests_served", "window_s"}  # fmt: skip
    assert record.params["errors"] == [{"status": 503, "body": "busy", "count": 1}]


def test_self_reported_counters_that_do_not_count_show_a_gap_beside_the_measured_ones() -> None:
    before = {"requests_total": 0, "upstream_calls_total": 0, "avg_latency_ms": 0.0}
    after = {"requests_total": 0, "upstream_calls_total": 0, "avg_latency_ms": 0.0}
    journal = tuple(entry(i, "chat-generations") for i in range(1, 41))
    observation = WindowObservation("w", 5.0, journal=journal, metrics_before=before,
                                    metrics_after=after, first_window=True)  # fmt: skip
    record = card_record(observation, [row()] * 40, target="t", scenario="w", users=5)
    pairs = {p["field"]: p for p in record.params["self_reported"]}
    assert pairs["requests_total"]["measured"] == 40.0
    assert pairs["requests_total"]["gap"] == pytest.approx(1.0)  # 0 of 40: off by all of it
    assert not pairs["requests_total"]["agrees"]
    assert pairs["avg_latency_ms"]["gap"] == pytest.approx(1.0)
    assert max(record.get("reported_gap").values) == pytest.approx(1.0)


def test_measured_figures_include_the_hit_rate_and_the_file_opens_of_every_class() -> None:
    io = {"files": {"/s/token.json": {"opens": 2}, "/s/x.txt": {"opens": 3}}}
    journal = (entry(1, "token"), entry(2, "chat-generations"), entry(3, "chat-generations"))
    record = card_record(WindowObservation("w", 1.0, journal=journal, io=io), [row()] * 2,
                         target="t", scenario="w")  # fmt: skip
    figures = measured_figures(record.series, [row()] * 2)
    assert figures["token_cache_hit_rate"] == 0.5
    assert (figures["credential_file_opens"], figures["file_opens"]) == (2.0, 5.0)


def test_a_launched_targets_window_says_what_the_shim_cost_it() -> None:
    overhead = {"shim_cpu_s": 0.002, "process_cpu_s": 0.4, "poller_cpu_s": 0.0005,
                "audit_events": 300, "opens": 100, "host_checks": 0, "url_checks": 100,
                "unit_ns": {"event": 90.0}}  # fmt: skip
    io = {"files": {"/s/token.json": {"opens": 100}}, "overhead": overhead}
    record = card_record(WindowObservation("w", 1.0, io=io), [row()] * 100, target="t",
                         scenario="w")  # fmt: skip
    shim = record.params["shim"]
    assert (shim["shim_cpu_ms"], shim["target_cpu_ms"]) == (2.0, 400.0)
    assert shim["cpu_share"] == pytest.approx(0.005) and shim["cpu_ratio"] == pytest.approx(0.995)
    assert shim["shim_us_per_request"] == pytest.approx(20.0) and shim["requests"] == 100
    assert shim["target_cpu_ms_per_request"] == pytest.approx(4.0)
    # The poller's background CPU is kept apart from the work on the requests, per second.
    assert (shim["work_cpu_ms"], shim["poller_cpu_ms"]) == (1.5, 0.5)
    assert shim["work_us_per_request"] == pytest.approx(15.0)
    assert shim["poller_ms_per_s"] == pytest.approx(0.5) and shim["window_s"] == 1.0


def test_a_shim_that_kept_no_account_leaves_the_cost_unknown_not_zero() -> None:
    io = {"files": {"/s/token.json": {"opens": 1}}, "overhead": {}}
    record = card_record(WindowObservation("w", 1.0, io=io), [row()], target="t", scenario="w")
    assert record.params["shim"] is None


def test_a_gateway_that_averages_only_its_successes_is_caught_on_its_first_window() -> None:
    """The sf-model-api ASGI server's own figures after a window of failures (all 500s)."""
    before = {"async_optimization": {"requests_processed": 0, "avg_response_time_ms": 0.0},
              "connection_pool": {"requests_made": 0, "errors": 0}}  # fmt: skip
    after = {"async_optimization": {"requests_processed": 30, "avg_response_time_ms": 0.0},
             "connection_pool": {"requests_made": 30, "errors": 30}}  # fmt: skip
    journal = tuple(entry(i, "chat-generations") for i in range(1, 31))
    observation = WindowObservation("w", 2.0, journal=journal, metrics_before=before,
                                    metrics_after=after, first_window=True)  # fmt: skip
    record = card_record(observation, [row(500, False)] * 30, target="t", scenario="w")
    pairs = {p["field"]: p for p in record.params["self_reported"]}
    assert set(pairs) == {"async_optimization.requests_processed",
                          "async_optimization.avg_response_time_ms",
                          "connection_pool.requests_made"}  # fmt: skip
    assert pairs["async_optimization.avg_response_time_ms"]["gap"] == pytest.approx(1.0)
    assert record.get("reported_gap").values.count(0.0) == 2
    account = record.params["self_reported_fields"]
    assert (account["read"], account["unpaired"]) == (4, ["connection_pool.errors"])


def test_requests_still_in_flight_at_a_windows_end_count_as_served_when_the_upstream_saw_them(
) -> None:  # fmt: skip
    # 20 replies came back; the client stopped waiting for 4 more, which the target still took
    # upstream (their markers are in the journal) and opened its token file for: 24 opens.
    rows = [Row("chat", 0.0, 0.0, 100.0, 200, True, marker=f"m{i}") for i in range(20)]
    journal = tuple(entry(i, "chat-generations") | {"markers": [f"m{i}"]} for i in range(24))
    io = {"files": {"/s/token.json": {"opens": 24, "reads": 24, "writes": 0}}}
    observation = WindowObservation("steady-closed", 5.0, journal=journal, io=io)
    record = card_record(observation, rows, target="t", scenario="steady-closed")
    assert record.get("client_requests").values == (20.0,)
    assert record.get("requests_served").values == (24.0,)
    opens, served = (record.get(n).values[0] for n in ("credential_file_opens", "requests_served"))
    assert opens / served == 1.0


def sent(t_s: float, token: str, exp_s: float, status: str = "valid") -> dict[str, Any]:
    return {"endpoint": "chat-generations", "t_s": t_s, "token_id": token,
            "token_expires_t_s": exp_s, "token_status": status}  # fmt: skip


def test_expiry_is_put_to_the_test_only_by_requests_sent_once_a_used_token_reached_its_exp(
) -> None:  # fmt: skip
    # Long-lived tokens, a short window: nothing had to carry a fresh token.
    assert expiry_chances([sent(1.0, "a", 1800.0), sent(2.0, "a", 1800.0)]) == 0
    # 3-second tokens: refreshed in time, every request after the first exp was a test of it.
    refreshed = [sent(1.0, "a", 3.0), sent(2.9, "a", 3.0), sent(3.5, "b", 6.0), sent(4.0, "b", 6.0)]
    assert expiry_chances(refreshed) == 2
    # A token kept on disk from an earlier run, already past its exp at the first request.
    assert expiry_chances([sent(0.5, "stale", -600.0, "expired"), sent(0.9, "c", 1800.0)]) == 2


def test_a_journal_outside_the_windows_becomes_a_card_record_of_token_sends_only() -> None:
    journal = [{"endpoint": "token", "t_s": 0.1}, sent(0.5, "stale", -600.0, "expired"),
               sent(0.9, "c", 1800.0)]  # fmt: skip
    record = journal_record(journal, target="launch:gw", window="discover")
    assert (record.runner, record.scenario) == ("card", "load")
    assert record.labels == {"target": "launch:gw", "window": "discover"}
    assert set(record.series_names) == {"models_requests", "expired_token_sends", "expiry_chances",
                                        "unknown_token_sends", "missing_token_sends"}  # fmt: skip
    assert record.get("expired_token_sends").values == (1.0,)


def test_a_failed_reply_without_a_kept_body_is_shown_by_what_was_wrong_alone() -> None:
    judged = Row("chat", 0.0, 0.0, 9.0, 200, False, fidelity=("wrong_content",))
    assert top_errors([judged])[0]["body"] == "fidelity: wrong_content"


def test_a_self_reported_request_count_is_paired_with_the_requests_served() -> None:
    rows = [Row("chat", 0.0, 0.0, 100.0, 200, True, marker=f"m{i}") for i in range(20)]
    journal = tuple(entry(i, "chat-generations") | {"markers": [f"m{i}"]} for i in range(24))
    figures = {"requests_processed": 0}, {"requests_processed": 24}
    observation = WindowObservation("w", 5.0, journal=journal, metrics_before=figures[0],
                                    metrics_after=figures[1])  # fmt: skip
    record = card_record(observation, rows, target="t", scenario="w", users=5)
    (pair,) = record.params["self_reported"]
    assert (pair["measured"], pair["off_by"]) == (24.0, 0.0)


def test_metrics_asked_for_but_unreadable_are_said_and_the_claim_asks_for_no_option() -> None:
    # R55: `--target-metrics /metrics` was given; the claim must not say "needs: --target-metrics".
    from harness.claims.ledger import load_ledger
    from harness.claims.verdicts import evaluate_claim
    from scenarios import scenario_path

    said = "GET /metrics answered 200: <html>; sfperf reads a JSON object or the Prometheus text"
    observation = WindowObservation("w", 2.0, metrics_problem=said, first_window=True)
    record = card_record(observation, [row()] * 3, target="t", scenario="w")
    assert record.params["target_metrics"]["problem"] == said
    assert record.get("reported_gap").values == ()
    ledger = load_ledger(scenario_path("claims", "gateway.toml"))
    (claim,) = [c for c in ledger.claims if c.id == "gw-self-reported-figures"]
    verdict = evaluate_claim(claim, [record])
    assert verdict.verdict == "inconclusive" and "needs:" not in verdict.reason


def test_errors_of_requests_that_met_an_injected_fault_are_kept_apart() -> None:
    # R89: the window's own errors are the gateway's; a 502 for an injected 500 is the mock's.
    rows = [replace(row(502, False, '{"error": "upstream"}'), marker=f"sfpm{i:016x}")
            for i in range(3)]  # fmt: skip
    hit = {"seq": 1, "endpoint": "chat-generations", "markers": [rows[0].marker], "fault": "500"}
    journal = [hit, {**hit, "seq": 2, "markers": [rows[1].marker], "fault": None}]
    split = window_errors(rows, journal)
    assert split["fault_errors"] == [{"status": 502, "body": '{"error": "upstream"}', "count": 1}]
    assert split["errors"][0]["count"] == 2  # one met no fault, one made no call at all
    unread = [{"status": 502, "body": '{"error": "upstream"}', "count": 3}]
    assert window_errors(rows, None) == {"errors": unread}


def test_a_window_counts_the_processes_that_started_in_it_and_called_the_upstream() -> None:
    from harness.card.measures import process_start_series

    io = {"started_pids": [9, 10, 11], "upstream_pids": [1, 9, 10],
          "cpu_s_by_pid": {"9": 0.06, "10": 0.07, "11": 0.5}}  # fmt: skip
    started, cpu = process_start_series(io)
    assert started.values == (2.0,)  # 11 started, but never called the upstream
    assert [round(v) for v in cpu.values] == [60, 70]
    assert process_start_series({})[0].values == (0.0,)  # a snapshot from an older harness
