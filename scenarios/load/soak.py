"""soak: a moderate constant load held for a long time (default 10 minutes).

Nothing differs from `steady` but the duration: the per-request `t_s` series shows drift
(leaks, growing queues, token expiry mid-run) as latency rising over time.
"""

from locust import task

from scenarios.load._sfperf import ChatUser


class SoakChat(ChatUser):
    """Sends chat completions for the whole (long) run."""

    @task
    def chat_completion(self) -> None:
        self.chat()
