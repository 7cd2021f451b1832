"""Ids for responses and requests: UUID-shaped, unique, cheap."""

from __future__ import annotations

import random


class IdMaker:
    """Unique UUID-shaped ids from a random per-process prefix and the request's sequence number.

    Cheaper than `uuid.uuid4` on the hot path; unique within a run and, through the prefix,
    across runs and worker processes.
    """

    def __init__(self, rng: random.Random) -> None:
        self._prefixes = {kind: new_uuid(rng.getrandbits(128))[:24] for kind in _ID_KINDS}
        self._completion = f"chatcmpl-{rng.getrandbits(64):016x}"
        # A reply's ids as JSON strings (UTF-8) are these and `seq` in hex, 12 digits (10 for the
        # completion id; upper-case for the response id): formatted in place, they cost a
        # reply no call (`rendering`).
        self.generation_open = b'"' + self._prefixes["generation"].encode()
        self.response_open = b'"' + self._prefixes["response"].upper().encode()
        self.completion_open = b'"' + self._completion.encode()

    def uuid(self, kind: str, seq: int) -> str:
        """`kind` is one of request, generation, response."""
        return f"{self._prefixes[kind]}{seq:012x}"

    def completion(self, seq: int) -> str:
        return f"{self._completion}{seq:010x}"


_ID_KINDS = ("request", "generation", "response")


def new_uuid(bits: int) -> str:
    """A version-4-looking UUID string from 128 random bits."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits & 3]}{h[17:20]}-{h[20:]}"
