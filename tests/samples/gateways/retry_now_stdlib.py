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

import json
import sys
import urllib.parse
from http.server import ThreadingHTTPServer
from typing import Any

import models_api as api


def no_wait(delay_s: float) -> None:
    """The defect: the delay the retry policy asks for (Retry-After included) is not waited."""


class Gateway:
    """The OpenAI chat endpoint over the Models API."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.tokens = api.TokenCache(self.fetch_token, settings.token_file)

    def fetch_token(self) -> dict[str, Any]:
        form = urllib.parse.urlencode(self.settings.token_form).encode()
        content = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = api.urllib_post(self.settings.token_url, form, content, self.settings.timeout_s)
        if answer.status != 200:
            raise api.UpstreamError.from_answer(answer)
        return dict(json.loads(answer.body))

    def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        """The completion for one chat request; UpstreamError when the Models API fails."""
        data = json.dumps(api.chat_body(asked)).encode()
        url, timeout_s = api.chat_url(model), self.settings.timeout_s

        def send(bearer: str) -> api.Answer:
            return api.urllib_post(url, data, api.headers(bearer), timeout_s)

        reply = api.call(send, self.tokens.get, self.settings.max_attempts, sleep=no_wait)
        return api.chat_completion(reply, asked["model"])


class Handler(api.JsonHandler):
    gateway: Gateway

    def do_GET(self) -> None:
        if self.path == "/health":
            self.reply(200, {"status": "ok", "python": sys.executable})
        elif self.path == "/v1/models":
            self.reply(200, api.models_listing(self.gateway.settings.models))
        else:
            self.no_route()

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
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
    settings = api.load_settings("retry-now-stdlib")
    Handler.gateway = Gateway(settings)
    server = ThreadingHTTPServer((settings.host, settings.port), Handler)
    server.daemon_threads = True
    print(api.banner(settings, "http.server"), flush=True)
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
