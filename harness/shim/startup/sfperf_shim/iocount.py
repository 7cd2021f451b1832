"""Counts the child's file opens per path with an audit hook (`open` events: builtin open,
io.open, os.open, pathlib; and `sqlite3.connect`, whose database file SQLite opens in C, where
no `open` event is raised) and writes the io report atomically. Other files C code opens (a
SQLite journal, a C extension's own files) raise no event and stay uncounted.

`reads` and `writes` count opens by access mode (an O_RDWR open counts as both), `appends` the
writes in append mode (a log); the hook cannot see individual read() calls. A temporary file
renamed onto a path (atomic write) is counted as that path's (`renames` says how often). Module
loading (.py/.pyc/extension files) is counted apart, as `module_opens`, so imports do not drown
the files a gateway opens on purpose.

The hook runs for every audit event of the process, on the target's own threads, so it is kept
cheap: other events return after one comparison, an open adds one to a counter keyed by (path,
flags) (reads and writes are worked out from the flags when a report is asked for), and the
absolute form of each absolute path is remembered rather than recomputed.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from typing import Any

MODULE_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth")
MEMO_LIMIT = 4096  # paths remembered; forgotten all at once past it (a new temp file a request)
_MODULE = "\0module"  # the key of every module file (no path holds a NUL): counted apart
_get_ident = threading.get_ident


def access_kinds(flags: int) -> tuple[int, int]:
    """(reads, writes) that an open with these os flags stands for. A truncated or brand-new
    file (O_TRUNC, O_EXCL: `w+`, mkstemp) has nothing to read, whatever its access mode."""
    access = flags & os.O_ACCMODE
    fresh = bool(flags & (os.O_TRUNC | os.O_EXCL))
    reads = access == os.O_RDONLY or (access == os.O_RDWR and not fresh)
    return int(reads), int(access in (os.O_WRONLY, os.O_RDWR))


def tally(counter: itertools.count[int]) -> int:
    """How many times `next()` was called on a fresh `itertools.count()`."""
    return int(repr(counter)[len("count(") : -1])


class FileCounter:
    """Audit-hook target: opens per absolute path and open flags, module opens apart, and how
    many audit events it saw (`events()`: the hook's own work, which `overhead` prices).

    Counters are `itertools.count` objects: `next()` on one is a single C call, so threads
    never lose a count and the hot path takes no lock (a lock only guards creating one)."""

    def __init__(self) -> None:
        self.paused = False
        self.ignored_thread: int | None = None  # the shim's own snapshot thread
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Start every count from zero (a forked child: what came before is its parent's)."""
        with self._lock:
            self._opens: dict[str, dict[int, itertools.count[int]]] = {}  # key -> flags -> n
            self._paths: dict[str, dict[int, itertools.count[int]]] = {}  # as opened -> same
            self._moved: dict[tuple[str, int], int] = {}  # opens of renamed temp files
            self.renames: dict[str, int] = {}
        self.forget_events()

    def forget_events(self) -> None:
        """Count audit events from zero (after the shim's own calibration)."""
        self._events = itertools.count()

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        # Every audit event of the process comes through here: one comparison for most; for an
        # open, two dict lookups and no call that can be avoided (a call costs as much).
        next(self._events)
        if event != "open":
            if event == "os.rename" and args[2] == -1 and args[3] == -1 and not self._ignored():
                self.renamed(os.fsdecode(args[0]), os.fsdecode(args[1]))
            elif event == "sqlite3.connect":
                self.connected(args[0])
            return
        path = args[0]
        if path.__class__ is not str:
            if isinstance(path, int) or path is None:
                return  # open(fd) wraps an existing descriptor: no new open of a path
            path = os.fspath(path)  # a path-like object
            if path.__class__ is not str:
                path = os.fsdecode(path)
        if self.paused or (self.ignored_thread is not None and _get_ident() == self.ignored_thread):
            return
        flags = (args[2] or 0) if len(args) > 2 else 0
        per_flags = self._paths.get(path) or self._file(path)
        counter = per_flags.get(flags)
        if counter is None:
            with self._lock:
                counter = per_flags.setdefault(flags, itertools.count())
        next(counter)

    def connected(self, database: object) -> None:
        """Count a `sqlite3.connect` as one open of its database file (none for an in-memory
        or temporary database)."""
        opened = sqlite_file(database)
        if opened is not None:
            self.count(*opened)

    def _ignored(self) -> bool:
        return self.paused or (
            self.ignored_thread is not None and _get_ident() == self.ignored_thread
        )

    def count(self, path: str, flags: int) -> None:
        """Add one open of `path` with os `flags`, as if the process had opened it."""
        self.hook("open", (path, None, flags))

    def _file(self, path: str) -> dict[int, itertools.count[int]]:
        """The counters of the file `path` names, remembered for `path` when it is absolute
        (a relative path's file depends on the working directory)."""
        key = _MODULE if path.endswith(MODULE_SUFFIXES) else os.path.abspath(path)
        with self._lock:
            per_flags = self._opens.setdefault(key, {})
            if os.path.isabs(path):
                if len(self._paths) >= MEMO_LIMIT:
                    self._paths.clear()
                self._paths[path] = per_flags
        return per_flags

    def renamed(self, source: str, target: str) -> None:
        """Fold the opens of a temporary file into the file it atomically replaced, so a
        write-to-temp-then-rename counts as a write of the real file (one `renames` more)."""
        source, target = os.path.abspath(source), os.path.abspath(target)
        with self._lock:
            counters = self._opens.pop(source, {})
            self._paths = {p: c for p, c in self._paths.items() if c is not counters}
            moved = {flags: tally(counter) for flags, counter in counters.items()}
            for path, flags in [key for key in self._moved if key[0] == source]:
                moved[flags] = moved.get(flags, 0) + self._moved.pop((path, flags))
            if not moved:
                return
            for flags, n in moved.items():
                self._moved[target, flags] = self._moved.get((target, flags), 0) + n
            self.renames[target] = self.renames.get(target, 0) + 1

    def events(self) -> int:
        """Audit events the hook has seen (every event of the process, not only opens)."""
        return tally(self._events)

    def snapshot(self) -> tuple[dict[str, dict[str, int]], int]:
        """Per path {opens, reads, writes[, appends][, renames]}, and the module opens."""
        with self._lock:
            opens = {(path, flags): tally(counter) for path, per_flags in self._opens.items()
                     for flags, counter in per_flags.items()}  # fmt: skip
            for key, n in self._moved.items():
                opens[key] = opens.get(key, 0) + n
            renames = dict(self.renames)
        module_opens = sum(n for (path, _), n in opens.items() if path == _MODULE)
        files: dict[str, dict[str, int]] = {}
        for (path, flags), n in opens.items():
            if path == _MODULE or n == 0:
                continue
            reads, writes = access_kinds(flags)
            entry = files.setdefault(path, {"opens": 0, "reads": 0, "writes": 0})
            entry["opens"] += n
            entry["reads"] += reads * n
            entry["writes"] += writes * n
            if writes and flags & os.O_APPEND:
                entry["appends"] = entry.get("appends", 0) + n
        for path, n in renames.items():
            files.setdefault(path, {"opens": 0, "reads": 0, "writes": 0})["renames"] = n
        return files, module_opens

    def total_opens(self) -> int:
        """Every counted open, module files included."""
        files, module_opens = self.snapshot()
        return sum(entry["opens"] for entry in files.values()) + module_opens


def sqlite_file(database: object) -> tuple[str, int] | None:
    """The file a `sqlite3.connect(database)` opens and its os flags (read-write, created when
    missing; read-only for a `file:` URI with `mode=ro`); None for an in-memory or temporary
    database. A `file:` name is read as a URI: sqlite3 takes it as one with `uri=True`, which
    the audit event does not say, and no one names a file `file:...` otherwise."""
    if not isinstance(database, (str, bytes, os.PathLike)):
        return None
    name = os.fsdecode(database)
    flags = os.O_RDWR | os.O_CREAT
    if name.startswith("file:"):
        from urllib.parse import parse_qs, unquote, urlsplit

        uri = urlsplit(name)
        mode = parse_qs(uri.query).get("mode", [""])[-1]
        if mode == "memory":
            return None
        name = unquote(uri.path)
        flags = os.O_RDONLY if mode == "ro" else flags
    if name in ("", ":memory:"):
        return None
    return name, flags


def write_json_atomic(path: str, document: dict[str, Any]) -> None:
    """Write `document` so readers see the old file or the whole new one, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # Not mkstemp: its 0600 would outlive the rename; a plain file's mode (0666 less the umask).
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
