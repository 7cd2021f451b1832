"""Every call a gateway made in a window by route, and its calls to routes the mock does not
serve (a token check at the login server before every request, R107)."""

from __future__ import annotations

from typing import Any

from harness.findings import Severity
from harness.findings.routes import calls_by_route, other_upstream_calls, route_of


def entry(endpoint: str, status: int = 200, error: str | None = None) -> dict[str, Any]:
    return {"seq": 1, "request_id": "r1", "endpoint": endpoint, "status": status, "error": error}


def not_found(path: str) -> dict[str, Any]:
    return entry("other", 404, f"NOT_FOUND: Resource not found: {path}")


def test_a_call_the_mock_does_not_serve_is_known_by_its_path() -> None:
    assert route_of(not_found("/services/oauth2/userinfo")) == "/services/oauth2/userinfo"
    assert route_of(entry("other", 431, "431: Request Header Fields Too Large")) == (
        "a request the mock refused"
    )
    assert route_of(entry("token")) == "token"


def test_every_call_of_the_window_is_counted_by_route_per_client_request() -> None:
    window = [entry("token")] + [entry("chat-generations"), not_found("/userinfo")] * 10
    assert calls_by_route(window, 10) == [
        {"route": "chat-generations", "calls": 10, "statuses": {"200": 10}, "per_request": 1.0},
        {"route": "/userinfo", "calls": 10, "statuses": {"404": 10}, "per_request": 1.0},
        {"route": "token", "calls": 1, "statuses": {"200": 1}, "per_request": 0.1},
    ]


def test_a_route_called_with_every_request_is_a_warn_that_says_so() -> None:
    window = [entry("chat-generations"), not_found("/services/oauth2/userinfo")] * 27
    found = other_upstream_calls(window, 27)
    assert found is not None
    assert (found.name, found.severity, found.count) == ("other_upstream_calls", Severity.WARN, 27)
    assert ("called /services/oauth2/userinfo with each client request (1 per request), "
            "answered 404 every time") in found.explanation  # fmt: skip
    assert "one more round trip" in found.explanation


def test_one_stray_call_is_only_told_and_a_gateway_that_makes_none_has_no_finding() -> None:
    one = other_upstream_calls([entry("chat-generations")] * 20 + [not_found("/x")], 20)
    assert one is not None and one.severity is Severity.INFO
    assert "/x 0.05 times per client request" in one.explanation
    assert other_upstream_calls([entry("token"), entry("chat-generations")] * 5, 5) is None
