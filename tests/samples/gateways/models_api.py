"""The Salesforce Models API as every sample gateway speaks it: the real hosts and headers, the
gateway's settings (a JSON config file, the environment, `--port`), tokens kept on disk, the
retry policy, and the OpenAI <-> Models API translations.

Stdlib only, so a gateway can run from a bare virtualenv; each gateway imports this module from
beside itself (the stdlib gateways their server too, from `stdlib_gateway`). Nothing here is a
defect: each gateway's one known defect is in its own file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELS_API = "https://api.salesforce.com/einstein/platform/v1"
SALESFORCE_HEADERS = {
    "x-sfdc-app-context": "EinsteinGPT",
    "x-client-feature-id": "ai-platform-models-connected-app",
}
CONFIG_FILE = Path(__file__).with_name("config.json")
RETRYABLE = frozenset({423, 429, 503})
LONGEST_RETRY_AFTER_S = 10.0  # a caller would rather hear "429" than wait longer than this
DEFAULT_TOKEN_LIFETIME_S = 1800.0  # Salesforce's default when the JWT cannot be read
# What an OpenAI client is told when the upstream failed with this status (0: no answer).
CLIENT_STATUS = {0: 502, 400: 400, 401: 401, 403: 403, 404: 404, 413: 413, 423: 503, 429: 429}


@dataclass(frozen=True)
class Settings:
    """Everything a gateway reads at start-up."""

    name: str
    host: str
    port: int
    my_domain: str
    client_id: str
    client_secret: str
    models: Mapping[str, str]  # served model name -> Models API model
    state_dir: Path
    timeout_s: float
    max_attempts: int

    @property
    def token_url(self) -> str:
        """The org's My Domain token endpoint (OAuth client credentials)."""
        return f"https://{self.my_domain}.my.salesforce.com/services/oauth2/token"

    @property
    def token_form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    @property
    def token_file(self) -> Path:
        return self.state_dir / "token.json"


def load_settings(name: str, argv: list[str] | None = None) -> Settings:
    """Settings from the command line (`--port`, `--host`, `--config`, `--state-dir`), the
    config file and `SF_MY_DOMAIN` / `SF_CLIENT_ID` / `SF_CLIENT_SECRET`."""
    parser = argparse.ArgumentParser(prog=name, description=f"sample gateway {name}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--config", type=Path, default=os.environ.get("SFGW_CONFIG", CONFIG_FILE))
    default_state = Path(tempfile.gettempdir()) / f"sfgw-{name}"
    parser.add_argument("--state-dir", type=Path, default=os.environ.get("SFGW_STATE_DIR"))
    args = parser.parse_args(argv)
    try:
        config = json.loads(Path(args.config).read_text(encoding="utf-8"))
        salesforce = config["salesforce"]
    except (OSError, ValueError, KeyError) as exc:
        parser.error(f"cannot read config {args.config}: {exc}")
    state_dir = Path(args.state_dir) / name if args.state_dir else default_state
    state_dir.mkdir(parents=True, exist_ok=True)
    return Settings(
        name=name,
        host=args.host,
        port=args.port,
        my_domain=os.environ.get("SF_MY_DOMAIN", salesforce["my_domain"]),
        client_id=os.environ.get("SF_CLIENT_ID", salesforce["client_id"]),
        client_secret=os.environ.get("SF_CLIENT_SECRET", salesforce["client_secret"]),
        models=dict(config.get("models", {})),
        state_dir=state_dir,
        timeout_s=float(config.get("timeout_s", 20)),
        max_attempts=int(config.get("max_attempts", 3)),
    )


# -- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """An access token and when to stop using it (epoch seconds, a margin before it expires)."""

    access_token: str
    refresh_at_s: float

    def usable(self, now_s: float) -> bool:
        return now_s < self.refresh_at_s


def parse_token(document: Mapping[str, Any], now_s: float) -> Token:
    """A `Token` from the token endpoint's answer. The answer has no `expires_in`: the expiry is
    the JWT's `exp`, or Salesforce's 30-minute default when the token is opaque."""
    access_token = str(document["access_token"])
    issued_s = float(document.get("issued_at", now_s * 1000)) / 1000.0
    claims = jwt_claims(access_token)
    expires_s = float(claims.get("exp", issued_s + DEFAULT_TOKEN_LIFETIME_S))
    lifetime_s = max(0.0, expires_s - float(claims.get("iat", issued_s)))
    return Token(access_token, expires_s - min(60.0, 0.1 * lifetime_s))


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified ({} when the token is not one)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def read_token(path: Path) -> Token | None:
    """The token saved by an earlier run of the gateway, if any."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return Token(str(saved["access_token"]), float(saved["refresh_at_s"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_token(path: Path, token: Token) -> None:
    """Save `token` for the next start (temp file + rename: never half a file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(dataclasses.asdict(token)), encoding="utf-8")
    os.replace(temporary, path)


