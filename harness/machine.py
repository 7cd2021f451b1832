"""How busy the machine was while something was measured: the load average and the CPU count at
a load run's or a sweep point's start and end, kept in its record (`params.machine_load`).

A claim about concurrency is only meaningful with the CPU it had: the reference async
gateway's gain over the threaded one was 17% at a load average of 0.2 on 2 cores and about 5%
at 2-4. Reports print the load beside such claims and warn when it exceeded the cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.records import RunRecord

PARAM = "machine_load"


def load_average() -> float | None:
    """The 1-minute load average (None where the system keeps none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def machine_load(
    start: float | None, read: Callable[[], float | None] = load_average
) -> dict[str, Any]:
    """The `params.machine_load` of a step that began at load `start`: `cpu_count`,
    `load_1m_start`, `load_1m_end` (now)."""
    return {"cpu_count": os.cpu_count() or 1, "load_1m_start": start, "load_1m_end": read()}


@dataclass(frozen=True)
class LoadSpan:
    """The lowest and highest 1-minute load averages seen over some records, and the cores."""

    low: float
    high: float
    cpu_count: int

    @property
    def overloaded(self) -> bool:
        """More runnable processes than cores at some point: some waited for a CPU."""
        return self.high > self.cpu_count

    def describe(self) -> str:
        """`machine load 0.2-0.4 on 2 CPUs`, and a warning when it exceeded them."""
        shown = f"{self.low:.1f}" if round(self.low, 1) == round(self.high, 1) else (
            f"{self.low:.1f}-{self.high:.1f}")  # fmt: skip
        said = f"machine load {shown} (1-min average) on {self.cpu_count} CPUs"
        if self.overloaded:
            said += (f"; ⚠️ the load exceeded the {self.cpu_count} CPUs during the measurement: "
                     "processes waited for a core, which shrinks what concurrency can gain; "
                     "measure again on a quieter machine")  # fmt: skip
        return said


def load_span(records: Iterable[RunRecord]) -> LoadSpan | None:
    """The load the machine had over `records` (None: none of them recorded it)."""
    loads: list[float] = []
    cpus = 0
    for record in records:
        recorded: Mapping[str, Any] = record.params.get(PARAM) or {}
        loads += [float(v) for k, v in recorded.items() if k.startswith("load_") and v is not None]
        cpus = max(cpus, int(recorded.get("cpu_count") or 0))
    if not loads or not cpus:
        return None
    return LoadSpan(min(loads), max(loads), cpus)


def load_note(records: Iterable[RunRecord]) -> str:
    """`; machine load ...` to put beside a claim on `records` ("" when none recorded it)."""
    span = load_span(records)
    return "" if span is None else f"; {span.describe()}"
