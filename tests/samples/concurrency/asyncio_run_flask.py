"""A threaded Flask gateway whose sync views call an async client with `asyncio.run`.

Every request builds a new event loop and a new aiohttp session (a new upstream connection),
a common way to call async code from sync views. Threads keep requests concurrent; each one
pays for its own loop and connection. Usage: python asyncio_run_flask.py
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import aiohttp
from flask import Flask, jsonify, request
from upstream import CHAT_URL, TOKEN_FORM, TOKEN_URL, chat_completion, headers
from werkzeug.serving import make_server

app = Flask(__name__)
tokens: list[str] = []
token_lock = threading.Lock()


async def fetch_token() -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(TOKEN_URL, data=TOKEN_FORM) as answer,
    ):
        return str((await answer.json())["access_token"])


def token() -> str:
    with token_lock:
        if not tokens:
            tokens.append(asyncio.run(fetch_token()))
        return tokens[0]


async def ask(messages: list[dict[str, Any]], bearer: str) -> tuple[int, dict[str, Any]]:
    body = {"messages": messages}
    async with (
        aiohttp.ClientSession() as session,
        session.post(CHAT_URL, json=body, headers=headers(bearer)) as answer,
    ):
        return answer.status, await answer.json()


@app.get("/health")
def health() -> object:
    return jsonify(status="ok")


@app.post("/v1/chat/completions")
def chat() -> object:
    asked = request.get_json()
    status, reply = asyncio.run(ask(asked["messages"], token()))
    if status != 200:
        return jsonify(error={"message": "upstream failed"}), 502
    return jsonify(chat_completion(reply, asked.get("model", "")))


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"gateway listening on http://127.0.0.1:{server.port}", flush=True)
    server.serve_forever()
