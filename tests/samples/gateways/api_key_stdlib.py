"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib) that
wants a client credential, as LiteLLM's master key and most hosted gateways do: every route but
`/health` answers 401 unless the request carries `Authorization: Bearer <key>`.

No defect: the credential is a capability sfperf must have (`--target-header`, or
`OPENAI_API_KEY`), sent by every client it runs: discovery's probe, the warm-up, the locust
users, the sweep's and the profile's clients, and `--target-metrics`.

Usage: python api_key_stdlib.py --api-key KEY --port 8010 [--config FILE] [--state-dir DIR]
(or the key in SFGW_API_KEY)
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys

import models_api as api
import stdlib_gateway as stdlib


class Gateway(stdlib.CountingGateway):
    """The OpenAI chat endpoint over the Models API, for clients holding the key."""

    def __init__(self, settings: api.Settings, api_key: str) -> None:
        super().__init__(settings)
        self.api_key = api_key

    def admits(self, authorization: str | None) -> bool:
        """True when the request carries this gateway's key (compared in constant time)."""
        expected = f"Bearer {self.api_key}".encode()
        return hmac.compare_digest((authorization or "").encode(), expected)


class Handler(stdlib.CountingHandler):
    gateway: Gateway

    def admitted(self) -> bool:
        """Answer 401 (and False) unless the client sent the key."""
        if self.gateway.admits(self.headers.get("Authorization")):
            return True
        body = api.error_body("missing or wrong API key", "authentication_error", "invalid_api_key")
        self.reply(401, body, {"WWW-Authenticate": "Bearer"})
        return False


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--api-key", default=os.environ.get("SFGW_API_KEY", ""))
    known, rest = parser.parse_known_args()
    if not known.api_key:
        sys.exit("api-key-stdlib: give --api-key KEY (or SFGW_API_KEY)")
    settings = api.load_settings("api-key-stdlib", rest)
    stdlib.serve(Gateway(settings, known.api_key), Handler)


if __name__ == "__main__":
    main()
