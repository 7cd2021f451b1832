"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib). Its one
known defect:

(m) CHARACTERS CUT ACROSS STREAM CHUNKS. A stream is re-chunked by size, not by words: the
reply's UTF-8 is cut every 16 bytes and each piece decoded on its own (`errors="replace"`), so a
character that straddles a cut (two to four bytes beyond ASCII) reaches the client as U+FFFD
replacement characters, "�". Plain (unstreamed) replies are whole and right, and so is any
stream of ASCII text, which is why a test whose texts are all English never sees it.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff, failures are passed on
with a fitting status.

Usage: python byte_chunks_stdlib.py --port 8014 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import models_api as api
import stdlib_gateway as stdlib

CHUNK_BYTES = 16


def byte_pieces(text: str) -> list[str]:
    """The text in deltas of `CHUNK_BYTES` bytes of its UTF-8, each decoded alone."""
    data = text.encode("utf-8")
    return [  # the defect: a character cut in two decodes to replacement characters
        data[at : at + CHUNK_BYTES].decode("utf-8", "replace")
        for at in range(0, len(data), CHUNK_BYTES)
    ]


class Handler(stdlib.Handler):
    def events(self, done: Mapping[str, Any], include_usage: bool) -> list[str]:
        return api.stream_events(done, include_usage, pieces=byte_pieces)


def main() -> None:
    stdlib.serve(stdlib.Gateway(api.load_settings("byte-chunks-stdlib")), Handler)


if __name__ == "__main__":
    main()
