"""The Flask server (through its test client, no sockets) and variant assembly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from harness.subjects.clients import AsyncClient, BatchingClient, SyncWrapperClient
from harness.subjects.extractors import priority
from harness.subjects.gateway.bridges import LoopThreadClient, ThreadPoolClient
from harness.subjects.gateway.core import Gateway
from harness.subjects.gateway.flask_app import create_flask_app
from harness.subjects.gateway.options import GatewayConfigError, GatewayOptions
from harness.subjects.gateway.variants import VARIANTS, VariantSpec, assemble, resolve_spec
from harness.subjects.token_providers import (
    FileTokenProvider,
    FileTokenStore,
    MemoryTtlTokenProvider,
)
from harness.subjects.upstream import UpstreamResult
from tests.unit.subjects.fakes import FakeProvider
from tests.unit.subjects.shape_bodies import TEXT, load_shapes

UPSTREAM = "http://127.0.0.1:9"


class ScriptedClient:
    """A sync client that answers every call with one result and records the calls."""

    def __init__(self, result: UpstreamResult) -> None:
        self.result = result
        self.calls: list[tuple[str, str, Any]] = []

    def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult:
        self.calls.append((endpoint, model, payload))
        return self.result


def flask_client(result: UpstreamResult) -> tuple[FlaskClient, ScriptedClient]:
    upstream = ScriptedClient(result)
    core = Gateway("t", priority, FakeProvider(), lambda: {})
    return create_flask_app(core, upstream).test_client(), upstream


def official_chat() -> dict[str, Any]:
    return next(s["body"] for s in load_shapes() if s["name"] == "official-chat-generations")


def test_flask_serves_a_chat_completion_from_the_upstream_reply() -> None:
    client, upstream = flask_client(UpstreamResult(200, official_chat(), "rq-9"))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", data=json.dumps(body))
    assert response.status_code == 200
    assert response.get_json()["choices"][0]["message"]["content"] == TEXT
    assert response.headers["x-upstream-request-id"] == "rq-9"
    assert upstream.calls == [
        ("chat-generations", "sfdc_ai__DefaultGPT4Omni", {"messages": body["messages"]})
    ]


def test_flask_streams_server_sent_events_ending_in_done() -> None:
    client, _ = flask_client(UpstreamResult(200, official_chat()))
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", data=json.dumps(body))
    assert response.mimetype == "text/event-stream"
    assert response.get_data(as_text=True).endswith("data: [DONE]\n\n")


def test_flask_passes_a_429_on_with_retry_after_and_answers_unknown_routes_in_json() -> None:
    client, _ = flask_client(UpstreamResult(429, {}, error_kind="rate_limited", retry_after_s=3))
    response = client.post("/v1/completions", data=json.dumps({"model": "gpt-4", "prompt": "x"}))
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")
    missing = client.get("/v2/nothing")
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "not_found")
    assert client.get("/v1/chat/completions").status_code == 405


def test_flask_serves_health_models_and_metrics() -> None:
    client, _ = flask_client(UpstreamResult(200, official_chat()))
    assert client.get("/health").get_json() == {"status": "ok", "variant": "t"}
    ids = [m["id"] for m in client.get("/v1/models").get_json()["data"]]
    assert {"gpt-4o-mini", "gpt-4o", "gpt-4", "gpt-3.5-turbo", "claude-3-haiku"} <= set(ids)
    assert client.get("/metrics/performance").get_json()["variant"] == "t"


def test_the_four_variants_are_the_seed_reports_before_and_after() -> None:
    assert VARIANTS["sync-legacy"] == VariantSpec("flask", "legacy", "file", "sync-wrapper")
    assert VARIANTS["sync-optimized"] == VariantSpec(
        "flask", "priority", "memory-ttl", "sync-wrapper"
    )
    assert VARIANTS["async"] == VariantSpec("aiohttp", "priority", "memory-ttl", "async")
    assert VARIANTS["async-batching"].client == "async-batching"


def test_the_cheap_name_list_matches_the_registry() -> None:
    from harness.subjects.gateway.options import VARIANT_NAMES

    assert tuple(VARIANTS) == VARIANT_NAMES


def test_components_can_be_overridden_one_by_one() -> None:
    options = GatewayOptions(UPSTREAM, variant="sync-legacy", token_provider="memory-ttl")
    assert resolve_spec(options) == VariantSpec("flask", "legacy", "memory-ttl", "sync-wrapper")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variant": "turbo"}, "unknown variant"),
        ({"client": "grpc"}, "unknown client"),
        ({"token_provider": "vault"}, "unknown token provider"),
        ({"server": "django"}, "unknown server"),
        ({"upstream_url": "ftp://x"}, "http"),
        ({"extractor": "nowhere"}, "unknown extractor"),
        ({"timeout_s": 0.0}, "timeout"),
        ({"max_retries": -1}, "retries"),
        ({"batch_max": 0}, "batch"),
        ({"upstream_connections": -1}, "upstream connections"),
        ({"loop": "trio"}, "unknown loop"),
    ],
)
def test_options_that_cannot_work_are_one_line_config_errors(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(GatewayConfigError, match=message):
        assemble(GatewayOptions(**{"upstream_url": UPSTREAM, **changes}))


@pytest.mark.parametrize(
    ("variant", "client", "bridge", "provider"),
    [
        ("sync-legacy", None, SyncWrapperClient, FileTokenProvider),
        ("sync-optimized", "async", LoopThreadClient, MemoryTtlTokenProvider),
        ("async", None, AsyncClient, MemoryTtlTokenProvider),
        ("async", "sync-wrapper", ThreadPoolClient, MemoryTtlTokenProvider),
        ("async-batching", None, BatchingClient, MemoryTtlTokenProvider),
    ],
)
def test_assembly_bridges_a_client_to_the_server_it_runs_under(
    variant: str, client: str | None, bridge: type, provider: type
) -> None:
    assembly = assemble(GatewayOptions(UPSTREAM, variant=variant, client=client))
    try:
        assert isinstance(assembly.client, bridge)
        assert isinstance(assembly.gateway.provider, provider)
        assert assembly.gateway.variant == (variant if client is None else f"{variant}*")
    finally:
        closer = getattr(assembly.client, "close", None)
        if isinstance(assembly.client, LoopThreadClient | SyncWrapperClient) and closer:
            closer()
        assembly.cleanup()


def test_both_providers_keep_their_grant_in_a_temporary_file_removed_at_cleanup() -> None:
    for variant in ("sync-legacy", "async"):
        assembly = assemble(GatewayOptions(UPSTREAM, variant=variant))
        store = assembly.gateway.provider._store  # type: ignore[attr-defined]
        assert isinstance(store, FileTokenStore)
        assert store.path.parent.is_dir()
        assembly.cleanup()
        assert not store.path.parent.exists()


def test_command_line_defaults_are_the_python_defaults_and_every_option_lands() -> None:
    import argparse

    from harness.subjects.gateway.arguments import add_arguments, options_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert options_from_args(parser.parse_args(["--upstream", UPSTREAM])) == GatewayOptions(
        UPSTREAM
    )
    argv = ["--upstream", UPSTREAM, "--variant", "sync-legacy", "--token-ttl-s", "60"]
    argv += ["--client", "async", "--max-retries", "0", "--batch-max", "4"]
    argv += ["--upstream-connections", "64"]
    options = options_from_args(parser.parse_args(argv))
    assert (options.variant, options.token_ttl_s, options.client) == ("sync-legacy", 60.0, "async")
    assert (options.max_retries, options.batch_max, options.upstream_connections) == (0, 4, 64)


class BrokenClient:
    def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult:
        raise RuntimeError("bug in the client")

    async def close(self) -> None:
        return None


def test_a_flask_gateway_bug_is_an_openai_500_and_is_counted() -> None:
    core = Gateway("t", priority, FakeProvider(), lambda: {})
    client = create_flask_app(core, BrokenClient()).test_client()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", data=json.dumps(body))
    assert (response.status_code, response.get_json()["error"]["code"]) == (500, "gateway_error")
    assert core.metrics().body["errors"] == {"gateway.internal": 1}  # type: ignore[index]


async def test_an_aiohttp_gateway_bug_is_an_openai_500() -> None:
    from aiohttp.test_utils import make_mocked_request

    from harness.subjects.gateway.aiohttp_app import _Routes

    core = Gateway("t", priority, FakeProvider(), lambda: {})
    ready = core.prepare(
        "chat", b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}'
    )

    class Broken:
        async def call(self, endpoint: str, model: str, payload: Any) -> UpstreamResult:
            raise RuntimeError("bug in the client")

        async def close(self) -> None:
            return None

    core.prepare = lambda route, raw: ready  # type: ignore[method-assign]
    response = await _Routes(core, Broken()).chat(
        make_mocked_request("POST", "/v1/chat/completions")
    )
    assert response.status == 500
    assert json.loads(response.body)["error"]["code"] == "gateway_error"  # type: ignore[attr-defined]
