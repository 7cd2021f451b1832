"""Sample Salesforce client on requests with hard-coded Salesforce hosts (see README.md)."""

import json
import sys

import requests

TOKEN_URL = "https://acme.my.salesforce.com/services/oauth2/token"
MODELS_API = "https://api.salesforce.com/einstein/platform/v1"
CHAT_URL = f"{MODELS_API}/models/sfdc_ai__DefaultOpenAIGPT4OmniMini/chat-generations"
HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


def main(token_file: str) -> None:
    with requests.Session() as session:
        form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
        token = session.post(TOKEN_URL, data=form, timeout=10).json()["access_token"]
        with open(token_file, "w") as handle:
            json.dump({"access_token": token}, handle)
        for _ in range(2):
            with open(token_file) as handle:
                token = json.load(handle)["access_token"]
        body = {"messages": [{"role": "user", "content": "hello from requests"}]}
        headers = {**HEADERS, "Authorization": f"Bearer {token}"}
        reply = session.post(CHAT_URL, json=body, headers=headers, timeout=10).json()
    print(reply["generationDetails"]["generations"][0]["content"])


if __name__ == "__main__":
    main(sys.argv[1])
