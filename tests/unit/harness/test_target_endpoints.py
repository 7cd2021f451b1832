"""Where a target's endpoints are: its path prefix kept, whichever client asks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.runners.support.sweepsubjects import chat_subject
from harness.targets.endpoints import CHAT_PATH, endpoint_path, endpoint_url
from tests.unit.walls import ROOT

# The gateways' own routes (the measured code) and the one module that knows the paths.
_ALLOWED = (ROOT / "harness" / "subjects", ROOT / "harness" / "targets" / "endpoints.py")


@pytest.mark.parametrize(
    ("target_url", "url"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/chat/completions"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1/chat/completions"),
        ("http://127.0.0.1:8000/openai", "http://127.0.0.1:8000/openai/v1/chat/completions"),
        ("http://127.0.0.1:8000/openai/", "http://127.0.0.1:8000/openai/v1/chat/completions"),
        ("http://127.0.0.1:8000/openai/v1", "http://127.0.0.1:8000/openai/v1/chat/completions"),
        # The OPENAI_BASE_URL form (R57): the server's root, not /v1/v1/chat/completions.
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/chat/completions"),
        ("https://gw.local/a/b/v1/", "https://gw.local/a/b/v1/chat/completions"),
    ],
)
def test_a_target_url_keeps_its_path_prefix_in_every_request_url(target_url: str, url: str) -> None:
    assert endpoint_url(target_url, CHAT_PATH) == url


def test_an_openai_base_url_and_the_gateway_root_share_the_health_route() -> None:
    assert endpoint_url("http://h:1/openai/v1", "/health") == "http://h:1/openai/health"
    metrics = endpoint_path("http://h:1/openai", "/metrics/performance")
    assert metrics == "/openai/metrics/performance"
    assert endpoint_path("http://h:1", "/health") == "/health"
    assert endpoint_url("http://h:1/v1/", "/health") == "http://h:1/health"


def test_the_sweep_posts_under_the_targets_prefix() -> None:
    subject = chat_subject("http://127.0.0.1:8000/openai", "gpt-4o", iter(range(3)))
    assert subject.url == "http://127.0.0.1:8000/openai/v1/chat/completions"


def _python_files() -> list[Path]:
    files = [*(ROOT / "harness").rglob("*.py"), *(ROOT / "scenarios").rglob("*.py")]
    return [f for f in files if not any(f.is_relative_to(a) for a in _ALLOWED)]


def test_no_client_builds_a_target_endpoint_url_but_through_the_endpoints_module() -> None:
    """A path literal outside `harness.targets.endpoints` is a client that may drop a prefix
    (messages that name a route, "GET /health", are no path literal)."""
    paths = {"/v1/chat/completions", "/v1/models", "/health", "/v1/completions"}
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _python_files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value.startswith("/") and node.value.endswith(tuple(paths))
    ]  # fmt: skip
    assert found == []
