"""Quotas: rolling-window limits exact at the window edges, the `*` selector, counters, specs."""

from __future__ import annotations

import pytest

from mock_salesforce.errors import ConfigError
from mock_salesforce.quotas import QuotaBook, format_quotas, parse_quotas

CHAT = "chat-generations"


def test_admits_up_to_the_limit_then_rejects_within_the_window() -> None:
    book = QuotaBook({CHAT: 3})
    assert [book.admit(CHAT, t) for t in (0.0, 1.0, 2.0, 3.0, 59.0)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_an_admission_stops_counting_exactly_one_window_later() -> None:
    book = QuotaBook({CHAT: 1})
    assert book.admit(CHAT, 10.0)
    assert not book.admit(CHAT, 69.999)
    assert book.admit(CHAT, 70.0)
    assert not book.admit(CHAT, 129.999)


def test_the_window_rolls_one_admission_at_a_time() -> None:
    book = QuotaBook({CHAT: 2})
    assert book.admit(CHAT, 0.0) and book.admit(CHAT, 30.0)
    assert not book.admit(CHAT, 59.9)
    assert book.admit(CHAT, 60.0)  # the t=0 admission left the window
    assert not book.admit(CHAT, 89.9)  # the t=30 one has not
    assert book.admit(CHAT, 90.0)


def test_rejected_requests_do_not_use_up_quota() -> None:
    book = QuotaBook({CHAT: 1})
    book.admit(CHAT, 0.0)
    for t in range(1, 60):
        book.admit(CHAT, float(t))
    assert book.admit(CHAT, 60.0)


def test_endpoints_without_a_limit_are_never_throttled() -> None:
    book = QuotaBook({"embeddings": 1})
    assert all(book.admit(CHAT, 0.0) for _ in range(10_000))
    assert book.remaining(CHAT, 0.0) is None


def test_limits_are_per_endpoint() -> None:
    book = QuotaBook({CHAT: 1, "embeddings": 1})
    assert book.admit(CHAT, 0.0) and book.admit("embeddings", 0.0)
    assert not book.admit(CHAT, 1.0) and not book.admit("embeddings", 1.0)


def test_the_star_limit_holds_each_endpoint_without_its_own_in_its_own_window() -> None:
    book = QuotaBook({"*": 2, CHAT: 1})
    admitted = [book.admit(e, 0.0) for e in (CHAT, CHAT, "embeddings", "embeddings", "embeddings")]
    assert admitted == [True, False, True, True, False]
    assert book.admit("feedback", 0.0) and book.admit("generations", 0.0)
    assert (book.limit_rpm(CHAT), book.limit_rpm("feedback")) == (1, 2)


def test_counters_count_admissions_and_rejections_per_endpoint() -> None:
    book = QuotaBook({CHAT: 2})
    for _ in range(5):
        book.admit(CHAT, 0.0)
    book.admit("generations", 0.0)
    assert book.counters() == {
        "admitted": {CHAT: 2, "generations": 1},
        "rejected": {CHAT: 3},
    }


def test_retry_after_is_the_time_until_the_oldest_admission_leaves() -> None:
    book = QuotaBook({CHAT: 2})
    book.admit(CHAT, 5.0)
    assert book.retry_after_s(CHAT, 6.0) == 0.0
    book.admit(CHAT, 20.0)
    assert book.retry_after_s(CHAT, 30.0) == pytest.approx(35.0)
    assert book.admit(CHAT, 30.0 + book.retry_after_s(CHAT, 30.0))


def test_remaining_counts_down_and_recovers() -> None:
    book = QuotaBook({CHAT: 3})
    book.admit(CHAT, 0.0)
    book.admit(CHAT, 10.0)
    assert book.remaining(CHAT, 10.0) == 1
    assert book.remaining(CHAT, 60.0) == 2


def test_reset_forgets_admissions_and_counters() -> None:
    book = QuotaBook({CHAT: 1})
    book.admit(CHAT, 0.0)
    book.admit(CHAT, 0.0)
    book.reset()
    assert book.counters() == {"admitted": {}, "rejected": {}}
    assert book.admit(CHAT, 1.0)


def test_a_custom_window_rolls_at_its_own_length() -> None:
    book = QuotaBook({CHAT: 1}, window_s=1.0)
    assert book.admit(CHAT, 0.0) and not book.admit(CHAT, 0.5) and book.admit(CHAT, 1.0)


@pytest.mark.parametrize("limits", [{CHAT: 0}, {CHAT: -5}, {"": 5}, {CHAT: True}])
def test_bad_limits_raise_config_error(limits: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="quota"):
        QuotaBook(limits)


def test_specs_parse_with_optional_units_and_round_trip() -> None:
    limits = parse_quotas("chat-generations=500, embeddings=1000rpm,*=2000/min")
    assert limits == {CHAT: 500, "embeddings": 1000, "*": 2000}
    assert parse_quotas(format_quotas(limits)) == limits


def test_a_bare_number_is_the_limit_of_every_endpoint() -> None:
    assert parse_quotas("300") == {"*": 300}


@pytest.mark.parametrize(
    ("spec", "named_part"),
    [("chat-generations", "chat-generations"), ("chat=lots", "lots"), ("a=1,a=2", "twice")],
)
def test_bad_quota_specs_name_the_bad_part(spec: str, named_part: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_quotas(spec)
    assert named_part in str(info.value)
