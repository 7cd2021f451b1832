"""Errors the CLI turns into a one-line message and an exit code."""


class UsageError(Exception):
    """Bad input from the user (arguments, files, URLs): exit code 2, one line, no traceback."""


class Unavailable(UsageError):
    """A tool or facility a step needs is missing (the message says how to get it): the command
    exits 2; `sfperf validate` skips that step with the message and goes on."""


class CheckFailed(Exception):
    """A gate or claim check failed where the user asked for failure: exit code 1."""
