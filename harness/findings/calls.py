"""Group the mock's journal into logical calls: one request of a gateway and all its retries.

Attempts belong to one call when the same client sent the same body to the same endpoint and
model again after a failure, within a window. A resend after a success starts a new call, so a load
test that repeats a prompt is not mistaken for a retrying client; an attempt is only chained to a
failure that had already been answered, because a client cannot react to a reply it has not seen.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.findings.model import Entry

MODELS_ENDPOINTS = frozenset({"generations", "chat-generations", "embeddings", "feedback"})
# Faults that leave the client without a usable reply, whatever status the mock logged.
BROKEN_FAULTS = frozenset({"reset", "empty", "hang", "truncated", "malformed"})
# Clock slack between the mock logging a reply and the client seeing it.
ORDER_SLACK_S = 0.05


Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One journal entry of a Models request, with the timing the rules need."""

    entry: Entry
    t_s: float
    end_s: float
    status: int | None
    failed: bool
    key: Key

    @property
    def request_id(self) -> str:
        return str(self.entry.get("request_id") or self.entry.get("seq"))

    @property
    def retry_after_s(self) -> float | None:
        value = self.entry.get("retry_after_s")
        return None if value is None else float(value)

    @property
    def token(self) -> tuple[object, object]:
        """The bearer it carried, as its id and expiry: mocks of one seed used to issue the same
        ids, so an id alone could join a token from an earlier mock with a new one."""
        return self.entry.get("token_id"), self.entry.get("token_expires_t_s")


@dataclass(frozen=True)
class Call:
    """A logical call: its first attempt and every retry, in time order."""

    key: Key
    attempts: tuple[Attempt, ...]

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    def gaps_s(self) -> list[float]:
        """Seconds from each failed attempt's reply to the next attempt."""
        pairs = zip(self.attempts, self.attempts[1:], strict=False)
        return [nxt.t_s - prev.end_s for prev, nxt in pairs]


@functools.lru_cache(maxsize=4096)
def client_host(client: object) -> str:
    """The host part of a peer address (`host:port`, `[host]:port`, either with the front
    door's `#N` connection number): retries may come over a new connection (a new port)."""
    text = str(client or "").partition("#")[0]
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    host, sep, port = text.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else text


def is_failure(entry: Entry) -> bool:
    """True when the client got no successful reply from this attempt."""
    status = entry.get("status")
    if entry.get("disconnected") or entry.get("fault") in BROKEN_FAULTS:
        return True
    return not isinstance(status, int) or not 200 <= status < 300


def to_attempt(entry: Entry) -> Attempt:
    """An `Attempt` from a journal entry (duration falls back to the injected latency)."""
    t_s = float(entry.get("t_s") or 0.0)
    duration_s = entry.get("duration_s")
    if duration_s is None:
        duration_s = float(entry.get("latency_ms") or 0.0) / 1000.0
    status = entry.get("status")
    return Attempt(
        entry, t_s, t_s + float(duration_s), status if isinstance(status, int) else None,
        is_failure(entry), call_key(entry),
    )  # fmt: skip


def call_key(entry: Entry) -> Key:
    """What makes two attempts the same call: client host, endpoint, model and body."""
    return (
        client_host(entry.get("client")),
        str(entry.get("endpoint")),
        str(entry.get("model")),
        str(entry.get("body_sha256")),
    )


def models_requests(entries: Iterable[Entry]) -> list[Entry]:
    """The journal entries of Models API requests (token requests and the admin API left out)."""
    return [e for e in entries if e.get("endpoint") in MODELS_ENDPOINTS]


def group_calls(entries: Iterable[Entry], window_s: float) -> list[Call]:
    """The logical calls in `entries` (Models requests only), ordered by their first attempt."""
    chains: list[list[Attempt]] = []
    open_chains: dict[Key, list[list[Attempt]]] = defaultdict(list)
    for attempt in sorted(map(to_attempt, models_requests(entries)), key=lambda a: a.t_s):
        key = attempt.key
        chain = _pick_chain(open_chains[key], attempt, window_s)
        if chain is None:
            chain = []
            chains.append(chain)
        else:
            open_chains[key].remove(chain)
        chain.append(attempt)
        if attempt.failed:
            open_chains[key].append(chain)
    return [Call(c[0].key, tuple(c)) for c in chains]


def _pick_chain(
    candidates: Sequence[list[Attempt]], attempt: Attempt, window_s: float
) -> list[Attempt] | None:
    """The open chain `attempt` retries: the most recently answered failure in the window."""
    fitting = [
        chain
        for chain in candidates
        if chain[-1].end_s - ORDER_SLACK_S <= attempt.t_s <= chain[-1].end_s + window_s
    ]
    return max(fitting, key=lambda chain: chain[-1].end_s, default=None)
