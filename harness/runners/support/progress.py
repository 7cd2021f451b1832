"""One progress display for every runner: a rich bar on stderr, silent when not wanted.

Runners take a `Progress`-like callback instead of printing, so tests and `sfperf validate` stay
quiet; commands create the bar with `progress_bar(...)` and hand its `advance` to the runner.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# advance(steps, description): called by runners as they go; description may be "" (unchanged).
Advance = Callable[[float, str], None]


def no_progress(steps: float, description: str) -> None:
    """The default `Advance`: shows nothing."""


@contextmanager
def progress_bar(
    total: float, description: str, *, enabled: bool | None = None
) -> Iterator[Advance]:
    """A rich progress bar on stderr for `total` steps; `enabled=None` shows it only on a TTY."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield no_progress
        return
    # rich is imported here so `sfperf --help` and quiet runs never pay for it.
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(steps: float, text: str) -> None:
            bar.update(task, advance=steps, description=text or None)

        yield advance
