"""Which files a target opened hold the bearer token it sent upstream: credential files known by
what they hold, not by their name (a token kept in `state.db`, `cache.pkl` or `gw.json`).

The mock's tokens are JWTs whose `jti` the journal shows on every Models request. A file holds
one when a JWT in its bytes (JSON, SQLite pages, a pickle and plain text all keep it as it is)
carries a `jti` the target sent in the window. A token stored encrypted or re-encoded is not
seen: the file then keeps the class its name and use give it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

MAX_BYTES = 32 * 1024 * 1024  # read at most this much of a file
# SQLite keeps recent writes in these beside the database until it checkpoints them.
SIBLINGS = ("", "-wal", "-journal")
_SYSTEM = ("/proc/", "/sys/", "/dev/")
_JWT = re.compile(rb"eyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")

ReadBytes = Callable[[str], bytes | None]


def sent_token_ids(entries: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The `jti` of every token the target sent on a request the journal shows."""
    return frozenset(str(e["token_id"]) for e in entries if e.get("token_id"))


def token_ids_in(data: bytes) -> set[str]:
    """The `jti` claims of the JWTs written in `data`."""
    found: set[str] = set()
    for match in _JWT.finditer(data):
        payload = match.group(1)
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            continue
        if isinstance(claims, dict) and claims.get("jti"):
            found.add(str(claims["jti"]))
    return found


def read_head(path: str) -> bytes | None:
    """The first `MAX_BYTES` of a regular file (None: gone, unreadable, a device or a pipe)."""
    if path.startswith(_SYSTEM) or not Path(path).is_file():
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES)
    except OSError:
        return None


def token_files(
    paths: Iterable[str], token_ids: Collection[str], read: ReadBytes = read_head
) -> frozenset[str]:
    """Those of `paths` whose bytes (or their SQLite journal's) hold one of `token_ids`."""
    if not token_ids:
        return frozenset()
    return frozenset(
        path for path in paths
        if any(token_ids_in(data) & set(token_ids)
               for data in (read(path + s) for s in SIBLINGS) if data)
    )  # fmt: skip


def mark_token_files(io: Mapping[str, Any], holders: Collection[str]) -> dict[str, Any]:
    """`io` with `holds_token: 1` on the files of `holders` (the card classes them credential)."""
    files = {path: {**dict(counts), "holds_token": 1} if path in holders else counts
             for path, counts in io.get("files", {}).items()}  # fmt: skip
    return {**dict(io), "files": files}
