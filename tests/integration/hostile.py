"""Hostile requests as raw bytes, by kind, and a raw-socket client that sends them one per
connection and reads what comes back (for the fuzz test of the mock).

Every kind is a function of a seeded `random.Random` and the `Secrets` of the mock under test;
`counted` says whether the mock counts and journals it (admin calls it serves are not).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

import httptools  # type: ignore[import-untyped]

API = "/einstein/platform/v1"
CHAT = f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/chat-generations"
GEN = f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/generations"
EMBED = f"{API}/models/sfdc_ai__DefaultOpenAITextEmbeddingAda_002/embeddings"
FEEDBACK = f"{API}/feedback"
TOKEN = "/services/oauth2/token"
FORM = b"grant_type=client_credentials&client_id=fuzz&client_secret=fuzz"
APP_HEADERS = "x-sfdc-app-context: EinsteinGPT\r\nx-client-feature-id: ai-platform-models\r\n"


@dataclass(frozen=True)
class Secrets:
    """What a well-behaved client of the mock under test knows, and what a hostile one forges."""

    bearer: str  # a token the mock issued
    forged: Callable[[object], str]  # a token signed with the mock's key, with these claims
    admin_token: str


@dataclass(frozen=True)
class Kind:
    """One kind of request: how to make it, and whether the mock counts it."""

    name: str
    make: Callable[[random.Random, Secrets], bytes | list[bytes]]
    counted: bool = True
    pause_s: float = 0.0  # between the pieces of a request sent in pieces


def head(method: str, path: str, lines: str = "", host: str = "Host: 127.0.0.1\r\n") -> bytes:
    return f"{method} {path} HTTP/1.1\r\n{host}{lines}\r\n".encode("latin-1")


def post(path: str, body: bytes, lines: str = "") -> bytes:
    return head("POST", path, f"{lines}Content-Length: {len(body)}\r\n") + body


def api(path: str, body: bytes, secrets: Secrets, lines: str = "") -> bytes:
    """A Models API POST with a valid bearer and the app headers, plus `lines`."""
    return post(path, body, f"Authorization: Bearer {secrets.bearer}\r\n{APP_HEADERS}{lines}")


def chat_body(rng: random.Random) -> bytes:
    words = " ".join(rng.choice(["pie", "oven", "crust", "é", "💩", "\\u0000"]) for _ in range(5))
    return json.dumps({"messages": [{"role": "user", "content": words}]}).encode()


def _valid(rng: random.Random, s: Secrets) -> bytes:
    choice = rng.randrange(5)
    if choice == 0:
        return api(CHAT, chat_body(rng), s)
    if choice == 1:
        return api(GEN, json.dumps({"prompt": f"p{rng.random()}"}).encode(), s)
    if choice == 2:
        return api(EMBED, json.dumps({"input": [f"t{rng.random()}"] * 3}).encode(), s)
    if choice == 3:
        return api(FEEDBACK, b'{"id": "i", "generationId": "g", "feedback": "GOOD"}', s)
    return post(TOKEN, FORM, "Content-Type: application/x-www-form-urlencoded\r\n")


def _bad_body(rng: random.Random, s: Secrets) -> bytes:
    bodies = [
        rng.randbytes(rng.randrange(1, 64)),
        b"[" * 5000,
        b'{"a":' * 3000,
        b"null",
        b'"text"',
        b'{"messages": "no"}',
        b'{"messages": [{"role": "bot", "content": 1}]}',
        b'{"prompt": 5}',
        b'{"input": [1, 2]}',
        json.dumps({"input": ["x"] * 2049}).encode(),  # over the embeddings input cap
        b'{"prompt": "' + b"x" * 70_000 + b'"}',  # over the fuzz mock's body limit
        b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
    ]
    return api(rng.choice([CHAT, GEN, EMBED, FEEDBACK]), rng.choice(bodies), s)


def _bad_bearer(rng: random.Random, s: Secrets) -> bytes:
    claims = rng.choice([{"jti": "j", "exp": "soon"}, {"exp": None}, ["x"], {"exp": [1]}])
    bearers = [
        "Bearer a.b.c",
        "Bearer \xff\xfe.\xc3(.x",
        "Bearer " + s.forged(claims),
        "Basic Zm9vOmJhcg==",
        "Bearer ",
        "Bearer " + "x" * 4000,
    ]
    lines = f"Authorization: {rng.choice(bearers)}\r\n{APP_HEADERS}"
    return post(rng.choice([CHAT, GEN, EMBED]), chat_body(rng), lines)


def _bad_headers(rng: random.Random, s: Secrets) -> bytes:
    lines = rng.choice(
        [
            "",
            "x-sfdc-app-context: \xff\xfe\r\nx-client-feature-id: \xe9\r\n",
            "x-sfdc-app-context: \r\nx-client-feature-id: f\r\n",
        ]
    )
    return post(CHAT, chat_body(rng), f"Authorization: Bearer {s.bearer}\r\n{lines}")


def _bad_http(rng: random.Random, s: Secrets) -> bytes:
    body = chat_body(rng)
    length = f"Content-Length: {len(body)}\r\n"
    return rng.choice(
        [
            rng.randbytes(rng.randrange(1, 200)),
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rng.randbytes(32),
            b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
            b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
            head("POST", CHAT, length, host="") + body,
            head("POST", CHAT, "Host: evil\r\n" + length) + body,
            head("POST", CHAT, "Content-Type: a\r\ncontent-type: b\r\n" + length) + body,
            head("POST", CHAT, "User-Agent: a\r\nUSER-AGENT: b\r\n" + length) + body,
            head("POST", CHAT, length + length) + body,
            head("POST", CHAT, length + "Transfer-Encoding: chunked\r\n") + body,
            head("POST", CHAT, "Transfer-Encoding: xchunked\r\n") + b"5\r\nhello\r\n0\r\n\r\n",
            head("POST", CHAT, "Transfer-Encoding: gzip, chunked\r\n") + b"0\r\n\r\n",
            head("POST", CHAT, "Transfer-Encoding: chunked\r\n") + b"5\r\nhello\r\nZZ\r\n",
            head("POST", CHAT, "Content-Length: -5\r\n"),
            head("POST", CHAT, "Content-Length: 1e9x\r\n"),
            head("GET", "/" + "a" * rng.randrange(8200, 12_000)),
            head("GET", "/", f"X: {'a' * rng.randrange(8200, 12_000)}\r\n"),
            head("GET", "/", "".join(f"X{i}: {i}\r\n" for i in range(rng.randrange(129, 400)))),
            head("GET", "/", "X: a\x00b\r\n"),
            head("GET", "/", "X: folded\r\n  continued\r\n"),
            head("GET", "/", "Sec-WebSocket-Key1: 1\r\n"),
            b"GET / HTTP/1.1\nHost: x\n\n",
        ]
    )


def _smuggling(rng: random.Random, s: Secrets) -> bytes:
    inner = rng.choice(
        [
            head("POST", "/__admin/reset", "Content-Type: application/json\r\n"),
            api(CHAT, chat_body(rng), s),
        ]
    )
    upgrade = rng.choice(["h2c", "websocket", "foo/1"])
    return api(CHAT, inner, s, f"Connection: Upgrade\r\nUpgrade: {upgrade}\r\n")


def _odd_routes(rng: random.Random, s: Secrets) -> bytes:
    path = rng.choice(
        [
            "/",
            "/einstein",
            f"{API}/models/%FF%FE/chat-generations",
            f"{API}/models/%00/generations",
            f"{API}/models/sfdc_ai__DefaultGPT4OmniMini/nope",
            CHAT + "?x=%ZZ",
            "/services/oauth2/token?grant_type=%FF",
            "/../../etc/passwd",
        ]
    )
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
    body = chat_body(rng)
    if method == "HEAD":  # a HEAD reply has no body to check: aiohttp's 404 headers only
        method = "GET"
    lines = f"Authorization: Bearer {s.bearer}\r\n{APP_HEADERS}Content-Length: {len(body)}\r\n"
    return head(method, path, lines) + body


def _chunked(rng: random.Random, s: Secrets) -> bytes:
    body = chat_body(rng)
    cut = rng.randrange(1, len(body))
    chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (cut, body[:cut], len(body) - cut, body[cut:])
    lines = f"Authorization: Bearer {s.bearer}\r\n{APP_HEADERS}Transfer-Encoding: chunked\r\n"
    if rng.random() < 0.3:
        lines += "Expect: 100-continue\r\n"
    return head("POST", CHAT, lines) + chunks


def _slow_head(rng: random.Random, s: Secrets) -> list[bytes]:
    whole = api(CHAT, chat_body(rng), s)
    return [whole[:7], whole[7:19]]  # never the end of the head


def _admin(rng: random.Random, s: Secrets) -> bytes:
    token = f"Authorization: Bearer {s.admin_token}\r\n"
    choice = rng.randrange(5)
    if choice == 0:
        return head("GET", "/__admin/health", token)
    if choice == 1:
        return head("GET", "/__admin/journal?since=x", token)
    if choice == 2:
        body = rng.choice([b"[" * 5000, b"{", b'{"seed": "x"}', b"\xff"])
        lines = token + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return head("PATCH", "/__admin/config", lines) + body
    if choice == 3:
        return post(
            "/__admin/expected", b'{"a":' * 3000, token + "Content-Type: application/json\r\n"
        )
    return head("GET", "/__admin/counters", "Authorization: Bearer \xff\xfe\r\n")


KINDS = (
    Kind("valid", _valid),
    Kind("bad body", _bad_body),
    Kind("bad bearer", _bad_bearer),
    Kind("bad app headers", _bad_headers),
    Kind("bad HTTP", _bad_http),
    Kind("smuggling", _smuggling),
    Kind("odd routes", _odd_routes),
    Kind("chunked", _chunked),
    Kind("admin", _admin, counted=False),
)
SLOW_HEAD = Kind("slow head", _slow_head, pause_s=0.05)


@dataclass
class Answer:
    """What came back on one connection."""

    status: int = 0  # the final status (0: no reply)
    body: bytes = b""
    replies: int = 0  # final replies (1xx not counted)
    error: str = ""  # why the exchange failed on the client side

    def json(self) -> object:
        return json.loads(self.body)


class _Collector:
    """httptools callbacks: the final reply of a connection (interim 1xx ones skipped)."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.status = 0
        self.body = bytearray()
        self.done = False
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.status >= 200:
            self.answer.status, self.answer.body = self.status, bytes(self.body)
            self.answer.replies += 1
            self.done = True
        self.body = bytearray()


async def send(port: int, data: bytes | list[bytes], pause_s: float, timeout_s: float) -> Answer:
    """Send one request on a new connection; read until a final reply and EOF (or time out)."""
    collector = _Collector()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for piece in [data] if isinstance(data, bytes) else data:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(pause_s)
        await asyncio.wait_for(_read(reader, collector), timeout_s)
    except (OSError, TimeoutError, httptools.HttpParserError) as exc:
        collector.answer.error = f"{type(exc).__name__}: {exc}"
    finally:
        writer.close()
    return collector.answer


async def _read(reader: asyncio.StreamReader, collector: _Collector) -> None:
    """Until a final reply is whole (or the server closes)."""
    while not collector.done:
        chunk = await reader.read(65_536)
        if not chunk:
            return
        collector.parser.feed_data(chunk)
