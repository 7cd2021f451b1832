"""Open-loop arrival schedules: requests start at planned times, whatever the target does.

A closed-loop client waits for each reply before sending the next request, so a stalled target
also stalls the client and the stall never shows in the latencies ("coordinated omission"). Here
every request has an *intended* start time fixed in advance; latency is counted from it, so a
request that could only be sent late carries its wait in its latency.

Pure code (no locust, no gevent): the load child paces its users with it, tests drive it with a
fake clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

ARRIVALS = ("constant", "poisson")
# The most users an open loop is given by default: greenlets and connections one locust process
# keeps well on a small machine (`users_for`).
MAX_OPEN_USERS = 200
# By default an open loop's users outlast a target (or its upstream) holding every request this
# long, or the whole window when shorter: rate x this many, bounded (`users_for`). The client's
# timeout.
OPEN_STALL_S = 30.0


@dataclass
class ArrivalSchedule:
    """Intended start times (seconds on the caller's clock) for one stream of requests.

    `constant`: one arrival every 1/rate s; `poisson`: exponential gaps with mean 1/rate s.
    Independent Poisson streams add up to a Poisson stream, so N users at rate/N each make one
    arrival process at `rate` without sharing state across processes or hosts.
    """

    rate_rps: float
    arrival: str
    start_s: float
    rng: random.Random = field(default_factory=random.Random)
    _next_s: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate_rps <= 0:
            raise ValueError(f"rate_rps must be > 0, got {self.rate_rps}")
        if self.arrival not in ARRIVALS:
            raise ValueError(f"arrival must be one of {ARRIVALS}, got {self.arrival!r}")
        self._next_s = self.start_s + self._gap_s()

    def _gap_s(self) -> float:
        if self.arrival == "constant":
            return 1.0 / self.rate_rps
        return self.rng.expovariate(self.rate_rps)

    def next_s(self) -> float:
        """The next intended start time; each call moves the schedule on by one arrival."""
        due = self._next_s
        self._next_s += self._gap_s()
        return due

    def due_before(self, end_s: float) -> list[float]:
        """The intended starts before `end_s` not taken yet (taken now): the requests a user
        stopped at `end_s` never sent, because it was still waiting on the target (R90)."""
        due: list[float] = []
        while self._next_s < end_s:
            due.append(self.next_s())
        return due


def user_schedule(
    rate_rps: float, users: int, arrival: str, start_s: float, seed: int
) -> ArrivalSchedule:
    """The schedule of one of `users` users sharing a total `rate_rps`.

    Constant streams get a random phase in their first period so that users spread out instead
    of firing in lockstep.
    """
    rng = random.Random(seed)
    per_user_rps = rate_rps / users
    if arrival != "constant":
        return ArrivalSchedule(per_user_rps, arrival, start_s, rng)
    # The first arrival falls at the phase itself, inside the first period: one period later,
    # 100 users at 20 req/s (5 s apart each) would send nothing in a 5 s window.
    period_s = 1.0 / per_user_rps
    return ArrivalSchedule(per_user_rps, arrival, start_s + rng.uniform(0.0, period_s) - period_s,
                           rng)  # fmt: skip


def users_for(rate_rps: float, stall_s: float, least: int, most: int = MAX_OPEN_USERS) -> int:
    """Users an open loop at `rate_rps` needs to keep to its schedule while the target holds
    each request up to `stall_s` (Little's law: rate x time held), between `least` and `most`.
    With fewer, a stalled target keeps every user waiting and the schedule is not kept."""
    return max(least, min(most, math.ceil(rate_rps * stall_s)))


def wait_for_slot(
    schedule: ArrivalSchedule, clock: Callable[[], float], sleep: Callable[[float], object]
) -> float:
    """Sleep until the next intended start (not at all when already late); return that time."""
    intended_s = schedule.next_s()
    delay_s = intended_s - clock()
    if delay_s > 0:
        sleep(delay_s)
    return intended_s


def latency_from_intended_ms(intended_s: float, end_s: float) -> float:
    """Latency as the user saw it: from the planned start to the end, queueing included."""
    return (end_s - intended_s) * 1000.0
