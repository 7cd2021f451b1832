"""Sample gateway on the standard library's lowest HTTP level (http.server's
ThreadingHTTPServer, http.client's HTTPSConnection: no URL library at all). It has no defect of
its own: it is the case where only the launch shim's socket seam (the host lookup and the TLS
wrap) can send its Salesforce calls to the mock, since no library seam sees them.

Everything is done right, as in the other samples: the token is cached in memory (and on disk
for the next start), a refused token is replaced once, 423/429/503 are retried with backoff.

Usage: python httpclient_stdlib.py --port 8010 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import http.client
import urllib.parse

import models_api as api
import stdlib_gateway as stdlib


def https_post(url: str, data: bytes, headers: dict[str, str], timeout_s: float) -> api.Answer:
    """POST with http.client over TLS; any status is an answer, no answer an UpstreamError."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPSConnection(parts.netloc, timeout=timeout_s)
    try:
        connection.request("POST", path, body=data, headers=headers)
        response = connection.getresponse()
        return api.Answer(response.status, response.read(), response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException) as exc:
        raise api.UpstreamError(0, f"Models API unreachable: {exc!r}") from None
    finally:
        connection.close()


def main() -> None:
    gateway = stdlib.Gateway(api.load_settings("httpclient-stdlib"), post=https_post)
    stdlib.serve(gateway, framework="http.server, http.client")


if __name__ == "__main__":
    main()
