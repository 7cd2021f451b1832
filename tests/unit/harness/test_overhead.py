"""What a gateway adds: latency over the upstream's busy time, and how it streams."""

from __future__ import annotations

from typing import Any

import pytest

from harness.join import Joined
from harness.overhead import (
    StreamTiming,
    added_latency_ms,
    stream_behaviour,
    stream_timings,
    upstream_busy_ms,
    upstream_calls,
)
from harness.runners.support.loadrows import Row


def span(t_s: float, duration_s: float, **fields: Any) -> dict[str, Any]:
    return {"t_s": t_s, "duration_s": duration_s, "reply_sha256": "d", "prompt_tokens": 1,
            "completion_tokens": 1} | fields  # fmt: skip


def test_overlapping_calls_count_once_and_gaps_between_them_not_at_all() -> None:
    calls = [span(0.0, 0.1), span(0.05, 0.1), span(1.0, 0.2)]
    assert upstream_busy_ms(calls) == pytest.approx(350.0)


def test_added_latency_is_the_client_latency_minus_the_upstreams_busy_time() -> None:
    ok = Joined(Row("chat", 0.0, 0.0, 500.0, 200, True), (span(0.0, 0.1), span(0.3, 0.1)))
    failed = Joined(Row("chat", 0.0, 0.0, 900.0, 502, False), (span(0.0, 0.1),))
    assert added_latency_ms([ok, failed]) == [pytest.approx(300.0)]
    assert upstream_calls([ok, failed]) == [2.0, 1.0]


def streamed(start_s: float, ttft_ms: float, gaps_ms: tuple[float, ...]) -> Row:
    return Row("chat-stream", start_s, start_s, 2000.0, 200, True, ttft_ms, gaps_ms)


def test_stream_timing_puts_the_first_token_against_the_end_of_the_upstream_reply() -> None:
    # The mock's t_s 0 was at epoch 1000 s; the reply ended at t_s 5.2, the first token 5.25.
    joined = Joined(streamed(1004.0, 1250.0, (20.0, 20.0)), (span(5.0, 0.2),))
    undelivered = Joined(streamed(1004.0, 1250.0, ()), (span(5.0, 0.2, reply_sha256=None),))
    (timing,) = stream_timings([joined, undelivered], mock_epoch_s=1000.0)
    assert timing.lag_ms == pytest.approx(50.0)
    assert (timing.spread_ms, timing.chunks) == (40.0, 3)


@pytest.mark.parametrize(
    ("timing", "mode"),
    [(StreamTiming(1.0, 0.3, 60), "relayed"), (StreamTiming(2.0, 1200.0, 61), "paced"),
     (StreamTiming(1.0, 0.0, 1), "one-event"), (StreamTiming(-300.0, 1.0, 10), "early"),
     (StreamTiming(143.5, 0.02, 7), "held")],
)  # fmt: skip
def test_each_streaming_behaviour_is_named(timing: StreamTiming, mode: str) -> None:
    behaviour = stream_behaviour([timing, timing, timing])
    assert behaviour["mode"] == mode and behaviour["requests"] == 3
    assert behaviour["says"]


def test_a_stream_held_back_then_sent_at_once_is_not_said_to_be_relayed_as_it_arrives() -> None:
    # R124: Go without Flush, nginx's buffering: 7 chunks within 0.02 ms, 143 ms late.
    said = stream_behaviour([StreamTiming(143.5, 0.02, 7)] * 3)["says"]
    assert said.startswith("holds the stream 144 ms after the upstream's reply, then sends its 7")
    assert "as soon as it arrives" not in said


def test_no_streamed_answer_means_no_streaming_verdict() -> None:
    assert stream_behaviour([]) == {}
