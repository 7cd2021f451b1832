"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib). Its one
known defect:

(l) MOJIBAKE. The Models API's reply is read as latin-1 text, one character a byte (what Node's
`Buffer.toString('binary')` does, or a client that takes ISO-8859-1 when the Content-Type names
no charset), so every character beyond ASCII in a reply reaches the client as two to four others:
"Café, 東京 🚀" becomes "CafÃ©, æ\x9d±äº¬ ð\x9f\x9a\x80". An ASCII-only reply comes out right,
which is why a test whose texts are all English never sees it.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff, failures are passed on
with a fitting status, streams are word by word.

Usage: python latin1_stdlib.py --port 8013 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import models_api as api
import stdlib_gateway as stdlib


def latin1_post(url: str, data: bytes, headers: dict[str, str], timeout_s: float) -> api.Answer:
    """POST with urllib; the answer's body taken as latin-1 text (and sent on as UTF-8)."""
    answer = api.urllib_post(url, data, headers, timeout_s)
    text = answer.body.decode("latin-1")  # the defect: the upstream's UTF-8 is not latin-1
    return api.Answer(answer.status, text.encode("utf-8"), answer.retry_after)


def main() -> None:
    stdlib.serve(stdlib.Gateway(api.load_settings("latin1-stdlib"), post=latin1_post))


if __name__ == "__main__":
    main()
