"""A synchronous HTTP client in a gateway's profile, and whose thread called it (R104, review7 B8).

An asyncio gateway that calls the upstream with requests, urllib3 or http.client on its event
loop's thread stops every other request for the whole call: it serves one request at a time. The
same client called from a worker thread (`asyncio.to_thread`, `run_in_executor`, anyio's thread
pool) leaves the loop free, and a cap of one there comes from a lock or a pool of one around the
calls. The profiling runner reads from each sample's stack which thread ran the client
(`client_calls`) and keeps it in the profile record (`params.sync_client_calls`); the sweep's cap
of about one request says it (`blocking_call`). Pure: stacks of function names in, words out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.records import RunRecord

PARAM = "sync_client_calls"  # in a profile record's params: `ClientCalls.as_params`
# Where each client's frames are; http.client's and urllib's by their client classes alone, as a
# stdlib server parses headers with http.client and requests asks urllib for proxies.
SYNC_CLIENTS = {"requests/": "requests", "urllib3/": "urllib3", "httplib2/": "httplib2",
                "http/client.py:HTTP": "http.client", "urllib/request.py:urlopen": "urllib",
                "urllib/request.py:OpenerDirector": "urllib"}  # fmt: skip
ASYNC_FRAMEWORKS = ("asyncio", "uvicorn", "hypercorn", "starlette", "fastapi", "litestar",
                    "aiohttp", "sanic", "quart", "tornado", "anyio", "uvloop",
                    "blacksheep")  # fmt: skip
# An event loop's frames below the client's: the call ran on the loop's thread. A worker
# thread's stack starts at threading.py and holds none of these; uvloop's dispatch is C, but
# the asyncio.run (or uvloop.run) that started it still shows.
LOOP_FILES = ("asyncio/base_events.py", "asyncio/events.py", "asyncio/runners.py", "uvloop/")
IMPORTING = "<frozen importlib"  # a module being imported: its frames are no call
CURE = "call the upstream with an async client (httpx.AsyncClient, aiohttp) or in a thread"


@dataclass(frozen=True)
class ClientCalls:
    """The synchronous HTTP clients a profile caught working (the outermost: requests, not the
    urllib3 under it), the frameworks under those called on an event loop's thread, the seconds
    sampled there and in other threads, and whether any event loop ran."""

    clients: tuple[str, ...] = ()
    loops: tuple[str, ...] = ()
    on_loop_s: float = 0.0
    in_thread_s: float = 0.0
    loop_seen: bool = False

    def as_params(self) -> dict[str, Any]:
        return {"clients": list(self.clients), "loops": list(self.loops),
                "on_loop_s": round(self.on_loop_s, 4), "in_thread_s": round(self.in_thread_s, 4),
                "loop_seen": self.loop_seen}  # fmt: skip

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ClientCalls:
        return cls(tuple(params.get("clients", ())), tuple(params.get("loops", ())),
                   float(params.get("on_loop_s", 0.0)), float(params.get("in_thread_s", 0.0)),
                   bool(params.get("loop_seen", False)))  # fmt: skip

    @property
    def on_the_loop(self) -> bool:
        """The clients worked on an event loop's thread at least as long as in other threads."""
        return self.on_loop_s > 0 and self.on_loop_s >= self.in_thread_s


def clients_in(frames: Iterable[str]) -> set[str]:
    """The synchronous HTTP clients whose frames are among `frames` (`path.py:function`)."""
    return {name for part, name in SYNC_CLIENTS.items() if any(part in f for f in frames)}


def frameworks_in(frames: Iterable[str]) -> set[str]:
    """The event-loop frameworks whose frames are among `frames`."""
    return {name for name in ASYNC_FRAMEWORKS if any(f.startswith(f"{name}/") for f in frames)}


