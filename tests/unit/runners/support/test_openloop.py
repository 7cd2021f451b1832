"""Open-loop schedules in virtual time: arrivals are planned, and lateness shows as latency."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from harness.runners.support.openloop import (
    MAX_OPEN_USERS,
    ArrivalSchedule,
    latency_from_intended_ms,
    user_schedule,
    users_for,
    wait_for_slot,
)
from tests.conftest import FakeClock


def test_constant_arrivals_are_evenly_spaced_at_the_rate() -> None:
    schedule = ArrivalSchedule(rate_rps=4.0, arrival="constant", start_s=10.0)
    assert [schedule.next_s() for _ in range(4)] == pytest.approx([10.25, 10.5, 10.75, 11.0])


def test_poisson_gaps_average_one_over_the_rate_and_vary() -> None:
    schedule = ArrivalSchedule(50.0, "poisson", 0.0, random.Random(7))
    times = [schedule.next_s() for _ in range(20_000)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.fmean(gaps) == pytest.approx(1 / 50, rel=0.03)
    # exponential gaps: the standard deviation equals the mean
    assert statistics.stdev(gaps) == pytest.approx(1 / 50, rel=0.05)


def test_the_same_seed_gives_the_same_poisson_schedule() -> None:
    first = user_schedule(100.0, 4, "poisson", 0.0, seed=3)
    second = user_schedule(100.0, 4, "poisson", 0.0, seed=3)
    assert [first.next_s() for _ in range(50)] == [second.next_s() for _ in range(50)]


def test_users_share_the_total_rate() -> None:
    schedules = [user_schedule(200.0, 8, "constant", 0.0, seed=i) for i in range(8)]
    arrivals = [s.next_s() for s in schedules for _ in range(100)]
    in_window = [t for t in arrivals if 1.0 <= t < 3.0]
    # 8 users at 25 req/s each: 400 arrivals in two seconds
    assert len(in_window) == 400


def test_many_users_at_a_low_rate_each_still_send_from_the_start_of_the_window() -> None:
    # 100 users at 20 req/s: one request per user every 5 s, the first inside the first 5 s.
    schedules = [user_schedule(20.0, 100, "constant", 0.0, seed=i) for i in range(100)]
    firsts = [s.next_s() for s in schedules]
    assert all(0.0 <= t < 5.0 for t in firsts) and len([t for t in firsts if t < 2.5]) > 30


def test_a_stopped_user_names_the_starts_it_never_took_and_they_are_taken() -> None:
    schedule = ArrivalSchedule(rate_rps=4.0, arrival="constant", start_s=10.0)
    assert schedule.next_s() == 10.25  # sent; then the target held the user until 11.1
    assert schedule.due_before(11.1) == pytest.approx([10.5, 10.75, 11.0])
    assert schedule.due_before(11.1) == [] and schedule.next_s() == 11.25


def test_an_open_loop_gets_users_for_its_rate_through_a_stall_within_bounds() -> None:
    assert users_for(20.0, 5.0, least=5) == 100  # the whole quick window
    assert users_for(100.0, 30.0, least=10) == MAX_OPEN_USERS
    assert users_for(0.5, 5.0, least=5) == 5


def test_bad_rates_and_arrivals_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_rps"):
        ArrivalSchedule(0.0, "constant", 0.0)
    with pytest.raises(ValueError, match="arrival"):
        ArrivalSchedule(1.0, "bursty", 0.0)


def test_an_early_user_sleeps_until_its_intended_start() -> None:
    clock = FakeClock(0.0)
    schedule = ArrivalSchedule(2.0, "constant", 0.0)
    assert wait_for_slot(schedule, clock, clock.sleep) == 0.5
    assert clock.sleeps == [0.5]
    assert clock.now_s == 0.5


def test_a_late_user_sends_at_once_and_the_wait_counts_as_latency() -> None:
    """A target stall of 2 s: closed-loop timing would hide it, open-loop timing does not."""
    clock = FakeClock(0.0)
    schedule = ArrivalSchedule(10.0, "constant", 0.0)
    latencies_ms = []
    for service_s in (0.01, 2.0, 0.01, 0.01, 0.01):
        intended_s = wait_for_slot(schedule, clock, clock.sleep)
        clock.now_s += service_s
        latencies_ms.append(latency_from_intended_ms(intended_s, clock.now_s))
    # The three requests planned during the stall waited for it: they were sent late, at once.
    assert latencies_ms[0] == pytest.approx(10.0)
    assert latencies_ms[1] == pytest.approx(2000.0)
    assert latencies_ms[2] == pytest.approx(1910.0)
    assert latencies_ms[3] == pytest.approx(1820.0)
    assert len(clock.sleeps) == 2  # no sleep after the stall: the schedule was behind
