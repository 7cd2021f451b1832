"""The per-endpoint view of a config, and the specs refused because they cannot apply."""

from __future__ import annotations

import pytest

from mock_salesforce.config import MockConfig, load_profile
from mock_salesforce.corpus import load_corpus
from mock_salesforce.effective import EndpointView, endpoint_views
from mock_salesforce.errors import ConfigError
from mock_salesforce.state import build_runtime

CORPUS = load_corpus()
GPT = "sfdc_ai__DefaultGPT4Omni"
ADA = "sfdc_ai__DefaultOpenAITextEmbeddingAda_002"


def views(config: MockConfig) -> dict[str, EndpointView]:
    return {view.endpoint: view for view in endpoint_views(build_runtime(config, CORPUS))}


def test_every_endpoint_gets_a_view_in_a_fixed_order() -> None:
    assert list(views(MockConfig())) == [
        "token", "generations", "chat-generations", "embeddings", "feedback",
    ]  # fmt: skip


def test_the_view_shows_the_most_specific_latency_in_canonical_form() -> None:
    config = MockConfig(latency={"*": "200", "chat-generations": "uniform:lo=1ms,hi=2ms"})
    seen = views(config)
    assert seen["token"].latency == "fixed:200ms"
    assert seen["chat-generations"].latency == "uniform:1ms..2ms"


def test_models_with_their_own_latency_are_listed_under_the_endpoints_that_serve_them() -> None:
    config = MockConfig(latency={"*": "fixed:1ms", GPT: "fixed:2ms", f"embeddings/{ADA}": "3ms"})
    seen = views(config)
    assert seen["chat-generations"].latency_by_model == {GPT: "fixed:2ms"}
    assert seen["embeddings"].latency_by_model == {ADA: "fixed:3ms"}
    assert seen["token"].latency_by_model == {}


def test_no_latency_at_all_reads_none() -> None:
    assert views(load_profile("fast"))["feedback"].latency == "none"


def test_a_per_token_part_is_not_shown_where_replies_have_no_tokens() -> None:
    seen = views(MockConfig(latency={"*": "fixed:10ms,per_token=2ms"}))
    assert seen["generations"].latency == "fixed:10ms,per_token=2ms"
    assert seen["embeddings"].latency == "fixed:10ms"


def test_faults_are_listed_where_they_can_fire_in_the_order_tried() -> None:
    config = MockConfig(faults=("500:every=2", "429:p=0.5,endpoint=token", f"reset:model={ADA}"))
    seen = views(config)
    assert seen["token"].faults == ("429:p=0.5,endpoint=token",)
    assert seen["chat-generations"].faults == ("500:every=2",)
    assert seen["embeddings"].faults == ("500:every=2", f"reset:model={ADA}")


def test_quotas_show_each_endpoints_own_or_the_star_one_and_none_on_token() -> None:
    seen = views(MockConfig(quotas_rpm={"*": 20, "embeddings": 5}))
    quotas = {endpoint: view.quota_rpm for endpoint, view in seen.items()}
    assert quotas == {
        "token": None, "generations": 20, "chat-generations": 20, "embeddings": 5, "feedback": 20,
    }  # fmt: skip


def test_a_start_up_line_names_the_endpoint_latency_faults_and_quota() -> None:
    config = MockConfig(latency={"*": "fixed:0ms", GPT: "fixed:5ms"}, faults=("503:every=4",),
                        quotas_rpm={"chat-generations": 7})  # fmt: skip
    line = views(config)["chat-generations"].line()
    assert line == (
        f"chat-generations  latency fixed:0ms ({GPT}: fixed:5ms)  faults 503:every=4  quota 7/min"
    )


def test_a_recordings_inline_samples_are_counted_on_the_start_up_line() -> None:
    line = views(MockConfig(latency={"token": "empirical:[1ms,2ms,3ms]"}))["token"].line()
    assert "latency empirical:[3 samples]" in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"latency": {"chat": "fixed:1ms"}}, "unknown latency selector 'chat'"),
        ({"latency": {"chats/x": "fixed:1ms"}}, "unknown endpoint 'chats'"),
        ({"latency": {f"embeddings/{GPT}": "fixed:1ms"}}, "embeddings does not serve"),
        ({"latency": {"feedback": "fixed:1ms,per_token=1ms"}}, "no output tokens"),
        ({"latency": {ADA: "fixed:1ms,per_token=1ms"}}, "no output tokens"),
        ({"faults": ["500:endpoint=chat"]}, "unknown endpoint 'chat'"),
        ({"faults": ["500:model=gpt-4o"]}, "can never fire"),
        ({"faults": [f"500:endpoint=feedback,model={GPT}"]}, "can never fire on feedback"),
        ({"quotas_rpm": {"token": 5}}, "token endpoint is not supported"),
        ({"quotas_rpm": {GPT: 5}}, "not per model"),
    ],
)
def test_a_spec_that_cannot_apply_is_refused_in_one_line(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build_runtime(MockConfig().patched(change), CORPUS)
    assert "\n" not in str(info.value)


def test_custom_models_and_globs_that_match_a_served_model_are_accepted() -> None:
    config = MockConfig(
        custom_models=("acme-llm",),
        latency={"acme-llm": "fixed:1ms,per_token=1ms"},
        faults=("500:model=sfdc_ai__*Claude*", "503:model=acme-llm,endpoint=embeddings"),
    )
    assert views(config)["generations"].latency_by_model == {"acme-llm": "fixed:1ms,per_token=1ms"}
