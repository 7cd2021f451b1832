"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib). Its one
known defect:

(c) ERROR TEXT INSIDE A 200. When the Models API fails for good (after the retries), the gateway
answers 200 with a normal-looking completion whose text is the error ("Error: Models API answered
429: ..."). A client, and any statistics counting statuses, sees a success.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff, bad requests get a 4xx.
No third-party package is needed: it runs from a bare virtualenv.

Usage: python error_200_stdlib.py --port 8003 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

from typing import Any

import models_api as api
import stdlib_gateway as stdlib


class Gateway(stdlib.Gateway):
    def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        """The completion for one chat request; an upstream failure is dressed up as one."""
        try:
            return super().chat(asked, model)
        except api.UpstreamError as exc:  # the defect: the failure goes out as a 200 answer
            return api.completion("error", asked["model"], f"Error: {exc.message}", "stop", {})


def main() -> None:
    stdlib.serve(Gateway(api.load_settings("error-200-stdlib")))


if __name__ == "__main__":
    main()
