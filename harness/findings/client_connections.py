"""How a target treats its own clients' connections, as the load's clients saw them (R101).

The twin of `protocol.no_connection_reuse` on the client's side: a gateway that closes the
connection after every reply (`Connection: close`, or HTTP/1.0 without keep-alive) makes each
client request open a new one, a TCP handshake (and behind HTTPS a TLS one) before it is sent.
Pure: a window's counts in, a finding out.
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
class ClientConnections:
    """A window's replies (with a status), those that said the target closes the connection
    after them (`closed`), and how long each new connection its clients opened took
    (`connect_ms`; a client's first request opens one too)."""

    replies: int
    closed: int
    connect_ms: Sequence[float] = ()


def closes_client_connections(seen: ClientConnections) -> Finding | None:
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


def _cost(seen: ClientConnections) -> str:
    if not seen.connect_ms:
        return ""
    median_ms = statistics.median(seen.connect_ms)
    return f"; here, on loopback, opening one took the client {median_ms:.2f} ms (median)"
