"""How a target speaks to its own clients, as the load's clients saw it: the connections it
closes after every reply (R101) and the streams it ends without `data: [DONE]` (R131).

The twin of `protocol`'s rules on the client's side. A gateway that closes the connection after
every reply (`Connection: close`, or HTTP/1.0 without keep-alive) makes each client request open a
new one, a TCP handshake (and behind HTTPS a TLS one) before it is sent. A stream that ends
without the `[DONE]` sentinel is read whole by the OpenAI SDKs (they end on the close), but a
hand-written loop waiting for it hangs. Pure: a window's counts in, findings out.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harness.findings.model import Finding, Severity

# Below this many replies a window tells nothing of a habit; from this share on, it is one.
MIN_REPLIES = 10
MOST = 0.9


@dataclass(frozen=True)
class ClientSide:
    """A window's replies (with a status), those that said the target closes the connection
    after them (`closed`), how long each new connection its clients opened took (`connect_ms`; a
    client's first request opens one too), its whole streams and those without `[DONE]`."""

    replies: int
    closed: int
    connect_ms: Sequence[float] = ()
    streams: int = 0
    without_done: int = 0


def closes_client_connections(seen: ClientSide) -> Finding | None:
    """A WARN when (nearly) every reply told the client its connection closes after it."""
    if seen.replies < MIN_REPLIES or seen.closed < MOST * seen.replies:
        return None
    # No counts in the words: the findings of several windows are merged, their counts summed
    # and the first window's words kept; a share holds for each.
    return Finding(
        "closes_client_connections", Severity.WARN, seen.closed, (),
        f"the target closes its client's connection after {seen.closed / seen.replies:.0%} of "
        "its replies (`Connection: close`, or HTTP/1.0 without keep-alive): each client request "
        "opens a new connection, a TCP handshake before it can be sent (behind HTTPS a TLS "
        f"handshake too: one or two more round trips){_cost(seen)}; keep client connections "
        "alive (HTTP/1.1 keep-alive, a server's default unless told to close)",
    )  # fmt: skip


def _cost(seen: ClientSide) -> str:
    if not seen.connect_ms:
        return ""
    median_ms = statistics.median(seen.connect_ms)
    return f"; here, on loopback, opening one took the client {median_ms:.2f} ms (median)"


def stream_without_done(seen: ClientSide) -> Finding | None:
    """A WARN when streams that were otherwise whole ended without `data: [DONE]`."""
    if not seen.without_done:
        return None
    return Finding(
        "stream_without_done", Severity.WARN, seen.without_done, (),
        f"{seen.without_done / max(seen.streams, 1):.0%} of its streams ended without `data: "
        "[DONE]` (their text and finish reason whole): the OpenAI SDKs end on the close and read "
        "them right, but a client loop that waits for [DONE], as the API promises it, hangs "
        "until its timeout; send `data: [DONE]` last",
    )  # fmt: skip


RULES = (closes_client_connections, stream_without_done)
CLIENT_FINDINGS = tuple(rule.__name__ for rule in RULES)
