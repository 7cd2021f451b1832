"""The machine's load while something was measured, recorded and said beside the figures."""

from __future__ import annotations

from harness.machine import LoadSpan, load_note, load_span, machine_load
from harness.records import Environment, RunRecord

ENV = Environment("3.11", "Linux", "cpu", 2, "host", "abc", False, "0.1.0")


def measured(machine: dict[str, object] | None) -> RunRecord:
    params = {} if machine is None else {"machine_load": machine}
    return RunRecord("load", "steady", params, ENV, ())


def test_a_step_records_the_cores_and_the_load_at_its_start_and_end() -> None:
    recorded = machine_load(0.25, read=lambda: 1.5)
    assert recorded["load_1m_start"] == 0.25 and recorded["load_1m_end"] == 1.5
    assert recorded["cpu_count"] >= 1


def test_the_span_covers_every_start_and_end_of_the_records_that_recorded_one() -> None:
    records = [measured({"cpu_count": 2, "load_1m_start": 0.4, "load_1m_end": 1.1}),
               measured({"cpu_count": 2, "load_1m_start": 0.2, "load_1m_end": None}),
               measured(None)]  # fmt: skip
    assert load_span(records) == LoadSpan(0.2, 1.1, 2)
    assert load_span([measured(None)]) is None and load_note([measured(None)]) == ""


def test_a_load_past_the_cores_is_warned_about_and_one_within_them_is_not() -> None:
    assert LoadSpan(0.2, 0.2, 2).describe() == "machine load 0.2 (1-min average) on 2 CPUs"
    assert not LoadSpan(1.0, 2.0, 2).overloaded
    busy = LoadSpan(1.9, 3.4, 2)
    assert busy.overloaded and "⚠️ the load exceeded the 2 CPUs" in busy.describe()
