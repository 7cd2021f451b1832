"""Counters of what the mock did, as plain ints (cheap on the hot path, exact under load)."""

from __future__ import annotations

from typing import Any


class Counters:
    """Requests by endpoint, status, shape and fault; token, quota and latency totals."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero everything."""
        self.requests = 0
        self.by_endpoint: dict[str, int] = {}
        self.by_status: dict[int, int] = {}
        self.by_shape: dict[str, int] = {}
        self.by_fault: dict[str, int] = {}
        self.by_token_status: dict[str, int] = {}
        self.tokens_issued = 0
        self.token_checks = 0
        self.quota_rejections = 0
        self.disconnects = 0
        self.injected_latency_ms_total = 0.0

    def count(
        self, endpoint: str, status: int, shape: str | None, fault: str | None, latency_ms: float
    ) -> None:
        """Count one finished request."""
        self.requests += 1
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if shape is not None:
            self.by_shape[shape] = self.by_shape.get(shape, 0) + 1
        if fault is not None:
            self.by_fault[fault] = self.by_fault.get(fault, 0) + 1
        self.injected_latency_ms_total += latency_ms

    def count_token_check(self, token_status: str) -> None:
        self.token_checks += 1
        self.by_token_status[token_status] = self.by_token_status.get(token_status, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy (status keys as strings, as JSON requires)."""
        return {
            "requests": self.requests,
            "by_endpoint": dict(self.by_endpoint),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_shape": dict(self.by_shape),
            "by_fault": dict(self.by_fault),
            "by_token_status": dict(self.by_token_status),
            "tokens_issued": self.tokens_issued,
            "token_checks": self.token_checks,
            "quota_rejections": self.quota_rejections,
            "disconnects": self.disconnects,
            "injected_latency_ms_total": round(self.injected_latency_ms_total, 3),
        }
