"""A threaded Flask gateway that lets at most N requests reach the upstream at once.

A semaphore of N around the upstream call (N = 1: a global lock, as a shared non-thread-safe
client forces) caps the gateway at N requests in flight: past N callers its throughput stays
flat while their latency grows. Usage: python capped_flask.py --cap N
"""

from __future__ import annotations

import argparse
import threading

import requests
from flask import Flask, jsonify, request
from upstream import CHAT_URL, TOKEN_FORM, TOKEN_URL, chat_completion, headers
from werkzeug.serving import make_server

app = Flask(__name__)
state: dict[str, object] = {}


def token() -> str:
    if "token" not in state:
        answer = requests.post(TOKEN_URL, data=TOKEN_FORM, timeout=10)
        state["token"] = answer.json()["access_token"]
    return str(state["token"])


@app.get("/health")
def health() -> object:
    return jsonify(status="ok")


@app.post("/v1/chat/completions")
def chat() -> object:
    asked = request.get_json()
    gate = state["gate"]
    assert isinstance(gate, threading.Semaphore)
    with gate:
        answer = requests.post(
            CHAT_URL, json={"messages": asked["messages"]}, headers=headers(token()), timeout=30
        )
    if answer.status_code != 200:
        return jsonify(error={"message": "upstream failed"}), 502
    return jsonify(chat_completion(answer.json(), asked.get("model", "")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cap", type=int, default=1)
    args = parser.parse_args()
    state["gate"] = threading.Semaphore(args.cap)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"gateway listening on http://127.0.0.1:{server.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
