"""Raw per-request rows from the locust child, and their conversion into a load RunRecord."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.fidelity import KINDS as FIDELITY_KINDS
from harness.fidelity import AnswerFacts
from harness.runners.support.loadrows import (
    BODY_CHARS,
    HELD,
    IN_FLIGHT,
    UNSENT,
    InFlight,
    Row,
    client_replies,
    format_row,
    parse_row,
    parse_rows,
    quote_body,
    read_rows,
    read_window,
    row_series,
    schedule_kept,
    settle_in_flight,
    throughput_rps,
    unsent,
)

STREAMED = Row(
    "chat-stream", 100.0, 100.0, 250.0, 200, True, ttft_ms=40.0, itl_ms=(5.0, 7.5), error=""
)
LATE = Row("chat", 100.0, 100.5, 20.0, 200, True)
FAILED = Row(
    "chat", 101.0, 101.0, 30.0, 502, False, fidelity=("wrong_status",), error="bad gateway"
)


def write(path: Path, rows: list[Row], torn: str = "") -> None:
    path.write_text("".join(format_row(r) for r in rows) + torn, encoding="utf-8")


def test_a_row_survives_the_round_trip_through_its_line() -> None:
    assert parse_row(format_row(STREAMED)) == STREAMED
    assert parse_row(format_row(LATE)) == LATE


def test_tabs_and_newlines_in_error_text_cannot_break_the_line() -> None:
    line = format_row(Row("a\tb", 1.0, 1.0, 2.0, 0, False, error="x\ty\nz"))
    assert line.count("\t") == 19 and line.endswith("\n") and line.count("\n") == 1
    assert (parse_row(line).name, parse_row(line).error) == ("a b", "x y z")


def test_a_replys_retry_after_is_kept_and_rows_written_before_it_read_without_one() -> None:
    throttled = Row("chat", 1.0, 1.0, 2.0, 429, False, marker="m1", retry_after="1")
    assert parse_row(format_row(throttled)) == throttled
    older = format_row(throttled).rsplit("\t", 3)[0] + "\n"  # 17 columns: no Retry-After
    assert parse_row(older).retry_after == ""
    assert client_replies([throttled, LATE]) == {"m1": (429, "1")}


def test_the_clients_connection_is_kept_and_rows_written_before_it_read_as_reused() -> None:
    # R101: a new connection opened for the request (0.25 ms), and the reply said it closes.
    closing = Row("chat", 1.0, 1.0, 2.0, 200, True, connect_ms=0.25, closed=True)
    assert parse_row(format_row(closing)) == closing
    older = format_row(closing).rsplit("\t", 2)[0] + "\n"  # 18 columns: before R101
    assert (parse_row(older).connect_ms, parse_row(older).closed) == (None, False)


def test_latency_counts_from_the_intended_start_when_the_send_was_late() -> None:
    assert LATE.latency_ms == pytest.approx(520.0)
    assert STREAMED.latency_ms == pytest.approx(250.0)


def test_a_torn_last_line_from_a_killed_process_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "requests-local-h-1.tsv", [LATE, FAILED], torn="chat\t101.5\t10")
    assert read_rows(tmp_path) == [LATE, FAILED]


def test_garbage_lines_are_skipped_not_fatal() -> None:
    lines = ["not a row\n", format_row(LATE), "a\tb\tc\td\te\tf\tg\th\ti\tj\n"]
    assert list(parse_rows(lines)) == [LATE]


def test_rows_from_every_process_file_are_merged_in_intended_order(tmp_path: Path) -> None:
    write(tmp_path / "requests-master-h-1.tsv", [FAILED])
    write(tmp_path / "requests-local-h-2.tsv", [LATE])
    (tmp_path / "other.tsv").write_text(format_row(STREAMED))
    assert read_rows(tmp_path) == [LATE, FAILED]


def test_throughput_spans_first_intended_start_to_last_end() -> None:
    rows = [Row("c", 0.0, 0.0, 500.0, 200, True), Row("c", 1.0, 1.0, 1000.0, 200, True)]
    assert throughput_rps(rows) == pytest.approx(1.0)  # two requests over two seconds
    assert throughput_rps([]) == 0.0


def test_the_series_follow_the_load_naming_of_internals() -> None:
    series = {s.name: s for s in row_series([STREAMED, LATE, FAILED])}
    assert series["latency_ms"].values == pytest.approx((250.0, 520.0, 30.0))
    assert series["latency_ms"].unit == "ms"
    assert series["ok"].values == (1.0, 1.0, 0.0)
    assert series["status"].values == (200.0, 200.0, 502.0)
    assert series["t_s"].values == (0.0, 0.0, 1.0)
    assert series["send_lag_ms"].values == pytest.approx((0.0, 500.0, 0.0))
    assert series["ttft_ms"].values == (40.0,)
    assert series["itl_ms"].values == (5.0, 7.5)
    assert len(series["throughput_rps"].values) == 1


def test_a_reply_wrong_only_in_its_usage_is_answered_but_not_ok() -> None:
    zero_usage = Row("chat", 102.0, 102.0, 30.0, 200, False, fidelity=("usage_mismatch",))
    wrong_text = Row("chat", 103.0, 103.0, 30.0, 200, False,
                     fidelity=("usage_mismatch", "wrong_content"))  # fmt: skip
    series = {s.name: s for s in row_series([LATE, zero_usage, wrong_text, FAILED])}
    assert series["ok"].values == (1.0, 0.0, 0.0, 0.0)
    assert series["answered"].values == (1.0, 1.0, 0.0, 0.0)


def test_every_fidelity_kind_has_a_count_even_when_zero() -> None:
    series = {s.name: s for s in row_series([LATE, FAILED])}
    assert series["fidelity_wrong_status"].values == (1.0,)
    for kind in FIDELITY_KINDS:
        assert f"fidelity_{kind}" in series
    assert "ttft_ms" not in series  # nothing was streamed


def test_a_connection_ended_without_a_reply_is_counted_but_the_clients_timeout_is_not() -> None:
    reset = Row(
        "chat", 102.0, 102.0, 5.0, 0, False, fidelity=("dropped",), error="ConnectionResetError"
    )
    waited = Row("chat", 103.0, 103.0, 3e4, 0, False, fidelity=("dropped",), error="TimeoutError")
    series = {s.name: s for s in row_series([LATE, FAILED, reset, waited])}
    assert series["no_reply"].values == (1.0,)
    assert series["fidelity_dropped"].values == (2.0,)


def test_the_start_of_a_failed_reply_survives_the_round_trip_cut_to_its_limit() -> None:
    from harness.runners.support.loadrows import BODY_CHARS

    failed = Row("chat", 1.0, 1.0, 5.0, 500, False, body='{"error":\n"boom"}' + "x" * 400)
    parsed = parse_row(format_row(failed))
    assert parsed.body.startswith('{"error": "boom"}') and len(parsed.body) == BODY_CHARS


def test_rows_written_before_bodies_or_markers_were_kept_still_read() -> None:
    for columns in (10, 11):
        old = "\t".join(format_row(LATE).split("\t")[:columns]) + "\n"
        assert parse_row(old) == LATE


@pytest.mark.parametrize(
    "answer",
    [AnswerFacts("ab" * 32, "stop", (12, 30, 42)),
     AnswerFacts("", "", None, error=True, complete=False, error_text=True, usage_asked=False),
     AnswerFacts("cd" * 32, "length", (None, 3, -1)),
     AnswerFacts("ef" * 32, "stop", (3, 3, 6), usage_asked=False, streamed=False),
     AnswerFacts("ab" * 32, "stop", (3, 3, 6), mojibake=True, broken_characters=True),
     AnswerFacts("ab" * 32, "stop", (3, 3, 6), broken_characters=True, split_characters=True),
     AnswerFacts("ab" * 32, "", None, sse=False),
     AnswerFacts("ab" * 32, "stop", None, without_done=True)],
)  # fmt: skip
def test_the_marker_and_the_answer_facts_survive_the_round_trip(answer: AnswerFacts) -> None:
    row = Row(
        "chat",
        1.0,
        1.0,
        2.0,
        200,
        True,
        marker="sfpm0123456789abcdef",
        answer=answer,
        request='{"messages":[{"role":"user","content":"a\\tb"}]}',
        errors_allowed=True,
    )
    assert parse_row(format_row(row)) == row


def test_a_json_errors_message_leads_its_quote_when_the_body_would_cut_it() -> None:
    details = {"model_used": "claude-3-haiku", "suggestion": "Try using claude-3-haiku " * 8}
    body = json.dumps({"error": {"code": "internal_error", "details": details,
                                 "message": "Event loop is closed"}}).encode()  # fmt: skip
    quoted = quote_body(body)
    assert quoted.startswith('Event loop is closed | {"error": {"code": "internal_error"')
    assert len(quoted) == BODY_CHARS
    assert quote_body(b'{"detail": "Not Found"}') == '{"detail": "Not Found"}'  # whole already
    assert quote_body(b"<html>502</html>") == "<html>502</html>"


def waiting(start_s: float, waited_ms: float, marker: str = "") -> Row:
    return Row("chat", start_s, start_s, waited_ms, 0, False, error=IN_FLIGHT, marker=marker)


def test_a_request_held_past_every_reply_is_kept_as_no_reply_and_the_windows_cut_is_not(
    tmp_path: Path,
) -> None:
    replied = [Row("chat", 100.0 + i, 100.0 + i, 400.0 + i, 200, True) for i in range(3)]
    held, cut = waiting(102.3, 7700.0, "m1"), waiting(109.8, 150.0, "m2")
    write(tmp_path / "requests-local-h-1.tsv", [*replied, held, cut])
    rows, in_flight = read_window(tmp_path)
    assert rows == [*replied, Row("chat", 102.3, 102.3, 7700.0, 0, False, error=HELD,
                                  marker="m1")]  # fmt: skip
    assert in_flight == InFlight(requests=2, held=1, longest_wait_ms=7700.0, held_after_ms=2000.0)
    series = {s.name: s.values for s in row_series(rows)}
    assert series["no_reply"] == (1,) and max(series["latency_ms"]) == 7700.0
    # The client was still waiting: nothing was passed on to it.
    assert client_replies(rows) == {}
    assert read_rows(tmp_path) == rows


def test_a_wait_a_few_replies_long_is_the_windows_ordinary_cut_not_a_held_request() -> None:
    # A short window of slow replies: the last request sent may outwait them all (R64).
    slow = Row("chat", 100.0, 100.0, 900.0, 200, True)
    rows, in_flight = settle_in_flight([slow, waiting(101.0, 1500.0)])
    assert rows == [slow] and (in_flight.requests, in_flight.held) == (1, 0)
    assert in_flight.held_after_ms == 2700.0


def test_an_open_loop_request_no_user_was_free_to_send_is_kept_not_ok_but_not_the_targets() -> None:
    # R90: 2 sent and answered, one held by the target, 3 scheduled that no user could send
    # (overdue 3.5, 2.5 and 1.5 s at the end) and one due 20 ms ago, while its user read a reply.
    sent = [Row("chat", 100.0 + i, 100.0 + i, 50.0, 200, True) for i in range(2)]
    never = [Row("chat", 101.5 + i, 105.0, 0.0, 0, False, error=UNSENT) for i in range(3)]
    just_due = Row("chat", 104.98, 105.0, 0.0, 0, False, error=UNSENT)
    rows, in_flight = settle_in_flight([*sent, *never, just_due, waiting(102.0, 3000.0)])
    # An unsent one's wait is no reply's time: 3 s against 50 ms replies is held all the same;
    # unsent ones overdue past 2 s (and 3 x the median reply) count, the rest are the cut.
    assert len(rows) == 5 and (in_flight.requests, in_flight.held) == (1, 1)
    assert (in_flight.due, in_flight.overdue_after_ms) == (2, 2000.0)
    series = {s.name: s.values for s in row_series(rows)}
    assert series["ok"] == (1.0, 1.0, 0.0, 0.0, 0.0) and series["no_reply"] == (1,)
    assert max(series["latency_ms"]) == pytest.approx(3500.0)  # its wait, a lower bound
    assert throughput_rps([*sent, *never]) == pytest.approx(2 / 1.05)  # only what was answered
    assert unsent(rows) == 2
    assert schedule_kept(rows, in_flight) == {"scheduled": 7, "unsent": 2, "due": 2, "waiting": 0}


def test_each_request_whose_fate_the_windows_end_decided_is_flagged_for_the_answers_claims() -> (
    None
):
    # R115: the answers claims set apart the requests never sent and those still held at the end.
    sent = [Row("chat", 100.0 + i, 100.0 + i, 50.0, 200, True) for i in range(2)]
    never = Row("chat", 101.5, 105.0, 0.0, 0, False, error=UNSENT)
    rows, _ = settle_in_flight([*sent, never, waiting(102.0, 3000.0)])
    series = {s.name: s.values for s in row_series(rows)}
    assert series["unsent"] == (0.0, 0.0, 1.0, 0.0)
    assert series["held"] == (0.0, 0.0, 0.0, 1.0)