class TokenCache:
    """A token in memory, saved to disk so a restart reuses it until it expires; one refresh at
    a time (threads). `fetch` asks the token endpoint and returns its JSON answer."""

    def __init__(self, fetch: Callable[[], Mapping[str, Any]], path: Path) -> None:
        self._fetch = fetch
        self._path = path
        self._token = read_token(path)
        self._lock = threading.Lock()

    def get(self, stale: str | None = None) -> str:
        """A usable token; a new one when the cached one is `stale` (the upstream refused it)."""
        with self._lock:
            token = self._token
            if token is None or not token.usable(time.time()) or token.access_token == stale:
                token = self._token = parse_token(self._fetch(), time.time())
                save_token(self._path, token)
            return token.access_token


class AsyncTokenCache:
    """`TokenCache` for asyncio servers: one refresh at a time (tasks)."""

    def __init__(self, fetch: Callable[[], Awaitable[Mapping[str, Any]]], path: Path) -> None:
        self._fetch = fetch
        self._path = path
        self._token = read_token(path)
        self._lock = asyncio.Lock()

    async def get(self, stale: str | None = None) -> str:
        async with self._lock:
            token = self._token
            if token is None or not token.usable(time.time()) or token.access_token == stale:
                token = self._token = parse_token(await self._fetch(), time.time())
                save_token(self._path, token)
            return token.access_token


# -- calling the Models API --------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the Models API (status 0: none came, `body` says why)."""

    status: int
    body: bytes
    retry_after: str | None = None


