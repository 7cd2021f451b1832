"""Nothing measured is lost: sub-runs handed over as they end, the rest carried by an interrupt."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from harness.records import RunRecord

# keep(records): called by a runner with each sub-run's records (a sweep point, a profiled
# target) the moment the sub-run ends, so the caller can save them before the next one starts.
Keep = Callable[[Sequence[RunRecord]], None]


def keep_nothing(records: Sequence[RunRecord]) -> None:
    """The default `Keep`: the caller saves the records the runner returns."""


class Interrupted(KeyboardInterrupt):
    """Raised by a runner stopped by Ctrl-C; `records` (marked partial) are what it measured.

    It is a KeyboardInterrupt, so a caller that does not know it still stops; a command catches
    it, saves `records` and exits as interrupted.
    """

    def __init__(self, records: Sequence[RunRecord]) -> None:
        super().__init__(f"interrupted with {len(records)} partial record(s)")
        self.records = list(records)
