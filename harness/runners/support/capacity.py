"""What one load client can open: file descriptors and ephemeral ports, checked before a run.

A closed loop at concurrency N holds N connections at once. Past the process's descriptor
limit or the machine's ephemeral port range the client fails (EMFILE, EADDRNOTAVAIL), and those
failures would read as the target's; so a level the client cannot hold is refused up front.
"""

from __future__ import annotations

import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError

PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Descriptors the harness holds besides its connections: logs, pipes to children, the mock's
# admin calls, the event loop's own; and ports left in TIME_WAIT by closed connections.
RESERVED_FDS = 128
RESERVED_PORTS = 1024


@dataclass(frozen=True)
class ClientCapacity:
    """How many connections this process can hold: its descriptor limit and the port range."""

    fd_limit: int
    ephemeral_ports: int

    @property
    def max_connections(self) -> int:
        return min(self.fd_limit - RESERVED_FDS, self.ephemeral_ports - RESERVED_PORTS)

    def refusal(self, concurrency: int) -> str | None:
        """Why this client cannot hold `concurrency` connections at once, or None."""
        if concurrency + RESERVED_FDS > self.fd_limit:
            return (
                f"concurrency {concurrency} needs {concurrency + RESERVED_FDS} file descriptors "
                f"but this process may open {self.fd_limit} (raise `ulimit -n` or lower --levels)"
            )
        if concurrency + RESERVED_PORTS > self.ephemeral_ports:
            return (
                f"concurrency {concurrency} needs {concurrency + RESERVED_PORTS} ephemeral ports "
                f"but {PORT_RANGE_FILE} allows {self.ephemeral_ports} (lower --levels)"
            )
        return None


def raise_fd_limit() -> int:
    """Lift this process's soft descriptor limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # some sandboxes refuse; the soft limit stands
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def ephemeral_port_count(path: Path = PORT_RANGE_FILE) -> int:
    """Ports in the local range (Linux); the IANA range's size where it cannot be read."""
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return 65535 - 49152 + 1
    return high - low + 1


def client_capacity() -> ClientCapacity:
    """This process's capacity, after lifting the soft descriptor limit as far as allowed."""
    return ClientCapacity(raise_fd_limit(), ephemeral_port_count())


def check_levels(levels: Iterable[int], capacity: ClientCapacity) -> None:
    """UsageError (one line) for the first level the client cannot hold."""
    for level in sorted(levels, reverse=True):
        reason = capacity.refusal(level)
        if reason is not None:
            raise UsageError(f"--levels: {reason}")
