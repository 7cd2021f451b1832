"""OpenAI model names a client may send, mapped to Salesforce Models API names."""

from __future__ import annotations

from collections.abc import Mapping

SFDC_PREFIX = "sfdc_ai__"

MODEL_NAMES: Mapping[str, str] = {
    "gpt-4o-mini": "sfdc_ai__DefaultOpenAIGPT4OmniMini",
    "gpt-4o": "sfdc_ai__DefaultGPT4Omni",
    "gpt-4.1": "sfdc_ai__DefaultGPT41",
    "gpt-4.1-mini": "sfdc_ai__DefaultGPT41Mini",
    "gpt-5": "sfdc_ai__DefaultGPT5",
    "gpt-5-mini": "sfdc_ai__DefaultGPT5Mini",
    "o3": "sfdc_ai__DefaultO3",
    "o4-mini": "sfdc_ai__DefaultO4Mini",
    # Legacy names Salesforce still accepts and reroutes to GPT-4o / 4o-mini.
    "gpt-4": "sfdc_ai__DefaultOpenAIGPT4",
    "gpt-4-turbo": "sfdc_ai__DefaultOpenAIGPT4Turbo",
    "gpt-3.5-turbo": "sfdc_ai__DefaultOpenAIGPT35Turbo",
    "claude-3-haiku": "sfdc_ai__DefaultBedrockAnthropicClaude3Haiku",
    "claude-3-7-sonnet": "sfdc_ai__DefaultBedrockAnthropicClaude37Sonnet",
    "claude-sonnet-4": "sfdc_ai__DefaultBedrockAnthropicClaude4Sonnet",
    "gemini-2.0-flash": "sfdc_ai__DefaultVertexAIGemini20Flash001",
    "gemini-2.5-flash": "sfdc_ai__DefaultVertexAIGemini25Flash001",
    "gemini-2.5-pro": "sfdc_ai__DefaultVertexAIGeminiPro25",
    "amazon-nova-lite": "sfdc_ai__DefaultBedrockAmazonNovaLite",
    "amazon-nova-pro": "sfdc_ai__DefaultBedrockAmazonNovaPro",
    "text-embedding-ada-002": "sfdc_ai__DefaultOpenAITextEmbeddingAda_002",
}


def resolve_model(name: str) -> str | None:
    """The Salesforce API name for `name`: mapped, passed through if `sfdc_ai__...`, else None."""
    if name.startswith(SFDC_PREFIX) and len(name) > len(SFDC_PREFIX):
        return name
    return MODEL_NAMES.get(name)
