"""A minimal OpenAI-compatible gateway with hard-coded Salesforce hosts (see README.md).

Usage: `python gateway_app.py TOKEN_FILE [PORT]`. It reads its token from TOKEN_FILE on every
request (the "legacy" habit the shim's file counts should expose) and prints
`gateway listening on http://127.0.0.1:PORT` when ready.
"""

import asyncio
import json
import signal
import sys

import aiohttp
from aiohttp import web

TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"
MODELS_API = "https://api.salesforce.com/einstein/platform/v1"
MODEL = "sfdc_ai__DefaultOpenAIGPT4OmniMini"
HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}


async def token(app: web.Application) -> str:
    try:
        with open(app["token_file"]) as handle:
            return str(json.load(handle)["access_token"])
    except (OSError, ValueError, KeyError):
        form = {"grant_type": "client_credentials", "client_id": "id", "client_secret": "secret"}
        async with app["session"].post(TOKEN_URL, data=form) as response:
            fetched = (await response.json())["access_token"]
        with open(app["token_file"], "w") as handle:
            json.dump({"access_token": fetched}, handle)
        return str(fetched)


async def chat(request: web.Request) -> web.Response:
    body = await request.json()
    headers = {**HEADERS, "Authorization": f"Bearer {await token(request.app)}"}
    url = f"{MODELS_API}/models/{MODEL}/chat-generations"
    upstream = {"messages": body["messages"]}
    async with request.app["session"].post(url, json=upstream, headers=headers) as response:
        if response.status != 200:
            return web.json_response({"error": {"message": "upstream"}}, status=502)
        reply = await response.json()
    generation = reply["generationDetails"]["generations"][0]
    usage = reply["generationDetails"]["parameters"]["usage"]
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": generation["content"]},
        "finish_reason": generation["parameters"]["finish_reason"],
    }
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return web.json_response(
        {"object": "chat.completion", "choices": [choice], "usage": {k: usage[k] for k in keys}}
    )


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def main(token_file: str, port: int) -> None:
    app = web.Application()
    app["token_file"] = token_file
    app.router.add_get("/health", health)
    app.router.add_post("/v1/chat/completions", chat)
    async with aiohttp.ClientSession() as session:
        app["session"] = session
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = runner.addresses[0][1]
        print(f"gateway listening on http://127.0.0.1:{bound}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
