"""Sample gateway on Flask (threaded dev server) and requests. Its one known defect:

(a) TOKEN FILE READ ON EVERY REQUEST. The OAuth token lives only in `<state dir>/token.json`;
every chat request opens and parses that file again instead of keeping the token in memory. The
launch shim's io report shows about one open of the token file per Models API request.

Everything else is done right: the token is fetched once (under a lock) and reused until its JWT
expires, a refused token is replaced once, 423/429/503 are retried with backoff.

Usage: python token_file_flask.py --port 8001 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import models_api as api
import requests
from flask import Flask, Response, request


class FileTokens:
    """The token as the file holds it."""

    def __init__(self, settings: api.Settings, http: requests.Session) -> None:
        self.settings = settings
        self.http = http
        self.lock = threading.Lock()

    def __call__(self, stale: str | None) -> str:
        token = api.read_token(self.settings.token_file)  # the defect: a file read per request
        if self._renew(token, stale):
            with self.lock:  # one refresh at a time; another thread may just have done it
                token = api.read_token(self.settings.token_file)
                if self._renew(token, stale):
                    token = self._fetch()
        assert token is not None
        return token.access_token

    @staticmethod
    def _renew(token: api.Token | None, stale: str | None) -> bool:
        return token is None or not token.usable(time.time()) or token.access_token == stale

    def _fetch(self) -> api.Token:
        settings = self.settings
        answer = self.http.post(
            settings.token_url, data=settings.token_form, timeout=settings.timeout_s
        )
        if answer.status_code != 200:
            raise api.UpstreamError(answer.status_code, f"token endpoint: {answer.text[:200]}")
        token = api.parse_token(answer.json(), time.time())
        api.save_token(settings.token_file, token)
        return token


def sender(http: requests.Session, url: str, body: Any, timeout_s: float) -> api.Send:
    def send(bearer: str) -> api.Answer:
        try:
            answer = http.post(url, json=body, headers=api.headers(bearer), timeout=timeout_s)
        except requests.RequestException as exc:
            raise api.UpstreamError(0, f"Models API unreachable: {exc}") from None
        return api.Answer(answer.status_code, answer.content, answer.headers.get("Retry-After"))

    return send


def create_app(settings: api.Settings) -> Flask:
    app = Flask(__name__)
    http = requests.Session()
    tokens: Callable[[str | None], str] = FileTokens(settings, http)

    @app.post("/v1/chat/completions")
    def chat() -> Any:
        try:
            asked, model = api.parse_chat_request(request.get_data(), settings.models)
            send = sender(http, api.chat_url(model), api.chat_body(asked), settings.timeout_s)
            reply = api.call(send, tokens, settings.max_attempts)
            done = api.chat_completion(reply, asked["model"])
        except api.BadRequest as exc:
            return exc.body(), exc.status
        except api.UpstreamError as exc:
            return api.upstream_error_body(exc), exc.client_status, exc.client_headers
        stream, usage = api.wants_stream(asked)
        if stream:
            return Response(api.stream_events(done, usage), mimetype="text/event-stream")
        return done

    @app.get("/v1/models")
    def models() -> Any:
        return api.models_listing(settings.models)

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    return app


def main() -> None:
    settings = api.load_settings("token-file-flask")
    print(api.banner(settings, "Flask"), flush=True)
    create_app(settings).run(settings.host, settings.port, threaded=True)


if __name__ == "__main__":
    main()
