"""Sample gateway on the standard library, served under a path prefix. NO KNOWN DEFECT: its
routes are only where a company gateway or an OpenAI `base_url` of `http://host/openai/v1`
puts them, `/openai/health`, `/openai/v1/models` and `/openai/v1/chat/completions`; anything at
the root is a 404. With `SFGW_CHAT_ONLY=1` it serves only `POST /openai/v1/chat/completions`
(no health route, no model listing), as many thin proxies do: OpenAI clients call neither.

A harness that drops the prefix, or insists on a health route or a model listing, measures a
run of 404s: anything it blames on this gateway is the harness's.

Usage: [SFGW_CHAT_ONLY=1] python prefixed_stdlib.py --port 8012 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import os

import models_api as api
import stdlib_gateway as stdlib

PREFIX = "/openai"
CHAT_ONLY = os.environ.get("SFGW_CHAT_ONLY") == "1"


class Handler(stdlib.Handler):
    """The shared routes, under PREFIX only."""

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        under = self.path.startswith(PREFIX + "/")
        # Outside the prefix nothing is served: the shared routes see a path none of them has.
        self.path = self.path.removeprefix(PREFIX) if under else "/outside" + self.path
        return parsed

    def do_GET(self) -> None:
        if CHAT_ONLY:
            self.no_route()
        else:
            super().do_GET()


def main() -> None:
    settings = api.load_settings("prefixed-stdlib")
    stdlib.serve(stdlib.Gateway(settings), Handler, framework=f"http.server under {PREFIX}")


if __name__ == "__main__":
    main()
