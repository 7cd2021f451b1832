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
import json
import os
import sys
import threading
import urllib.parse
from http.server import ThreadingHTTPServer
from typing import Any

import models_api as api


class Gateway:
    """The OpenAI chat endpoint over the Models API, for clients holding the key."""

    def __init__(self, settings: api.Settings, api_key: str) -> None:
        self.settings = settings
        self.api_key = api_key
        self.tokens = api.TokenCache(self.fetch_token, settings.token_file)
        self.lock = threading.Lock()
        self.requests = 0

    def admits(self, authorization: str | None) -> bool:
        """True when the request carries this gateway's key (compared in constant time)."""
        expected = f"Bearer {self.api_key}".encode()
        return hmac.compare_digest((authorization or "").encode(), expected)

    def fetch_token(self) -> dict[str, Any]:
        form = urllib.parse.urlencode(self.settings.token_form).encode()
        content = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = api.urllib_post(self.settings.token_url, form, content, self.settings.timeout_s)
        if answer.status != 200:
            raise api.UpstreamError.from_answer(answer)
        return dict(json.loads(answer.body))

    def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        """The completion for one chat request; UpstreamError when the Models API fails."""
        with self.lock:
            self.requests += 1
        data = json.dumps(api.chat_body(asked)).encode()
        url, timeout_s = api.chat_url(model), self.settings.timeout_s

        def send(bearer: str) -> api.Answer:
            return api.urllib_post(url, data, api.headers(bearer), timeout_s)

        reply = api.call(send, self.tokens.get, self.settings.max_attempts)
        return api.chat_completion(reply, asked["model"])


class Handler(api.JsonHandler):
    gateway: Gateway

    def admitted(self) -> bool:
        """Answer 401 (and False) unless the client sent the key."""
        if self.gateway.admits(self.headers.get("Authorization")):
            return True
        body = api.error_body("missing or wrong API key", "authentication_error", "invalid_api_key")
        self.reply(401, body, {"WWW-Authenticate": "Bearer"})
        return False

    def do_GET(self) -> None:
        if self.path == "/health":
            self.reply(200, {"status": "ok", "python": sys.executable})
        elif not self.admitted():
            return
        elif self.path == "/v1/models":
            self.reply(200, api.models_listing(self.gateway.settings.models))
        elif self.path == "/metrics/performance":
            self.reply(200, {"requests": self.gateway.requests})
        else:
            self.no_route()

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.admitted():
            return
        if self.path != "/v1/chat/completions":
            self.no_route()
            return
        try:
            asked, model = api.parse_chat_request(raw, self.gateway.settings.models)
            done = self.gateway.chat(asked, model)
        except api.BadRequest as exc:
            self.reply(exc.status, exc.body())
            return
        except api.UpstreamError as exc:
            self.reply(exc.client_status, api.upstream_error_body(exc), exc.client_headers)
            return
        stream, usage = api.wants_stream(asked)
        if stream:
            self.stream(api.stream_events(done, usage))
        else:
            self.reply(200, done)


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--api-key", default=os.environ.get("SFGW_API_KEY", ""))
    known, rest = parser.parse_known_args()
    if not known.api_key:
        sys.exit("api-key-stdlib: give --api-key KEY (or SFGW_API_KEY)")
    settings = api.load_settings("api-key-stdlib", rest)
    Handler.gateway = Gateway(settings, known.api_key)
    server = ThreadingHTTPServer((settings.host, settings.port), Handler)
    server.daemon_threads = True
    print(api.banner(settings, "http.server"), flush=True)
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
