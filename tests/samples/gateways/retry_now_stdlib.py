"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib). Its one
known defect:

(j) RETRIES AT ONCE. A 423/429/503 from the Models API is retried immediately, up to its
attempt limit: no backoff, and a Retry-After the API sends is ignored, so a throttled upstream
gets a burst of resends exactly when it asked for quiet. A client sees success (the retries
mostly get through), which is why only the upstream's side shows it.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, failures are passed on with a fitting status.

Usage: python retry_now_stdlib.py --port 8011 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import models_api as api
import stdlib_gateway as stdlib


def no_wait(delay_s: float) -> None:
    """The defect: the delay the retry policy asks for (Retry-After included) is not waited."""


def main() -> None:
    stdlib.serve(stdlib.Gateway(api.load_settings("retry-now-stdlib"), sleep=no_wait))


if __name__ == "__main__":
    main()