class UpstreamError(Exception):
    """The Models API failed for good: its last `status` (0: no answer) and what it said."""

    def __init__(self, status: int, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def from_answer(cls, answer: Answer) -> UpstreamError:
        text = answer.body[:300].decode("utf-8", "replace")
        message = f"Models API answered {answer.status}: {text}"
        return cls(answer.status, message, answer.retry_after)

    @property
    def client_status(self) -> int:
        """The status an OpenAI client gets for this failure."""
        return CLIENT_STATUS.get(self.status, 502)

    @property
    def client_headers(self) -> dict[str, str]:
        """A passed-on 429 keeps its Retry-After."""
        return {"Retry-After": self.retry_after} if self.retry_after else {}


Send = Callable[[str], Answer]
AsyncSend = Callable[[str], Awaitable[Answer]]


def retry_delay_s(answer: Answer, attempt: int, max_attempts: int) -> float | None:
    """Seconds to wait before retrying after `answer` (attempt `attempt`), None to give up.
    Retry-After is honoured; otherwise exponential backoff with full jitter."""
    if answer.status not in RETRYABLE or attempt >= max_attempts:
        return None
    try:
        wait_s = float(answer.retry_after) if answer.retry_after else None
    except ValueError:
        wait_s = None
    if wait_s is not None:
        return wait_s if wait_s <= LONGEST_RETRY_AFTER_S else None
    return random.uniform(0.1, 0.5 * 2**attempt)


def decode(answer: Answer) -> dict[str, Any]:
    """The JSON object of a 200 answer; UpstreamError(0) when it is not one."""
    try:
        document = json.loads(answer.body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise UpstreamError(0, "Models API sent a body that is not a JSON object")
    return document


def call(
    send: Send,
    token: Callable[[str | None], str],
    max_attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """`send(bearer)` until it succeeds: one new token after a 401, retries on 423/429/503.
    The token is asked for before every attempt: one may expire while a retry waits."""
    stale: str | None = None
    attempt = 1
    while True:
        bearer = token(stale)
        answer = send(bearer)
        if answer.status == 200:
            return decode(answer)
        if answer.status == 401 and stale is None:
            stale = bearer
            continue
        delay_s = retry_delay_s(answer, attempt, max_attempts)
        if delay_s is None:
            raise UpstreamError.from_answer(answer)
        sleep(delay_s)
        attempt += 1


async def call_async(
    send: AsyncSend,
    token: Callable[[str | None], Awaitable[str]],
    max_attempts: int,
) -> dict[str, Any]:
    """`call` for asyncio servers."""
    stale: str | None = None
    attempt = 1
    while True:
        bearer = await token(stale)
        answer = await send(bearer)
        if answer.status == 200:
            return decode(answer)
        if answer.status == 401 and stale is None:
            stale = bearer
            continue
        delay_s = retry_delay_s(answer, attempt, max_attempts)
        if delay_s is None:
            raise UpstreamError.from_answer(answer)
        await asyncio.sleep(delay_s)
        attempt += 1


def urllib_post(url: str, data: bytes, headers: dict[str, str], timeout_s: float) -> Answer:
    """POST with urllib (the stdlib gateways); an HTTP error status is an answer too."""
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return Answer(response.status, response.read(), response.headers["Retry-After"])
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.read(), exc.headers["Retry-After"])
    except (OSError, ValueError) as exc:
        raise UpstreamError(0, f"Models API unreachable: {exc!r}") from None


def chat_url(model: str) -> str:
    return f"{MODELS_API}/models/{model}/chat-generations"


def generations_url(model: str) -> str:
    return f"{MODELS_API}/models/{model}/generations"


def headers(bearer: str) -> dict[str, str]:
    """The headers every Models API request carries."""
    return {
        **SALESFORCE_HEADERS,
        "Authorization": f"Bearer {bearer}",
        "Content-Type": "application/json",
    }


# -- the OpenAI side ---------------------------------------------------------------------------


class BadRequest(Exception):
    """The client's request cannot be served: an OpenAI-style 4xx."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.message, "invalid_request_error", self.code)


def error_body(message: str, kind: str = "api_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def upstream_error_body(error: UpstreamError) -> dict[str, Any]:
    return error_body(error.message, "api_error", f"upstream_{error.status or 'unreachable'}")


def parse_chat_request(raw: bytes, models: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """The client's chat request and the Models API model it maps to; BadRequest otherwise."""
    try:
        request = json.loads(raw)
    except ValueError:
        raise BadRequest(400, "request body is not JSON", "invalid_json") from None
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        raise BadRequest(400, "'messages' must be a list", "invalid_messages")
    served = str(request.get("model", ""))
    if served not in models:
        known = ", ".join(sorted(models))
        message = f"model {served!r} is not served here; use one of: {known}"
        raise BadRequest(404, message, "model_not_found")
    return request, models[served]


def chat_body(request: Mapping[str, Any]) -> dict[str, Any]:
    """The chat-generations body for an OpenAI chat request (roles and contents only)."""
    messages = [{"role": m.get("role"), "content": m.get("content")} for m in request["messages"]]
    return {"messages": messages}


def chat_completion(reply: Mapping[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI `chat.completion` from a chat-generations reply."""
    try:
        details = reply["generationDetails"]
        generation = details["generations"][0]
        text, usage = str(generation["content"]), dict(details["parameters"]["usage"])
        finish = (generation.get("parameters") or {}).get("finish_reason") or "stop"
    except (KeyError, IndexError, TypeError):
        raise UpstreamError(0, "Models API reply has no generation") from None
    return completion(str(reply.get("id") or uuid.uuid4()), model, text, finish, usage)


def completion(
    upstream_id: str, model: str, text: str, finish: str, usage: Mapping[str, Any]
) -> dict[str, Any]:
    """An OpenAI `chat.completion` document."""
    prefixed = upstream_id if upstream_id.startswith("chatcmpl-") else f"chatcmpl-{upstream_id}"
    return {
        "id": prefixed,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": int(usage.get("prompt_tokens", 0)),
            "completion_tokens": int(usage.get("completion_tokens", 0)),
            "total_tokens": int(usage.get("total_tokens", 0)),
        },
    }


def wants_stream(request: Mapping[str, Any]) -> tuple[bool, bool]:
    """(stream, include usage in the stream) as the client asked."""
    options = request.get("stream_options")
    usage = isinstance(options, dict) and bool(options.get("include_usage"))
    return bool(request.get("stream")), usage


def stream_pieces(text: str) -> list[str]:
    """The text cut into word-sized deltas that join back to exactly `text`."""
    words = text.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def sse(document: Mapping[str, Any] | str, dumps: Callable[[Any], str] = json.dumps) -> str:
    """One server-sent event."""
    data = document if isinstance(document, str) else dumps(document)
    return f"data: {data}\n\n"


def stream_events(
    done: Mapping[str, Any],
    include_usage: bool,
    pieces: Callable[[str], list[str]] = stream_pieces,
    dumps: Callable[[Any], str] = json.dumps,
) -> list[str]:
    """The SSE events of a finished completion, re-chunked into `chat.completion.chunk`s: its
    text cut by `pieces`, each event's JSON written by `dumps`."""
    choice = done["choices"][0]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {"id": done["id"], "object": "chat.completion.chunk", "created": done["created"],
                "model": done["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
        return sse(body, dumps)

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces(choice["message"]["content"])]
    events.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        usage = {"id": done["id"], "object": "chat.completion.chunk", "choices": [],
                 "usage": done["usage"]}  # fmt: skip
        events.append(sse(usage, dumps))
    events.append(sse("[DONE]"))
    return events


def models_listing(names: Iterable[str]) -> dict[str, Any]:
    """`GET /v1/models`."""
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "salesforce"} for n in names]
    return {"object": "list", "data": data}


def banner(settings: Settings, framework: str) -> str:
    """The start-up line: where the gateway listens and how it was started."""
    url = f"http://{settings.host}:{settings.port}"
    return f"{settings.name} ({framework}) serving {', '.join(settings.models)} on {url}"
