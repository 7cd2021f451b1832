"""Errors the CLI turns into a one-line message and an exit code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.records import RunRecord


class UsageError(Exception):
    """Bad input from the user (arguments, files, URLs): exit code 2, one line, no traceback."""


class Unavailable(UsageError):
    """A tool or facility a step needs is missing (the message says how to get it): the command
    exits 2; `sfperf validate` skips that step with the message and goes on."""


class CheckFailed(Exception):
    """A gate or claim check failed where the user asked for failure: exit code 1."""


class RunFailed(Exception):
    """A tool sfperf drives failed (a locust child crashed): exit code 1, one line saying how,
    with its log's telling line and path; `records` keep what it measured before (marked
    partial). `sfperf validate` marks the step failed and still writes its report."""

    def __init__(self, message: str, records: Sequence[RunRecord] = ()) -> None:
        super().__init__(message)
        self.records = list(records)
