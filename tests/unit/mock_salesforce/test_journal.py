from mock_salesforce.counters import Counters
from mock_salesforce.journal import FIELDS, Journal


def entry(seq: int) -> tuple[object, ...]:
    return (seq, *[None] * (len(FIELDS) - 1))


def test_the_journal_keeps_the_newest_entries_and_counts_the_dropped() -> None:
    journal = Journal(3)
    for seq in range(1, 6):
        journal.append(entry(seq))
    assert [e["seq"] for e in journal.since(0)] == [3, 4, 5]
    assert journal.dropped == 2


def test_since_pages_after_a_sequence_number_with_a_limit() -> None:
    journal = Journal(10)
    for seq in range(1, 8):
        journal.append(entry(seq))
    assert [e["seq"] for e in journal.since(4)] == [5, 6, 7]
    assert [e["seq"] for e in journal.since(0, limit=2)] == [1, 2]
    assert set(journal.since(6)[0]) == set(FIELDS)


def test_a_zero_sized_journal_keeps_nothing() -> None:
    journal = Journal(0)
    journal.append(entry(1))
    assert journal.since(0) == [] and journal.dropped == 1


def test_counters_add_up_and_reset() -> None:
    counters = Counters()
    counters.count("chat-generations", 200, "official-chat-generations", None, 5.0)
    counters.count("chat-generations", 500, None, "500", 2.5)
    counters.count_token_check("valid")
    snapshot = counters.snapshot()
    assert snapshot["requests"] == 2
    assert snapshot["by_status"] == {"200": 1, "500": 1}
    assert snapshot["by_fault"] == {"500": 1}
    assert snapshot["injected_latency_ms_total"] == 7.5
    assert snapshot["by_token_status"] == {"valid": 1}
    counters.reset()
    assert counters.snapshot()["requests"] == 0
