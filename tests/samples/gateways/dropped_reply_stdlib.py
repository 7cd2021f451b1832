"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib). Its one
known defect:

(i) A REQUEST LEFT WITHOUT A REPLY. When the Models API fails for good (after the retries), the
handler lets the error escape: http.server logs the traceback and closes the client's connection
without a status line, as a WSGI worker that crashes does. The client sees its connection reset.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff, bad requests get a 4xx.
No third-party package is needed: it runs from a bare virtualenv.

Usage: python dropped_reply_stdlib.py --port 8010 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import models_api as api
import stdlib_gateway as stdlib


class Handler(stdlib.Handler):
    def upstream_failed(self, error: api.UpstreamError) -> None:
        """The defect: the failure escapes the handler (no reply is ever written)."""
        raise error


def main() -> None:
    stdlib.serve(stdlib.Gateway(api.load_settings("dropped-reply-stdlib")), Handler)


if __name__ == "__main__":
    main()
