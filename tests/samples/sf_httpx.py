"""Sample Salesforce client on httpx (sync token, async chat) with hard-coded hosts (README.md)."""

import asyncio
import json
import sys

import httpx

TOKEN_URL = "https://acme.my.salesforce.com/services/oauth2/token"
MODELS_API = "https://api.salesforce.com/einstein/platform/v1"
CHAT_URL = f"{MODELS_API}/models/sfdc_ai__DefaultOpenAIGPT4OmniMini/chat-generations"
HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


async def chat(token: str) -> str:
    body = {"messages": [{"role": "user", "content": "hello from httpx"}]}
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as client:
        reply = (await client.post(CHAT_URL, json=body, headers=headers)).json()
    return str(reply["generationDetails"]["generations"][0]["content"])


def main(token_file: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
    with httpx.Client() as client:
        token = client.post(TOKEN_URL, data=form).json()["access_token"]
    with open(token_file, "w") as handle:
        json.dump({"access_token": token}, handle)
    for _ in range(2):
        with open(token_file) as handle:
            token = json.load(handle)["access_token"]
    print(asyncio.run(chat(token)))


if __name__ == "__main__":
    main(sys.argv[1])
