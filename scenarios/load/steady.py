"""steady: a constant load, `-u` users in a closed loop or `--rate` req/s in an open loop."""

from locust import task

from scenarios.load._sfperf import ChatUser


class SteadyChat(ChatUser):
    """Sends chat completions back to back (closed loop) or on its schedule (open loop)."""

    @task
    def chat_completion(self) -> None:
        self.chat()
