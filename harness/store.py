"""Saving and loading run directories: `results.json` holds every RunRecord of a run.

Writes are atomic (temp file + rename) so a crash never leaves half a file, and appends hold a
lock so concurrent writers to one run directory lose nothing; loading refuses unknown schema
versions with a clear error and upgrades old ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.files import read_json
from harness.records import SCHEMA_VERSION, RunRecord

RESULTS_FILE = "results.json"
LOCK_FILE = ".results.lock"

# Upgraders from version N to N+1, applied in order to old files.
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see either the old file or the whole new one."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename: readers see the old file or the
    whole new one, and the file gets the mode a plain `open(path, "w")` would give it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temp_beside(path: Path) -> tuple[int, Path]:
    """Create a new, empty temp file in `path`'s directory, mode 0666 less the umask.

    Not `tempfile.mkstemp`: its 0600 would survive the rename, and a report nobody but the
    runner can open is no report for a teammate, a CI artefact or a web server (R81)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:  # 48 random bits met an old name: draw again
            continue


def save_records(run_dir: Path, records: Iterable[RunRecord]) -> Path:
    """Write all `records` as `run_dir/results.json` (replacing it atomically)."""
    document = {"schema_version": SCHEMA_VERSION, "records": [r.as_dict() for r in records]}
    path = run_dir / RESULTS_FILE
    atomic_write_text(path, json.dumps(document, separators=(",", ":")))
    return path


def append_records(run_dir: Path, records: Iterable[RunRecord]) -> Path:
    """Add `records` to those already saved in `run_dir`, skipping any saved before (same
    `run_id`), so a sub-run can be saved the moment it ends and again with the rest. Writers
    in other processes wait their turn (`locked`): none loses another's records."""
    path = run_dir / RESULTS_FILE
    with locked(run_dir):
        existing = load_records(run_dir) if path.exists() else []
        saved = {record.run_id for record in existing}
        new = [record for record in records if record.run_id not in saved]
        if new or not path.exists():
            save_records(run_dir, [*existing, *new])
    return path


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's write lock for the block (an advisory `flock` on LOCK_FILE,
    released by the kernel even when the holder is killed)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def load_records(source: Path) -> list[RunRecord]:
    """Read the records of a run directory (or a results.json path); UsageError if unreadable."""
    path = source / RESULTS_FILE if source.is_dir() else source
    document = upgrade_document(read_json(path, "results"), path)
    try:
        return [RunRecord.from_dict(r) for r in document["records"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} is not a valid results file: {exc!r}") from None


def upgrade_document(document: Any, path: Path) -> dict[str, Any]:
    """Check the schema version and bring an old document up to the current one."""
    if not isinstance(document, dict) or "records" not in document:
        raise UsageError(f"{path} is not an sfperf results file (no 'records')")
    version = document.get("schema_version")
    if not isinstance(version, int) or version < 1 or version > SCHEMA_VERSION:
        raise UsageError(
            f"{path} has schema_version {version!r}; this sfperf reads versions 1..{SCHEMA_VERSION}"
        )
    upgraded: dict[str, Any] = document
    while version < SCHEMA_VERSION:
        upgraded = _UPGRADES[version](upgraded)
        version += 1
        upgraded["schema_version"] = version
    return upgraded
