"""How a target speaks to its clients: connections closed after every reply (R101), streams
ended without [DONE] (R131)."""

from __future__ import annotations

from harness.card.measures import WindowObservation
from harness.fidelity import AnswerFacts
from harness.findings import Severity
from harness.findings.client_side import ClientSide, closes_client_connections, stream_without_done
from harness.runners.load import retries_record
from harness.runners.support.loadrows import Row


def test_a_target_that_closes_every_client_connection_is_a_warn_with_its_cost() -> None:
    found = closes_client_connections(ClientSide(126, 126, [0.2, 0.3, 0.25] * 42))
    assert found is not None
    assert (found.name, found.severity, found.count) == (
        "closes_client_connections", Severity.WARN, 126)  # fmt: skip
    assert found.explanation.startswith(
        "the target closes its client's connection after 100% of its replies (`Connection: "
        "close`, or HTTP/1.0 without keep-alive): each client request opens a new connection"
    )
    assert "opening one took the client 0.25 ms (median)" in found.explanation


def test_kept_alive_connections_a_few_closes_or_a_short_window_are_no_finding() -> None:
    assert closes_client_connections(ClientSide(126, 0, [0.2] * 8)) is None
    assert closes_client_connections(ClientSide(126, 60)) is None
    assert closes_client_connections(ClientSide(9, 9)) is None


def test_a_windows_rows_give_what_its_clients_saw_of_their_connections() -> None:
    closing = Row("chat", 1.0, 1.0, 2.0, 200, True, connect_ms=0.3, closed=True)
    reused = Row("chat", 1.0, 1.0, 2.0, 200, True)
    unanswered = Row("chat", 1.0, 1.0, 2.0, 0, False, connect_ms=0.1, error="ConnectionRefused")
    undone = Row("chat", 1.0, 1.0, 2.0, 200, True, ttft_ms=9.0,
                 answer=AnswerFacts("ab" * 32, "stop", None, without_done=True))  # fmt: skip
    window = [closing] * 20 + [reused, unanswered, undone]
    observed = WindowObservation("steady-closed", 1.0, journal=())
    graded = retries_record(observed, "gw", "steady-closed", False, window)
    assert graded is not None
    assert graded.get("finding:closes_client_connections").values == (20.0,)
    assert graded.get("finding:stream_without_done").values == (1.0,)


def test_streams_whole_but_without_done_are_a_warn_and_a_done_everywhere_is_none() -> None:
    found = stream_without_done(ClientSide(21, 0, streams=21, without_done=21))
    assert found is not None and (found.name, found.count) == ("stream_without_done", 21)
    assert found.explanation.startswith("100% of its streams ended without `data: [DONE]`")
    assert stream_without_done(ClientSide(21, 0, streams=21)) is None