def client_calls(stacks: Iterable[tuple[Sequence[str], float]]) -> ClientCalls:
    """Whose thread ran the synchronous HTTP clients of `stacks` (each sample's function
    names, root first, with its sampled seconds): a loop's when an event loop's frame lies
    below the client's outermost frame."""
    sampled_s: dict[tuple[str, ...], float] = {}
    for stack, time_s in stacks:  # samples repeat a few stacks: each is read once
        sampled_s[tuple(stack)] = sampled_s.get(tuple(stack), 0.0) + time_s
    clients: set[str] = set()
    loops: set[str] = set()
    on_loop_s = in_thread_s = 0.0
    for stack, time_s in sampled_s.items():
        first = _client_frame(stack)
        if first is None:
            continue
        clients |= clients_in(stack[first : first + 1])
        if _on_a_loop(stack[:first]):
            on_loop_s += time_s
            loops |= frameworks_in(stack[:first])
        else:
            in_thread_s += time_s
    loop_seen = any(_on_a_loop(stack) for stack in sampled_s)
    return ClientCalls(tuple(sorted(clients)), tuple(sorted(loops)), on_loop_s, in_thread_s,
                       loop_seen)  # fmt: skip


def _client_frame(stack: Sequence[str]) -> int | None:
    """The index of the outermost client frame of a call (None: no client, or an import)."""
    if any(f.startswith(IMPORTING) for f in stack):
        return None
    return next((i for i, f in enumerate(stack) if clients_in((f,))), None)


def _on_a_loop(frames: Sequence[str]) -> bool:
    return any(part in f for f in frames for part in LOOP_FILES)


def blocking_call(records: Iterable[RunRecord], subject: str) -> str:
    """What `subject`'s profile shows of the synchronous HTTP client behind a cap of one
    request at a time ("" when it shows none, or no profile was taken)."""
    profiles = [r for r in records if r.runner == "profile"
                and subject in (r.labels.get("variant"), r.labels.get("target"))]  # fmt: skip
    calls = [ClientCalls.from_params(r.params[PARAM]) for r in profiles if PARAM in r.params]
    if calls:
        return _from_threads(_pooled(calls))
    return _from_frames([s.name.removeprefix("share:") for r in profiles for s in r.series
                         if s.name.startswith("share:")])  # fmt: skip


def _pooled(calls: Sequence[ClientCalls]) -> ClientCalls:
    return ClientCalls(
        tuple(sorted({c for call in calls for c in call.clients})),
        tuple(sorted({loop for call in calls for loop in call.loops})),
        sum(call.on_loop_s for call in calls),
        sum(call.in_thread_s for call in calls),
        any(call.loop_seen for call in calls),
    )


def _from_threads(calls: ClientCalls) -> str:
    """The sentence for a profile that recorded whose thread ran the client."""
    clients = f"{', '.join(calls.clients)} (a synchronous HTTP client)"
    if calls.on_the_loop:
        under = f" (under {', '.join(calls.loops)})" if calls.loops else ""
        return (
            f"its profile shows why: {clients} called on the event loop's own thread{under}: a "
            "blocking call on the event loop, whose one thread waits out each whole upstream "
            f"call, serves one request at a time; {CURE}"
        )
    if calls.in_thread_s > 0 and calls.loop_seen:
        return (
            f"its profile shows {clients} called in worker threads, off any event loop: not a "
            "blocking call on the loop, but a lock or a pool of one thread around those calls"
        )
    return ""


def _from_frames(frames: Sequence[str]) -> str:
    """The sentence for a profile saved before sfperf recorded threads: its top frames alone
    (a sync client's beside an event loop's), said as likely, since a call in a worker thread
    behind a lock leaves the same frames."""
    clients, loops = clients_in(frames), frameworks_in(frames)
    if not clients or not loops:
        return ""
    return (
        f"its profile suggests why: {', '.join(sorted(clients))} (a synchronous HTTP client) "
        f"beside {', '.join(sorted(loops))} (an event loop): likely a blocking call on the "
        "event loop, whose one thread waits out each whole upstream call, serving one request "
        f"at a time (this profile did not record which thread made the calls: in a worker "
        f"thread, a lock around them would cap it the same); {CURE}"
    )
