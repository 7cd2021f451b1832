"""Ctrl-C during a run that measured something: the records so far travel with the interrupt."""

from __future__ import annotations

from collections.abc import Sequence

from harness.records import RunRecord


class Interrupted(KeyboardInterrupt):
    """Raised by a runner stopped by Ctrl-C; `records` (marked partial) are what it measured.

    It is a KeyboardInterrupt, so a caller that does not know it still stops; a command catches
    it, saves `records` and exits as interrupted.
    """

    def __init__(self, records: Sequence[RunRecord]) -> None:
        super().__init__(f"interrupted with {len(records)} partial record(s)")
        self.records = list(records)
