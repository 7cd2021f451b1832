"""Sample gateway on the standard library only (http.server's ThreadingHTTPServer, urllib), with
its own performance report at `GET /metrics/performance`. Its one known defect:

(f) SELF-REPORTED METRICS THAT DO NOT COUNT. The request, upstream-call and latency counters are
class attributes of the request handler, bumped with `self.requests_total += 1`: that binds a new
attribute on the handler instance (one per request) and leaves the class's at 0. So the report
always says 0 requests, 0 upstream calls, 0 ms average latency, and therefore a 100% token cache
hit rate, however much the gateway served. Only `token_requests_total` counts.

Everything else is done right: the token is cached in memory (and on disk for the next start),
a refused token is replaced once, 423/429/503 are retried with backoff, failures get the right
status. No third-party package is needed: it runs from a bare virtualenv.

Usage: python uncounted_metrics_stdlib.py --port 8006 [--config FILE] [--state-dir DIR]
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer
from typing import Any

import models_api as api


class Upstream:
    """The Models API side: tokens (counted) and chat generations."""

    def __init__(self, settings: api.Settings) -> None:
        self.settings = settings
        self.tokens = api.TokenCache(self.fetch_token, settings.token_file)
        self.token_requests_total = 0
        self._lock = threading.Lock()

    def fetch_token(self) -> dict[str, Any]:
        with self._lock:
            self.token_requests_total += 1
        form = urllib.parse.urlencode(self.settings.token_form).encode()
        content = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = api.urllib_post(self.settings.token_url, form, content, self.settings.timeout_s)
        if answer.status != 200:
            raise api.UpstreamError.from_answer(answer)
        return dict(json.loads(answer.body))

    def chat(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        data = json.dumps(api.chat_body(asked)).encode()

        url, timeout_s = api.chat_url(model), self.settings.timeout_s

        def send(bearer: str) -> api.Answer:
            return api.urllib_post(url, data, api.headers(bearer), timeout_s)

        reply = api.call(send, self.tokens.get, self.settings.max_attempts)
        return api.chat_completion(reply, asked["model"])


class MetricsHandler(api.JsonHandler):
    """The HTTP side, keeping the gateway-wide counters that `/metrics/performance` reports."""

    upstream: Upstream
    requests_total = 0
    upstream_calls_total = 0
    latency_total_ms = 0.0

    def do_GET(self) -> None:
        if self.path == "/health":
            self.reply(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self.reply(200, api.models_listing(self.upstream.settings.models))
        elif self.path == "/metrics/performance":
            self.reply(200, self.performance())
        else:
            self.no_route()

    def do_POST(self) -> None:
        started_s = time.perf_counter()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/chat/completions":
            self.no_route()
            return
        self.requests_total += 1  # the defect: counts on this request's handler, not the class
        try:
            asked, model = api.parse_chat_request(raw, self.upstream.settings.models)
            self.upstream_calls_total += 1
            done = self.upstream.chat(asked, model)
        except api.BadRequest as exc:
            self.reply(exc.status, exc.body())
            return
        except api.UpstreamError as exc:
            self.reply(exc.client_status, api.upstream_error_body(exc), exc.client_headers)
            return
        self.latency_total_ms += (time.perf_counter() - started_s) * 1000.0
        stream, usage = api.wants_stream(asked)
        if stream:
            self.stream(api.stream_events(done, usage))
        else:
            self.reply(200, done)

    def performance(self) -> dict[str, Any]:
        """What the gateway says about itself."""
        requests, tokens = self.requests_total, self.upstream.token_requests_total
        return {
            "requests_total": requests,
            "upstream_calls_total": self.upstream_calls_total,
            "token_requests_total": tokens,
            "token_cache_hit_rate": 1.0 - tokens / requests if requests else 1.0,
            "avg_latency_ms": self.latency_total_ms / requests if requests else 0.0,
        }


def main() -> None:
    settings = api.load_settings("uncounted-metrics-stdlib")
    MetricsHandler.upstream = Upstream(settings)
    server = ThreadingHTTPServer((settings.host, settings.port), MetricsHandler)
    server.daemon_threads = True
    print(api.banner(settings, "http.server"), flush=True)
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
