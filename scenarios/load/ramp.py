"""ramp: users climb to `-u` in five equal steps over 80% of the run, then hold the peak.

Each step holds long enough to read the latency at that load from the `t_s` series.
"""

from locust import LoadTestShape, task

from scenarios.load._sfperf import ChatUser, shape_options, shape_time_s
from scenarios.load._shapes import ramp_users


class RampChat(ChatUser):
    """Sends chat completions back to back."""

    @task
    def chat_completion(self) -> None:
        self.chat()


class Ramp(LoadTestShape):
    """Steps of `-u`/5 users (see `_shapes.ramp_users`)."""

    def tick(self) -> tuple[int, float] | None:
        options = shape_options(self)
        users = ramp_users(shape_time_s(self), options.num_users, options.sfperf_duration)
        return None if users is None else (users, options.spawn_rate)
