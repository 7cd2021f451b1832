"""Counts the child's file opens per path with an audit hook (`open` events: builtin open,
io.open, os.open, pathlib) and writes the io report atomically.

`reads` and `writes` count opens by access mode (an O_RDWR open counts as both); the hook cannot
see individual read() calls. A temporary file renamed onto a path (atomic write) is counted as
that path's (`renames` says how often). Module loading (.py/.pyc/extension files) is counted
apart, as `module_opens`, so imports do not drown the files a gateway opens on purpose.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from typing import Any

MODULE_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth")


def access_kinds(flags: int) -> tuple[int, int]:
    """(reads, writes) that an open with these os flags stands for. A truncated or brand-new
    file (O_TRUNC, O_EXCL: `w+`, mkstemp) has nothing to read, whatever its access mode."""
    access = flags & os.O_ACCMODE
    fresh = bool(flags & (os.O_TRUNC | os.O_EXCL))
    reads = access == os.O_RDONLY or (access == os.O_RDWR and not fresh)
    return int(reads), int(access in (os.O_WRONLY, os.O_RDWR))


class FileCounter:
    """Audit-hook target: per-path {opens, reads, writes}, plus module opens apart."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, int]] = {}
        self.module_opens = 0
        self.paused = False
        self.ignored_thread: int | None = None  # the shim's own snapshot thread
        self._lock = threading.Lock()

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        # Called for every audit event in the process: bail out fast.
        if self.paused or (self.ignored_thread and threading.get_ident() == self.ignored_thread):
            return
        if event == "open":
            path = args[0]
            if isinstance(path, int) or path is None:
                return  # open(fd) wraps an existing descriptor: no new open of a path
            self.count(os.fsdecode(path), args[2] if len(args) > 2 and args[2] else 0)
        elif event == "os.rename" and args[2] == -1 and args[3] == -1:
            self.renamed(os.fsdecode(args[0]), os.fsdecode(args[1]))

    def renamed(self, source: str, target: str) -> None:
        """Fold the opens of a temporary file into the file it atomically replaced, so a
        write-to-temp-then-rename counts as a write of the real file (one `renames` more)."""
        source, target = os.path.abspath(source), os.path.abspath(target)
        with self._lock:
            moved = self.files.pop(source, None)
            if moved is None:
                return
            entry = self.files.setdefault(target, {"opens": 0, "reads": 0, "writes": 0})
            for key, value in moved.items():
                entry[key] = entry.get(key, 0) + value
            entry["renames"] = entry.get("renames", 0) + 1

    def count(self, path: str, flags: int) -> None:
        """Add one open of `path` with os `flags`."""
        if path.endswith(MODULE_SUFFIXES):
            with self._lock:
                self.module_opens += 1
            return
        reads, writes = access_kinds(flags)
        key = os.path.abspath(path)
        with self._lock:
            entry = self.files.setdefault(key, {"opens": 0, "reads": 0, "writes": 0})
            entry["opens"] += 1
            entry["reads"] += reads
            entry["writes"] += writes

    def snapshot(self) -> tuple[dict[str, dict[str, int]], int]:
        with self._lock:
            return {path: dict(entry) for path, entry in self.files.items()}, self.module_opens


def write_json_atomic(path: str, document: dict[str, Any]) -> None:
    """Write `document` so readers see the old file or the whole new one, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
