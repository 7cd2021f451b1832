"""streaming: chat completions with `stream: true`.

Time to first token (`ttft_ms`) and inter-token latency (`itl_ms`) are measured at the client,
from the arrival of each SSE content chunk; the reassembled text goes through the fidelity check.
"""

from locust import task

from scenarios.load._sfperf import ChatUser


class StreamingChat(ChatUser):
    """Sends streamed chat completions."""

    stream = True

    @task
    def chat_completion(self) -> None:
        self.chat(name="chat-stream")
