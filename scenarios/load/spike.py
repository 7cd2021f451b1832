"""spike: a quarter of `-u` users, all `-u` for the middle fifth of the run, then back down.

Shows how fast the target absorbs a sudden burst and recovers after it (`t_s` series).
"""

from locust import LoadTestShape, task

from scenarios.load._sfperf import ChatUser, shape_options, shape_time_s
from scenarios.load._shapes import spike_users


class SpikeChat(ChatUser):
    """Sends chat completions back to back."""

    @task
    def chat_completion(self) -> None:
        self.chat()


class Spike(LoadTestShape):
    """Base load, burst, base load (see `_shapes.spike_users`); users arrive at once."""

    def tick(self) -> tuple[int, float] | None:
        options = shape_options(self)
        users = spike_users(shape_time_s(self), options.num_users, options.sfperf_duration)
        return None if users is None else (users, max(options.spawn_rate, float(users)))
