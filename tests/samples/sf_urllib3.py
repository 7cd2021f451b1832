"""Sample Salesforce client on urllib3 used directly (no requests) with hard-coded Salesforce
hosts over HTTPS (see README.md): only the shim's socket seam can send it to the mock."""

import json
import sys

import urllib3

TOKEN_URL = "https://acme.my.salesforce.com/services/oauth2/token"
MODELS_API = "https://api.salesforce.com/einstein/platform/v1"
CHAT_URL = f"{MODELS_API}/models/sfdc_ai__DefaultOpenAIGPT4OmniMini/chat-generations"
HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


def main(token_file: str) -> None:
    pool = urllib3.PoolManager(timeout=10.0, retries=False)
    form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
    answer = pool.request_encode_body("POST", TOKEN_URL, fields=form, encode_multipart=False)
    token = json.loads(answer.data)["access_token"]
    with open(token_file, "w") as handle:
        json.dump({"access_token": token}, handle)
    for _ in range(2):
        with open(token_file) as handle:
            token = json.load(handle)["access_token"]
    body = {"messages": [{"role": "user", "content": "hello from urllib3"}]}
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    reply = json.loads(pool.request("POST", CHAT_URL, body=json.dumps(body), headers=headers).data)
    print(reply["generationDetails"]["generations"][0]["content"])


if __name__ == "__main__":
    main(sys.argv[1])
