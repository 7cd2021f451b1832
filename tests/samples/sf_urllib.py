"""Sample Salesforce client on urllib (stdlib) with hard-coded Salesforce hosts (see README.md)."""

import json
import sys
import urllib.parse
import urllib.request

TOKEN_URL = "https://acme.my.salesforce.com/services/oauth2/token"
MODELS_API = "https://api.salesforce.com/einstein/platform/v1"
CHAT_URL = f"{MODELS_API}/models/sfdc_ai__DefaultOpenAIGPT4OmniMini/chat-generations"
HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


def main(token_file: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(TOKEN_URL, data=data, timeout=10) as response:
        token = json.load(response)["access_token"]
    with open(token_file, "w") as handle:
        json.dump({"access_token": token}, handle)
    for _ in range(2):
        with open(token_file) as handle:
            token = json.load(handle)["access_token"]
    body = json.dumps({"messages": [{"role": "user", "content": "hello from urllib"}]}).encode()
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(CHAT_URL, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.load(response)
    print(reply["generationDetails"]["generations"][0]["content"])


if __name__ == "__main__":
    main(sys.argv[1])
