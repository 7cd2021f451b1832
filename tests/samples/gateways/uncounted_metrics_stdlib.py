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

import threading
import time
from typing import Any

import models_api as api
import stdlib_gateway as stdlib


class Gateway(stdlib.Gateway):
    """Counts its token requests (this counter is right)."""

    def __init__(self, settings: api.Settings) -> None:
        super().__init__(settings)
        self.token_requests_total = 0
        self._lock = threading.Lock()

    def fetch_token(self) -> dict[str, Any]:
        with self._lock:
            self.token_requests_total += 1
        return super().fetch_token()


class Handler(stdlib.Handler):
    """The HTTP side, keeping the gateway-wide counters that `/metrics/performance` reports."""

    gateway: Gateway
    requests_total = 0
    upstream_calls_total = 0
    latency_total_ms = 0.0

    def do_POST(self) -> None:
        started_s = time.perf_counter()
        self.requests_total += 1  # the defect: counts on this request's handler, not the class
        super().do_POST()
        self.latency_total_ms += (time.perf_counter() - started_s) * 1000.0

    def complete(self, asked: dict[str, Any], model: str) -> dict[str, Any]:
        self.upstream_calls_total += 1
        return super().complete(asked, model)

    def performance(self) -> dict[str, Any]:
        """What the gateway says about itself."""
        requests, tokens = self.requests_total, self.gateway.token_requests_total
        return {
            "requests_total": requests,
            "upstream_calls_total": self.upstream_calls_total,
            "token_requests_total": tokens,
            "token_cache_hit_rate": 1.0 - tokens / requests if requests else 1.0,
            "avg_latency_ms": self.latency_total_ms / requests if requests else 0.0,
        }


def main() -> None:
    stdlib.serve(Gateway(api.load_settings("uncounted-metrics-stdlib")), Handler)


if __name__ == "__main__":
    main()
