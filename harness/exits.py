"""A target the harness started that exited mid-run, as records keep it (params `target_exit`):
when, in which window, after how many requests, said before anything measured after it (R85).
The connections refused once it was gone are a dead process, not the gateway's failure under
load."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.records import RunRecord

if TYPE_CHECKING:  # pure: what reports read, without the runners and targets behind it
    from harness.runners.support.loadrows import Row
    from harness.targets.process import ProcessExit

PARAM = "target_exit"  # in a load record's or sweep point's params: `exit_params`
# The exit's time is when sfperf's watcher saw it; the connections the dying process dropped
# closed a moment before, on the client's clock: a failure this close before it was the exit's.
EXIT_SLACK_S = 1.0


def exit_params(
    ended: ProcessExit, where: str, started_s: float, before: int, after: int = 0
) -> dict[str, Any]:
    """What a record keeps of a target's exit during (or before) the window `where` that began
    at `started_s` (epoch s): the exit, its time, the requests answered before (`before`) and
    those its exit decided, left out of the window's measures (`after`, `measured_before`)."""
    return {
        "code": ended.code,
        "says": ended.describe(),
        "at": time.strftime("%H:%M:%S", time.localtime(ended.at_s)),
        "after_s": round(ended.at_s - started_s, 2),
        "where": where,
        "requests_before": before,
        "requests_after": after,
    }


def measured_before(rows: Sequence[Row], ended: ProcessExit | None) -> tuple[list[Row], int]:
    """The rows a window measures of a target that exited during it (all when none did): those
    that got a reply, or failed before the exit (`EXIT_SLACK_S` before it was seen); and how
    many its exit decided (in flight as it died, sent or still waiting once it was gone:
    dropped, refused or never sent), which no claim counts against the gateway: a dead process
    is not measured (R85)."""
    if ended is None:
        return list(rows), 0
    kept = [row for row in rows if row.status or row.end_s < ended.at_s - EXIT_SLACK_S]
    return kept, len(rows) - len(kept)


def answered_before(rows: Iterable[Row], at_s: float) -> int:
    """The requests of `rows` sent before `at_s` (epoch s) that got a reply (the exit's time
    is when sfperf saw it: a request refused in between is not counted)."""
    return sum(1 for row in rows if row.status and row.start_s < at_s)


def exit_line(target: str, params: Mapping[str, Any]) -> str:
    """One line: '<target> exited with code 137 (killed: out of memory?) at 23:25:31, 1.2 s
    into steady-closed, after 41 answered request(s): nothing answered after it'."""
    head = f"{target} {params['says']} at {params['at']}"
    if float(params["after_s"]) < 0 and not int(params["requests_before"]):
        return (f"{head}, before {params['where']} began: every request of it was refused, "
                "none reached a gateway")  # fmt: skip
    after = int(params.get("requests_after") or 0)
    left_out = f"; the {after:,} request(s) its exit decided are not measured" if after else ""
    return (f"{head}, {max(0.0, float(params['after_s'])):.1f} s into {params['where']}, after "
            f"{int(params['requests_before']):,} answered request(s): nothing answered after it "
            f"(refused connections, not the gateway's failure under load){left_out}")  # fmt: skip


def exits_said(records: Iterable[RunRecord]) -> list[str]:
    """The `exit_line` of every record that saw its target exit, in order."""
    return [exit_line(r.labels.get("target") or r.labels.get("subject") or "the target",
                      r.params[PARAM]) for r in records if PARAM in r.params]  # fmt: skip
