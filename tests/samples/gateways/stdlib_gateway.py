"""What the standard-library gateways share: the OpenAI chat endpoint over the Models API
(`Gateway`), its routes on http.server (`Handler`: `/health`, `/v1/models`,
`/v1/chat/completions`, plain or streamed) and the ThreadingHTTPServer that serves them (`serve`).

Stdlib only, beside `models_api`. Nothing here is a defect: each gateway overrides the one piece
that holds its defect (a hook of `Gateway` or `Handler`), in its own file.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import models_api as api

# POST (url, body, headers, timeout_s) -> the answer; any status is an answer, none UpstreamError
Post = Callable[[str, bytes, dict[str, str], float], api.Answer]


class Gateway:
    """The OpenAI chat endpoint over the Models API: the token cache, the upstream call with
    its retries (`sleep` waits between them), the completion; `post` sends every HTTP call."""

    def __init__(
        self,
        settings: api.Settings,
        post: Post = api.urllib_post,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.post = post
        self.sleep = sleep
        self.tokens = api.TokenCache(self.fetch_token, settings.token_file)

    def fetch_token(self) -> dict[str, Any]:
        """The token endpoint's JSON answer (client credentials); UpstreamError when it fails."""
        form = urllib.parse.urlencode(self.settings.token_form).encode()
        content = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = self.post(self.settings.token_url, form, content, self.settings.timeout_s)
        if answer.status != 200:
            raise api.UpstreamError.from_answer(answer)
        return dict(json.loads(answer.body))

    def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        """The completion for one chat request; UpstreamError when the Models API fails."""
        data = json.dumps(api.chat_body(asked)).encode()
        url, timeout_s = api.chat_url(model), self.settings.timeout_s

        def send(bearer: str) -> api.Answer:
            return self.post(url, data, api.headers(bearer), timeout_s)

        reply = api.call(send, self.tokens.get, self.settings.max_attempts, self.sleep)
        return api.chat_completion(reply, asked["model"])


class JsonHandler(BaseHTTPRequestHandler):
    """JSON replies and SSE streams on http.server."""

    protocol_version = "HTTP/1.1"

    def reply(
        self, status: int, body: Mapping[str, Any], extra: Mapping[str, str] | None = None
    ) -> None:
        data = self.json_bytes(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def stream(self, events: list[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the end of the stream closes the connection
        self.end_headers()
        self.write_events(events)
        self.close_connection = True

    def json_bytes(self, body: Mapping[str, Any]) -> bytes:
        """A reply body as sent: JSON, characters beyond ASCII escaped (`json.dumps`)."""
        return json.dumps(body).encode()

    def write_events(self, events: list[str]) -> None:
        """A stream's events on the socket, one write each."""
        for event in events:
            self.wfile.write(event.encode())
            self.wfile.flush()

    def no_route(self) -> None:
        body = api.error_body(f"no route {self.command} {self.path}", "invalid_request_error")
        self.reply(404, body)


class Handler(JsonHandler):
    """A gateway's routes over `gateway`. The hooks a gateway may override: `admitted`,
    `complete`, `events`, `upstream_failed`, `performance`."""

    gateway: Gateway

    def do_GET(self) -> None:
        if self.path == "/health":
            self.reply(200, {"status": "ok", "python": sys.executable})
        elif not self.admitted():
            return
        elif self.path == "/v1/models":
            self.reply(200, api.models_listing(self.gateway.settings.models))
        else:
            report = self.performance() if self.path == "/metrics/performance" else None
            if report is None:
                self.no_route()
            else:
                self.reply(200, report)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.admitted():
            return
        if self.path != "/v1/chat/completions":
            self.no_route()
            return
        try:
            asked, model = api.parse_chat_request(raw, self.gateway.settings.models)
            done = self.complete(asked, model)
        except api.BadRequest as exc:
            self.reply(exc.status, exc.body())
            return
        except api.UpstreamError as exc:
            self.upstream_failed(exc)
            return
        stream, usage = api.wants_stream(asked)
        if stream:
            self.stream(self.events(done, usage))
        else:
            self.reply(200, done)

    def admitted(self) -> bool:
        """Whether the client may go on; a gateway that refuses has answered it already."""
        return True

    def complete(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        """The completion for one chat request, from the gateway."""
        return self.gateway.chat(asked, model)

    def events(self, done: Mapping[str, Any], include_usage: bool) -> list[str]:
        """The SSE events that stream a finished completion."""
        return api.stream_events(done, include_usage)

    def upstream_failed(self, error: api.UpstreamError) -> None:
        """Pass the Models API's failure on to the client with a fitting status."""
        self.reply(error.client_status, api.upstream_error_body(error), error.client_headers)

    def performance(self) -> Mapping[str, Any] | None:
        """The gateway's own report at `GET /metrics/performance` (None: it has none)."""
        return None


class CountingGateway(Gateway):
    """A gateway that counts the chat requests it served (its own `/metrics/performance`)."""

    def __init__(self, settings: api.Settings) -> None:
        super().__init__(settings)
        self.lock = threading.Lock()
        self.requests = 0

    def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        with self.lock:
            self.requests += 1
        return super().chat(asked, model)


class CountingHandler(Handler):
    """Reports a `CountingGateway`'s count at `GET /metrics/performance`."""

    gateway: CountingGateway

    def performance(self) -> dict[str, Any]:
        return {"requests": self.gateway.requests}


def serve(
    gateway: Gateway, handler: type[Handler] = Handler, framework: str = "http.server"
) -> None:
    """Serve `gateway` through `handler` on a ThreadingHTTPServer until interrupted."""
    handler.gateway = gateway
    settings = gateway.settings
    server = ThreadingHTTPServer((settings.host, settings.port), handler)
    server.daemon_threads = True
    print(api.banner(settings, framework), flush=True)
    with server:
        server.serve_forever()
