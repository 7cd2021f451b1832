"""Sample Salesforce client on bare asyncio streams (HTTP/1.1 by hand over TLS) with hard-coded
Salesforce hosts (see README.md): only the shim's asyncio seam can send it to the mock."""

from __future__ import annotations

import asyncio
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


async def post(host: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    reader, writer = await asyncio.open_connection(host, 443, ssl=True)
    head = {"Host": host, "Content-Length": str(len(body)), "Connection": "close", **headers}
    lines = [f"POST {path} HTTP/1.1", *(f"{k}: {v}" for k, v in head.items()), "", ""]
    writer.write("\r\n".join(lines).encode() + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    return json.loads(raw.partition(b"\r\n\r\n")[2])


async def main(token_file: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
    data = urllib.parse.urlencode(form).encode()
    content = {"Content-Type": "application/x-www-form-urlencoded"}
    token = (await post(TOKEN_HOST, "/services/oauth2/token", data, content))["access_token"]
    with open(token_file, "w") as handle:
        json.dump({"access_token": token}, handle)
    for _ in range(2):
        with open(token_file) as handle:
            token = json.load(handle)["access_token"]
    body = json.dumps({"messages": [{"role": "user", "content": "hello from asyncio"}]})
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    reply = await post(MODELS_HOST, CHAT_PATH, body.encode(), headers)
    print(reply["generationDetails"]["generations"][0]["content"])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
