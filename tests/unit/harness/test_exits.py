"""A target that exited mid-run is said first, with when, where and after how many requests;
what came after is not its failure under load (R85)."""

from __future__ import annotations

import os
import signal

from harness.claims import format_value
from harness.exits import PARAM, exit_line, exit_params, exits_said, measured_before
from harness.records import RunRecord, capture_environment
from harness.runners.support.loadrows import Row
from harness.targets.process import ProcessExit


def test_a_kill_and_a_shells_137_are_both_said_as_perhaps_out_of_memory() -> None:
    assert ProcessExit(-signal.SIGKILL, 0.0).describe() == "was killed by SIGKILL (out of memory?)"
    assert ProcessExit(137, 0.0).describe() == (
        "exited with code 137 (128 + SIGKILL: killed, out of memory?)"
    )
    assert ProcessExit(1, 0.0).describe() == "exited with code 1"
    assert ProcessExit(-signal.SIGSEGV, 0.0).describe() == "was killed by SIGSEGV"


def test_a_waitid_result_becomes_the_exit_popen_would_report() -> None:
    killed = os.waitid_result((0, 0, 0, signal.SIGKILL, os.CLD_KILLED))
    exited = os.waitid_result((0, 0, 0, 137, os.CLD_EXITED))
    assert ProcessExit.of(killed, 5.0) == ProcessExit(-signal.SIGKILL, 5.0)
    assert ProcessExit.of(exited, 5.0).code == 137


def test_the_line_says_when_in_which_window_and_after_how_many_requests() -> None:
    params = exit_params(ProcessExit(137, 1_000.0), "steady-closed", 998.8, 12_440)
    assert params["after_s"] == 1.2 and params["requests_before"] == 12_440
    line = exit_line("launch:tornado_gw", params)
    assert line.startswith("launch:tornado_gw exited with code 137 (128 + SIGKILL: killed, out of")
    said = ", 1.2 s into steady-closed, after 12,440 answered request(s): nothing answered after"
    assert said in line
    assert "not the gateway's failure under load" in line


def test_a_target_gone_before_the_window_began_is_said_to_have_received_nothing() -> None:
    params = exit_params(ProcessExit(-9, 1_000.0), "streaming-closed", 1_010.0, 0)
    assert "before streaming-closed began: every request of it was refused" in exit_line(
        "t", params
    )


def test_only_records_that_saw_their_target_exit_are_said() -> None:
    def record(params: dict[str, object]) -> RunRecord:
        return RunRecord("load", "steady", params, capture_environment(), (), {"target": "gw"})

    gone = exit_params(ProcessExit(-9, 10.0), "steady-closed", 9.0, 41)
    said = exits_said([record({}), record({PARAM: gone})])
    assert len(said) == 1 and said[0].startswith("gw was killed by SIGKILL")


def test_counts_are_printed_in_full_never_in_exponent_form() -> None:
    assert format_value(12_440.0, "requests") == "12,440 requests"
    assert format_value(77_780.0, "requests") == "77,780 requests"
    assert format_value(1_244.0, "requests") == "1,244 requests"
    assert format_value(12.5, "ms") == "12.5 ms"


def test_requests_its_exit_decided_are_left_out_of_the_window_and_said_not_measured() -> None:
    # R85's rest: 7,432 refused requests after a death were "left without a reply".
    answered = Row("chat", 100.0, 100.0, 50.0, 200, True)
    failed_before = Row("chat", 100.1, 100.1, 10.0, 0, False, error="ConnectionResetError")
    # Dropped as it died, a moment before sfperf's watcher saw the exit (the client's clock).
    dropped = Row("chat", 101.0, 101.0, 650.0, 0, False, error="HTTPConnectionClosed")
    refused = [Row("chat", 102.0 + i, 102.0 + i, 1.0, 0, False, error="ConnectionRefusedError")
               for i in range(3)]  # fmt: skip
    rows = [answered, failed_before, dropped, *refused]
    assert measured_before(rows, None) == (rows, 0)
    kept, after = measured_before(rows, ProcessExit(137, 101.9))
    assert kept == [answered, failed_before] and after == 4
    params = exit_params(ProcessExit(137, 101.9), "steady-closed", 99.0, 1, after)
    assert exit_line("gw", params).endswith("; the 4 request(s) its exit decided are not measured")


def test_a_window_with_answered_requests_is_never_said_to_have_reached_no_gateway() -> None:
    # review7 B9: a start placed late made after_s negative beside 3 answered requests.
    params = exit_params(ProcessExit(-9, 1_000.0), "the sweep's concurrency 8", 1_000.4, 3)
    line = exit_line("t", params)
    assert "every request of it was refused" not in line
    assert ", 0.0 s into the sweep's concurrency 8, after 3 answered request(s)" in line
