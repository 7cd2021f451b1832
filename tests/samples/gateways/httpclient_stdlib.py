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
import json
import sys
import urllib.parse
from http.server import ThreadingHTTPServer
from typing import Any

import models_api as api


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


class Gateway:
    """The OpenAI chat endpoint over the Models API."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.tokens = api.TokenCache(self.fetch_token, settings.token_file)

    def fetch_token(self) -> dict[str, Any]:
        form = urllib.parse.urlencode(self.settings.token_form).encode()
        content = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = https_post(self.settings.token_url, form, content, self.settings.timeout_s)
        if answer.status != 200:
            raise api.UpstreamError.from_answer(answer)
        return dict(json.loads(answer.body))

    def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        """The completion for one chat request (UpstreamError when the upstream failed)."""
        data = json.dumps(api.chat_body(asked)).encode()
        url, timeout_s = api.chat_url(model), self.settings.timeout_s

        def send(bearer: str) -> api.Answer:
            return https_post(url, data, api.headers(bearer), timeout_s)

        reply = api.call(send, self.tokens.get, self.settings.max_attempts)
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
    settings = api.load_settings("httpclient-stdlib")
    Handler.gateway = Gateway(settings)
    server = ThreadingHTTPServer((settings.host, settings.port), Handler)
    server.daemon_threads = True
    print(api.banner(settings, "http.server, http.client"), flush=True)
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
