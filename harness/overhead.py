"""What a gateway adds to the time of a request, from the join of its rows with the journal.

Added latency: the client's latency minus the time the upstream spent on the calls the gateway
made for the request (the union of their spans in the mock's journal, so parallel calls count
once). Token fetches and the gateway's own work, retries' backoff included, are the gateway's.

Streaming: the Models API does not stream, so every gateway has the whole reply before it can
send a token. What differs is what it does then: relay the reply at once (in one event, or
re-chunked, its events leaving together), play it back at a pace of its own, which delays the
last token by the whole playback although the text was there, or hold it in a buffer and send
it late in one burst (R124). Observed: the time from the end of
the upstream reply to the first token (`lag`), from the first token to the last (`spread`), and
the gaps between chunks.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.join import Joined, reply_facts

# A stream whose chunks arrive at least this far apart (median) is paced by the gateway: relayed
# chunks leave together and arrive microseconds apart, a busy machine adds a little.
PACED_GAP_MS = 5.0
# A first token more than this before the upstream's reply ended cannot be the upstream's text.
EARLY_SLACK_MS = 5.0
# A first token this long after the upstream's reply, the chunks then leaving together, was held
# by a buffer: a writer that does not flush each event, a proxy's buffering, gzip on the stream
# (R124). The same bound as the added latency's claim: a busy machine's wait stays under it.
HELD_LAG_MS = 50.0
# Added latency subtracts the mock's measure of its time on the calls (its clock, in its process)
# from the client's measure of the request's: medians within a millisecond of zero, or below it,
# are the two clocks' disagreement, not the gateway's speed (a Go gateway reads -0.05 ms, R91).
ADDED_RESOLUTION_MS = 1.0


def upstream_busy_ms(calls: Sequence[Mapping[str, Any]]) -> float:
    """Milliseconds in which at least one of `calls` was with the upstream."""
    spans = sorted((float(c["t_s"]), float(c["t_s"]) + float(c["duration_s"] or 0)) for c in calls)
    busy_s, reach_s = 0.0, float("-inf")
    for start_s, end_s in spans:
        if end_s > reach_s:
            busy_s += end_s - max(start_s, reach_s)
            reach_s = end_s
    return busy_s * 1000.0


def added_latency_ms(joined: Sequence[Joined]) -> list[float]:
    """Per answered (200) request: client latency minus the upstream's busy time."""
    return [j.row.response_ms - upstream_busy_ms(j.calls) for j in joined if j.row.status == 200]


def added_words(added_ms: float) -> str:
    """An added latency in words: `2.3 ms`, or `under 1 ms (the join's resolution)`."""
    if added_ms < ADDED_RESOLUTION_MS:
        return f"under {ADDED_RESOLUTION_MS:g} ms (the join's resolution)"
    return f"{added_ms:.1f} ms"


def upstream_calls(joined: Sequence[Joined]) -> list[float]:
    """Per joined request: how many Models calls the gateway made for it (1: no retry)."""
    return [float(len(j.calls)) for j in joined]


@dataclass(frozen=True)
class StreamTiming:
    """One streamed answer against the upstream reply behind it (ms)."""

    lag_ms: float  # from the end of the upstream reply to the first token
    spread_ms: float  # from the first token to the last
    chunks: int  # content chunks

    @property
    def gap_ms(self) -> float:
        """The mean gap between two chunks (0 for a single one)."""
        return self.spread_ms / (self.chunks - 1) if self.chunks > 1 else 0.0


def stream_timings(joined: Sequence[Joined], mock_epoch_s: float) -> list[StreamTiming]:
    """The timing of every streamed 200 answer whose upstream reply is in the journal;
    `mock_epoch_s` is when the journal's `t_s` 0 was on the client's clock."""
    timings = []
    for j in joined:
        row = j.row
        delivered = [c for c in j.calls if reply_facts(c) is not None]
        if row.ttft_ms is None or row.status != 200 or not delivered:
            continue
        reply_end_s = mock_epoch_s + max(
            float(c["t_s"]) + float(c["duration_s"]) for c in delivered
        )
        first_token_s = row.start_s + row.ttft_ms / 1000.0
        lag_ms = (first_token_s - reply_end_s) * 1000.0
        timings.append(StreamTiming(lag_ms, sum(row.itl_ms), len(row.itl_ms) + 1))
    return timings


def stream_behaviour(timings: Sequence[StreamTiming]) -> dict[str, Any]:
    """How the gateway streams, in a word (`mode`) and a sentence (`says`), with the medians."""
    if not timings:
        return {}
    lag = statistics.median(t.lag_ms for t in timings)
    spread = statistics.median(t.spread_ms for t in timings)
    chunks = statistics.median(t.chunks for t in timings)
    gaps = [t.gap_ms for t in timings if t.chunks > 1]
    gap = statistics.median(gaps) if gaps and chunks > 1 else 0.0
    mode, says = _stream_mode(lag, spread, chunks, gap)
    return {
        "mode": mode, "says": says, "requests": len(timings), "lag_ms_p50": round(lag, 3),
        "spread_ms_p50": round(spread, 3), "gap_ms_p50": round(gap, 3), "chunks_p50": chunks,
    }  # fmt: skip


def _stream_mode(lag_ms: float, spread_ms: float, chunks: float, gap_ms: float) -> tuple[str, str]:
    if lag_ms < -EARLY_SLACK_MS:
        return "early", (
            f"the first token came {-lag_ms:.0f} ms before the upstream's reply ended: "
            "it cannot be the upstream's text"
        )
    if chunks <= 1:
        return "one-event", (
            f"relays the whole reply in one event, {lag_ms:.1f} ms after the upstream's reply"
        )
    if gap_ms < PACED_GAP_MS and lag_ms >= HELD_LAG_MS:
        return "held", (
            f"holds the stream {lag_ms:.0f} ms after the upstream's reply, then sends its "
            f"{chunks:.0f} chunks at once (within {spread_ms:.1f} ms): a buffer between it and "
            "the client (a writer that does not flush each event, a proxy's buffering, gzip on "
            "text/event-stream) keeps the first token back although the whole text was there"
        )
    if gap_ms >= PACED_GAP_MS:
        return "paced", (
            f"re-chunks after the whole reply and plays it back at its own pace: {chunks:.0f} "
            f"chunks {gap_ms:.1f} ms apart, so the last token comes {spread_ms:.0f} ms after the "
            f"first although the whole text was there {lag_ms:.1f} ms before it"
        )
    return "relayed", (
        f"re-chunks the whole reply as soon as it arrives ({chunks:.0f} chunks within "
        f"{spread_ms:.1f} ms, the first {lag_ms:.1f} ms after the upstream's reply): the Models "
        "API does not stream, so no gateway can do better"
    )
