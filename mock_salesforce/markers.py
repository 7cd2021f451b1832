"""Request markers: a word a client puts in each prompt so the journal can name it again.

A gateway may rewrite a request on its way upstream (flatten chat messages into one prompt, add a
system prompt, change whitespace, route it to another model) but it passes the client's words on.
A marker is one such word, `sfpm` and 16 hex digits, unique per client request; the journal lists
the markers in each request the mock saw, so a client can tell which upstream calls a gateway
made for each of its own requests (and what the mock answered them).
"""

from __future__ import annotations

import random
import re

PREFIX = "sfpm"
# Searched in the raw body, where a marker may follow an escape (`\nsfpm...`), so only its end is
# bounded: a longer hex run is not a marker.
_PATTERN = re.compile(rb"sfpm[0-9a-f]{16}(?![0-9a-f])", re.IGNORECASE)


def new_marker(rng: random.Random) -> str:
    """A fresh marker: `sfpm` and 64 random bits in hex (collisions are left to chance)."""
    return f"{PREFIX}{rng.getrandbits(64):016x}"


def find_markers(raw: bytes) -> tuple[str, ...]:
    """Every marker in `raw` (a request body as sent), lower-cased, each once, in order."""
    found = [match.decode("ascii").lower() for match in _PATTERN.findall(raw)]
    return tuple(dict.fromkeys(found))
