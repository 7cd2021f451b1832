"""Counts the child's file opens per path with an audit hook (`open` events: builtin open,
io.open, os.open, pathlib) and writes the io report atomically.

`reads` and `writes` count opens by access mode (an O_RDWR open counts as both); the hook cannot
see individual read() calls. Module loading (.py/.pyc/extension files) is counted apart, as
`module_opens`, so imports do not drown the files a gateway opens on purpose.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from typing import Any

MODULE_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth")


def access_kinds(flags: int) -> tuple[int, int]:
    """(reads, writes) that an open with these os flags stands for."""
    access = flags & os.O_ACCMODE
    return int(access in (os.O_RDONLY, os.O_RDWR)), int(access in (os.O_WRONLY, os.O_RDWR))


class FileCounter:
    """Audit-hook target: per-path {opens, reads, writes}, plus module opens apart."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, int]] = {}
        self.module_opens = 0
        self.paused = False
        self._lock = threading.Lock()

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        # Called for every audit event in the process: bail out fast.
        if event != "open" or self.paused:
            return
        path = args[0]
        if isinstance(path, int) or path is None:
            return  # open(fd) wraps an existing descriptor: no new open of a path
        self.count(os.fsdecode(path), args[2] if len(args) > 2 and args[2] else 0)

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
