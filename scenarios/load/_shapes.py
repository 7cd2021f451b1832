"""User counts over time for the shaped scenarios (`ramp`, `spike`): pure functions of time.

The locustfiles wrap them in a `LoadTestShape`; keeping the arithmetic here lets tests check
it without locust. Each returns the user count at `t_s` seconds, or None once the run is over.
"""

from __future__ import annotations

RAMP_STEPS = 5
SPIKE_BASE_SHARE = 0.25  # users outside the spike, as a share of the peak
SPIKE_WINDOW = (0.4, 0.6)  # the spike, as shares of the duration


def ramp_users(t_s: float, users: int, duration_s: float) -> int | None:
    """Climb to `users` in equal steps over the first 80% of the run, then hold the peak."""
    if t_s >= duration_s:
        return None
    climb_s = 0.8 * duration_s
    step = min(RAMP_STEPS, int(t_s / climb_s * RAMP_STEPS) + 1)
    return max(1, round(users * step / RAMP_STEPS))


def spike_users(t_s: float, users: int, duration_s: float) -> int | None:
    """A quarter of the peak, the whole peak in the middle fifth of the run, then back down."""
    if t_s >= duration_s:
        return None
    start, end = SPIKE_WINDOW
    if start * duration_s <= t_s < end * duration_s:
        return users
    return max(1, round(users * SPIKE_BASE_SHARE))
