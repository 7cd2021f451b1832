"""What the concurrency samples share: Salesforce hosts, the token call, the reply mapping."""

from __future__ import annotations

from typing import Any

TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"
CHAT_URL = (
    "https://api.salesforce.com/einstein/platform/v1/models/"
    "sfdc_ai__DefaultOpenAIGPT4OmniMini/chat-generations"
)
TOKEN_FORM = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


def headers(token: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Bearer {token}"}


def chat_completion(reply: dict[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI chat completion from a chat-generations reply."""
    generation = reply["generationDetails"]["generations"][0]
    usage = reply["generationDetails"]["parameters"]["usage"]
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": generation["content"]},
        "finish_reason": generation["parameters"]["finish_reason"],
    }
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {
        "object": "chat.completion",
        "model": model,
        "choices": [choice],
        "usage": {k: usage[k] for k in keys},
    }
