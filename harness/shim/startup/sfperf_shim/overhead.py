"""What the shim costs the process it runs in, estimated from its own counts.

Each kind of work the shim does on the target's own threads (an audit event handed to the
hook, an open counted, a host checked, a URL rewritten) is timed once at start-up, in the
target's interpreter (best of 3 batches); a report multiplies those unit costs by how often each
happened and adds the CPU time of the shim's snapshot thread. Beside it, the process's whole
CPU time, so a window's `shim_cpu_s / process_cpu_s` is the shim's share of what the target
spent. An estimate, not a measurement of every cycle: cache effects and the patched libraries'
extra call frames are left out. Stdlib only; Python >= 3.8.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .iocount import FileCounter
from .redirect import Redirector

CALIBRATION_EVENT = "sfperf.shim.calibrate"
_SAMPLE_PATH = "/sfperf-shim-calibration/token.json"
_SAMPLE_URL = "https://api.salesforce.com/einstein/platform/v1/models/m/chat-generations"


@dataclass(frozen=True)
class UnitCosts:
    """Nanoseconds per unit of the shim's work, measured in this process."""

    event_ns: float  # one audit event through the hook (any event: most return at once)
    open_ns: float  # counting one open, beyond the event
    host_check_ns: float  # `Redirector.handles`, once per aiohttp request
    url_check_ns: float  # `Redirector.rewrite` of a Salesforce URL (the dearer case)

    def as_dict(self) -> dict[str, float]:
        return {
            "event": round(self.event_ns, 1),
            "open": round(self.open_ns, 1),
            "host_check": round(self.host_check_ns, 1),
            "url_check": round(self.url_check_ns, 1),
        }


def per_call_ns(call: Callable[[], object], number: int = 500, repeat: int = 3) -> float:
    """Nanoseconds per call, best of `repeat` batches (a busy machine only ever adds time)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter_ns()
        for _ in range(number):
            call()
        best = min(best, time.perf_counter_ns() - started)
    return best / number


def _audit() -> None:
    sys.audit(CALIBRATION_EVENT)


def install_hook(counter: FileCounter) -> UnitCosts:
    """Add `counter.hook` as an audit hook and time what it costs (2-5 ms, once)."""
    without_ns = per_call_ns(_audit)
    sys.addaudithook(counter.hook)
    event_ns = max(per_call_ns(_audit) - without_ns, 0.0)
    counter.forget_events()  # the calibration's own
    scratch, sample = FileCounter(), (_SAMPLE_PATH, "r", os.O_RDONLY)
    open_ns = per_call_ns(lambda: scratch.hook("open", sample)) - per_call_ns(
        lambda: scratch.hook("other", sample)
    )
    redirector = Redirector("http://127.0.0.1:9")
    return UnitCosts(
        event_ns=event_ns,
        open_ns=max(open_ns, 0.0),
        host_check_ns=per_call_ns(lambda: redirector.handles("127.0.0.1")),
        url_check_ns=per_call_ns(lambda: redirector.rewrite(_SAMPLE_URL)),
    )


def account(
    units: UnitCosts, counter: FileCounter, redirector: Redirector | None, poller_cpu_s: float
) -> dict[str, Any]:
    """The shim's work so far in this process, its estimated CPU and the process's CPU."""
    events, opens = counter.events(), counter.total_opens()
    host_checks = redirector.host_checks if redirector else 0
    url_checks = redirector.url_checks if redirector else 0
    work_ns = (events * units.event_ns + opens * units.open_ns
               + host_checks * units.host_check_ns + url_checks * units.url_check_ns)  # fmt: skip
    return {
        "shim_cpu_s": work_ns / 1e9 + poller_cpu_s,
        "process_cpu_s": time.process_time(),
        "poller_cpu_s": poller_cpu_s,
        "audit_events": events,
        "opens": opens,
        "host_checks": host_checks,
        "url_checks": url_checks,
        "unit_ns": units.as_dict(),
    }
