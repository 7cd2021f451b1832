"""Sample Salesforce client on http.client (stdlib, no URL library) with hard-coded Salesforce
hosts over HTTPS (see README.md): only the shim's socket seam can send it to the mock."""

from __future__ import annotations

import http.client
import json
import sys
import urllib.parse
from typing import Any

TOKEN_HOST = "acme.my.salesforce.com"
MODELS_HOST = "api.salesforce.com"
CHAT_PATH = "/einstein/platform/v1/models/sfdc_ai__DefaultOpenAIGPT4OmniMini/chat-generations"
HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


def post(host: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    connection = http.client.HTTPSConnection(host, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return json.loads(response.read())
    finally:
        connection.close()


def main(token_file: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
    data = urllib.parse.urlencode(form).encode()
    content = {"Content-Type": "application/x-www-form-urlencoded"}
    token = post(TOKEN_HOST, "/services/oauth2/token", data, content)["access_token"]
    with open(token_file, "w") as handle:
        json.dump({"access_token": token}, handle)
    for _ in range(2):
        with open(token_file) as handle:
            token = json.load(handle)["access_token"]
    body = json.dumps({"messages": [{"role": "user", "content": "hello from httpclient"}]})
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    reply = post(MODELS_HOST, CHAT_PATH, body.encode(), headers)
    print(reply["generationDetails"]["generations"][0]["content"])


if __name__ == "__main__":
    main(sys.argv[1])
