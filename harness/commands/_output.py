"""Where a measuring command writes: `--out DIR`, or a fresh `results/<timestamp>/`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.errors import RunFailed, UsageError
from harness.records import RunRecord
from harness.runners.support.interrupted import Keep
from harness.settings import load_settings
from harness.store import RESULTS_FILE, append_records


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """The options every measuring command shares: `--quick`, `--out DIR` and `--append`."""
    parser.add_argument("--quick", action="store_true", help="CI-sized run (seconds, not minutes)")
    parser.add_argument(
        "--out", type=Path, default=None,
        help="a new run directory (default: results/<timestamp>/); one that holds an earlier "
        "run is refused unless --append",
    )  # fmt: skip
    parser.add_argument(
        "--append", action="store_true",
        help="add this run's records to the run already in --out (its reports then read both)",
    )  # fmt: skip


def run_dir(out: Path | None, *, append: bool = False, now: dt.datetime | None = None) -> Path:
    """`out` when given, else a new `<results dir>/<UTC timestamp>`; created and checked
    writable now, so a bad --out fails in one line before anything is measured. An --out that
    holds an earlier run is refused unless `append` (docs/internals.md, CLI)."""
    if out is not None:
        directory = writable_dir(out, "--out")
        if not append and (earlier := earlier_run(directory)):
            raise UsageError(f"--out {out} holds an earlier run ({earlier}): give a new "
                             "directory, or --append to add this run's records to it")  # fmt: skip
        return directory
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    root = writable_dir(load_settings().results_dir, "the results directory")
    taken = 1
    while True:  # two runs started in the same second get a directory each
        directory = root / (stamp if taken == 1 else f"{stamp}-{taken}")
        try:
            directory.mkdir()
            return directory
        except FileExistsError:
            taken += 1


def earlier_run(directory: Path) -> str:
    """What `directory` holds of an earlier run ("65 records, 2026-12-04T20:27:58Z"), or ""
    when it holds none (no results.json, or one without records)."""
    path = directory / RESULTS_FILE
    if not path.exists():
        return ""
    try:
        records = json.loads(path.read_text(encoding="utf-8")).get("records") or []
    except (OSError, ValueError, AttributeError) as exc:
        return f"{RESULTS_FILE} unreadable: {exc}"
    starts = sorted(str(r.get("started_at") or "") for r in records if isinstance(r, dict))
    when = f", {starts[0]}" if starts and starts[0] else ""
    return f"{len(records)} record(s){when}" if records else ""


def writable_dir(path: Path, what: str) -> Path:
    """`path`, created if need be; UsageError (one line, exit 2) when it cannot be created or
    written (checked by writing, which also catches read-only file systems)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to {what} {path}: {exc.strerror or exc}") from None
    return path


def writable_file(path: Path, what: str) -> Path:
    """`path` for a file sfperf will write: its directory is created and checked writable."""
    writable_dir(path.parent, f"the directory of {what}")
    return path


def save(directory: Path, records: Sequence[RunRecord]) -> Path:
    """Add `records` to the run directory's results.json and say where they went (stderr)."""
    path = append_records(directory, records)
    partial = sum(r.partial for r in records)
    note = f" ({partial} partial)" if partial else ""
    print(f"saved {len(records)} record(s){note} to {path}", file=sys.stderr)
    return path


def measure(directory: Path, runner: Callable[[Keep], list[RunRecord]]) -> list[RunRecord]:
    """Call `runner(keep)` and save its records: each sub-run the moment `keep` gets it, the rest
    at the end. A stop saves what was measured and raises `Stopped` saying so (one line); a
    failed run (`RunFailed`) saves what it measured before and is raised again."""
    from harness.runners.support.interrupted import Interrupted
    from harness.shutdown import Stopped

    kept: dict[str, RunRecord] = {}

    def keep(records: Sequence[RunRecord]) -> None:
        append_records(directory, records)
        kept.update((record.run_id, record) for record in records)

    try:
        records = runner(keep)
    except KeyboardInterrupt as stop:
        if isinstance(stop, Interrupted):
            keep(stop.records)
        raise Stopped(kept_note(list(kept.values()), directory)) from None
    except RunFailed as failed:
        keep(failed.records)
        raise
    save(directory, records)
    return records


def kept_note(records: Sequence[RunRecord], directory: Path) -> str:
    """What an interrupted command kept: `kept 3 record(s) (1 partial) in DIR/results.json`."""
    if not records:
        return "nothing was measured yet"
    partial = sum(record.partial for record in records)
    note = f" ({partial} partial)" if partial else ""
    return f"kept {len(records)} record(s){note} in {directory / RESULTS_FILE}"
