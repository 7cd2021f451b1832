"""The token-cache simulator against closed-form expectations (fixed-interval arrivals)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import UsageError
from harness.records import RunRecord
from harness.runners.simulate import hit_rate, hit_rate_interval, run_simulation
from harness.runners.support.interrupted import Interrupted
from harness.runners.support.workloads import Arrivals, ProviderConfig, Workload

DAY_H = 24.0


def simulate_one(config: ProviderConfig, *, rpm: float = 60.0, hours: float = DAY_H) -> RunRecord:
    workload = Workload("t", hours, Arrivals("fixed", rpm), (config,), token_lifetime_s=1800.0)
    (record,) = run_simulation(workload)
    return record


def total(record: RunRecord, name: str) -> float:
    return sum(record.get(name).values)


def test_memory_ttl_refreshes_once_per_ttl_minus_buffer() -> None:
    record = simulate_one(ProviderConfig("sane", "memory-ttl", ttl_s=1500.0, buffer_s=300.0))
    # One request a second, a refresh every 1200 s: 72 refreshes in a day, 3 in every hour.
    assert total(record, "requests") == 86_400
    assert record.get("refreshes").values == (3.0,) * 24
    assert total(record, "misses") == 72
    assert hit_rate(record) == pytest.approx(1 - 1 / 1200, abs=1e-12)
    assert total(record, "file_writes") == 72
    assert total(record, "file_reads") == 1  # the store is read once, at start
    assert total(record, "expired_sends") == 0


def test_a_buffer_as_long_as_the_ttl_refreshes_on_every_request() -> None:
    config = ProviderConfig("seed", "memory-ttl", ttl_s=2700.0, buffer_s=2700.0)
    record = simulate_one(config, hours=2)
    assert total(record, "hits") == 0
    assert total(record, "refreshes") == total(record, "requests") == 7200
    assert total(record, "file_writes") == 7200


def test_a_ttl_longer_than_the_token_lifetime_sends_expired_tokens() -> None:
    record = simulate_one(ProviderConfig("long", "memory-ttl", ttl_s=2700.0, buffer_s=300.0))
    # Refresh every 2400 s; the token dies at 1800 s, so 600 requests of each cycle go out
    # expired: 36 cycles a day.
    assert total(record, "refreshes") == 36
    assert total(record, "expired_sends") == 36 * 600
    assert record.params["provider_counters"]["expired_uses"] == 36 * 600  # it agrees


def test_a_client_that_refreshes_after_a_401_sends_one_expired_token_per_token_life() -> None:
    config = ProviderConfig("long", "memory-ttl", ttl_s=2700.0, buffer_s=300.0)
    workload = Workload("t", DAY_H, Arrivals("fixed", 60.0), (config,), on_expired="refresh")
    (record,) = run_simulation(workload)
    # Each token now lives exactly its 1800 s: rejected once at 1800 s, 3600 s, ..., 84600 s.
    assert total(record, "expired_sends") == 47
    assert total(record, "refreshes") == 48
    assert record.labels["on_expired"] == "refresh"


def test_the_file_provider_reads_the_store_on_every_request() -> None:
    record = simulate_one(ProviderConfig("legacy", "file"))
    # Default buffer 300 s on a 1800 s token: refreshes at 0, 1500, ..., 85500 s.
    assert total(record, "file_reads") == total(record, "requests") == 86_400
    assert total(record, "refreshes") == 58
    assert total(record, "file_writes") == 58
    assert total(record, "expired_sends") == 0


def test_sparse_requests_miss_whenever_the_token_aged_out_between_them() -> None:
    # One request every 40 minutes against a 20-minute refresh period: every request misses.
    record = simulate_one(ProviderConfig("s", "memory-ttl", 1500.0, 300.0), rpm=1 / 40, hours=8)
    assert total(record, "requests") == 12
    assert total(record, "hits") == 0


def test_records_carry_the_labels_claims_select_on() -> None:
    record = simulate_one(ProviderConfig("sane", "memory-ttl", 1500.0, 300.0), hours=1)
    assert record.runner == "simulate" and record.scenario == "token-cache"
    assert record.labels == {
        "provider": "memory-ttl", "config": "sane", "ttl_s": "1500", "buffer_s": "300",
        "token_lifetime_s": "1800", "on_expired": "ignore",
    }  # fmt: skip
    assert record.series_names == [
        "requests", "hits", "misses", "refreshes", "file_reads", "file_writes", "expired_sends",
    ]  # fmt: skip
    assert not record.partial


def test_provider_defaults_are_read_back_into_the_labels() -> None:
    record = simulate_one(ProviderConfig("legacy", "file"), hours=1)
    assert record.labels["ttl_s"] == "none"
    assert record.labels["buffer_s"] == "300"


def test_a_partial_hour_at_the_end_is_its_own_bucket() -> None:
    record = simulate_one(ProviderConfig("sane", "memory-ttl", 1500.0, 300.0), hours=2.5)
    assert record.get("requests").values == (3600.0, 3600.0, 1800.0)


def test_ctrl_c_keeps_the_hours_simulated_so_far_marked_partial() -> None:
    configs = (ProviderConfig("a", "file"), ProviderConfig("b", "memory-ttl", 1500.0, 300.0))
    workload = Workload("t", 10.0, Arrivals("fixed", 60.0), configs)
    hours_done = []

    def advance(steps: float, description: str) -> None:
        hours_done.append(steps)
        if len(hours_done) == 3:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as stop:
        run_simulation(workload, advance=advance)
    (record,) = stop.value.records
    assert record.partial
    assert record.labels["config"] == "a"
    assert len(record.get("requests").values) == 3  # the hour whose report was cut short is kept


def test_identical_hours_give_a_zero_width_hit_rate_interval() -> None:
    record = simulate_one(ProviderConfig("sane", "memory-ttl", 1500.0, 300.0), hours=4)
    rate = hit_rate(record)
    assert hit_rate_interval(record) == pytest.approx((rate, rate))


def test_poisson_hours_give_an_interval_around_the_hit_rate() -> None:
    config = ProviderConfig("sane", "memory-ttl", 1500.0, 300.0)
    workload = Workload("t", 24.0, Arrivals("poisson", 0.5), (config,))
    (record,) = run_simulation(workload)
    low, high = hit_rate_interval(record)
    assert low < hit_rate(record) < high
    assert low > 0.0 and high < 1.0


class NeverRefreshes:
    """A user's provider that only knows `get_token`: it keeps its first token forever."""

    def __init__(self, *, store: object, fetch: Any, clock: object) -> None:
        self._fetch = fetch
        self._token: str | None = None

    def get_token(self) -> str:
        if self._token is None:
            self._token = self._fetch().access_token
        return self._token


def test_a_users_provider_class_is_judged_from_outside() -> None:
    config = ProviderConfig("mine", "class", cls=f"{__name__}:NeverRefreshes")
    record = simulate_one(config, hours=1)
    assert total(record, "misses") == 1 and total(record, "hits") == 3599
    # The token dies at 1800 s; every later request (1800 of them) goes out expired.
    assert total(record, "expired_sends") == 1800
    assert record.labels["provider"] == f"{__name__}:NeverRefreshes"
    assert record.params["provider_counters"] == {}  # it keeps no counters: nothing to compare


def test_an_unloadable_provider_class_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no_such_module"):
        simulate_one(ProviderConfig("x", "class", cls="no_such_module:Provider"), hours=1)
