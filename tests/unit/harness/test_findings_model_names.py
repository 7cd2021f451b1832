"""What a model name says: family, version and size, read alike from either kind of name."""

from __future__ import annotations

import pytest

from harness.findings.model_names import model_change, read_model_name
from harness.subjects.gateway.model_names import MODEL_NAMES

API = "sfdc_ai__Default"


@pytest.mark.parametrize(
    ("asked", "sent"),
    [("gpt-4o", f"{API}GPT4Omni"), ("gpt-4o-mini", f"{API}OpenAIGPT4OmniMini"),
     ("gpt-4o-2024-08-06", f"{API}GPT4Omni"), ("gpt-4.1", f"{API}GPT41"),
     ("gpt-3.5-turbo", f"{API}OpenAIGPT35Turbo_16k"), ("o4-mini", f"{API}O4Mini"),
     ("claude-3-haiku", f"{API}BedrockAnthropicClaude3Haiku"),
     ("claude-3-7-sonnet-20250219", f"{API}BedrockAnthropicClaude37Sonnet"),
     ("claude-haiku-4-5", f"{API}BedrockAnthropicClaude45Haiku"),
     ("gemini-2.5-flash", f"{API}VertexAIGemini25Flash001"),
     ("gemini-2.5-pro", f"{API}VertexAIGeminiPro25"), ("nova-lite", f"{API}BedrockAmazonNovaLite"),
     ("text-embedding-ada-002", f"{API}OpenAITextEmbeddingAda_002")],
)  # fmt: skip
def test_a_client_name_and_the_models_api_name_of_one_model_read_the_same(
    asked: str, sent: str
) -> None:
    assert read_model_name(asked) == read_model_name(sent)
    assert model_change(asked, sent) is None


@pytest.mark.parametrize(
    ("asked", "sent", "change"),
    [("gpt-4o", f"{API}OpenAIGPT4OmniMini", "a smaller model"),
     ("gpt-5", f"{API}GPT5Mini", "a smaller model"),
     ("gpt-4o-mini", f"{API}GPT4Omni", "a larger model"),
     ("gpt-4o", f"{API}OpenAIGPT35Turbo", "an older model"),
     ("claude-3-7-sonnet", f"{API}BedrockAnthropicClaude3Haiku", "an older, smaller model"),
     ("gemini-2.5-flash", f"{API}VertexAIGemini25FlashLite001", "a smaller model"),
     ("gpt-4o", f"{API}BedrockAnthropicClaude3Haiku", "another family")],
)  # fmt: skip
def test_another_model_than_the_name_says_is_told_by_how_it_differs(
    asked: str, sent: str, change: str
) -> None:
    assert model_change(asked, sent) == change


@pytest.mark.parametrize(
    ("asked", "sent"),
    [("sf-smart", f"{API}OpenAIGPT4OmniMini"), ("default", f"{API}BedrockAnthropicClaude3Haiku"),
     ("gpt", f"{API}OpenAIGPT4OmniMini"), ("claude", f"{API}BedrockAnthropicClaude3Haiku"),
     ("claude-3", f"{API}BedrockAnthropicClaude3Haiku")],
)  # fmt: skip
def test_a_name_that_says_too_little_to_name_one_model_is_not_judged(asked: str, sent: str) -> None:
    assert model_change(asked, sent) is None


def test_every_alias_of_the_reference_gateway_reads_as_the_model_it_maps_to() -> None:
    changed = {alias: model_change(alias, sent) for alias, sent in MODEL_NAMES.items()}
    assert {alias: change for alias, change in changed.items() if change} == {}
