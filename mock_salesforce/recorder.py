"""Record mode: proxy to a real upstream and write what it did as a replayable recording.

Redaction by default: no headers are kept (so no bearer tokens), token bodies are dropped,
every string in request and response bodies becomes a same-length placeholder (except a few
structural fields such as `role` or `finish_reason`) and embedding vectors become zeros,
unless `keep_text`. The token response's instance URLs are rewritten to the recorder's own, so
a client keeps talking through it.

Nothing recorded is lost: the recording file is created before the recorder listens (a path
it cannot write is a ConfigError), and each exchange is appended as one line the moment it
ends. An upstream URL with a user or password in it is refused: the recorder forwards each
client's own `Authorization`, and the recording names its upstream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from mock_salesforce.corpus import Corpus, load_corpus
from mock_salesforce.errors import ApiError, ConfigError
from mock_salesforce.recording import FORMAT, match_shape
from mock_salesforce.server import format_url, stop_signals

KEPT_KEYS = frozenset(
    {"role", "finish_reason", "finishReason", "object", "model", "provider", "categoryName",
     "token_type", "token_format", "system_fingerprint", "errorCode", "messageCode", "feedback"}
)  # fmt: skip
HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_TOKEN_PATH = "/services/oauth2/token"


def checked_upstream(url: str) -> str:
    """`url` without a trailing slash; ConfigError unless it is http(s) with a host and no
    user or password (the message never repeats the URL: it may hold a password)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "--record-from must not hold a user or password (user:password@host): "
            "the recorder forwards each client's own Authorization"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("--record-from must be an http:// or https:// URL with a host")
    return url.rstrip("/")


def redact(value: Any, key: str | None = None) -> Any:
    """`value` with every string replaced by `x`s of the same length, numbers under `embedding`
    by 0.0; strings under `KEPT_KEYS` stay."""
    if isinstance(value, dict):  # (`value` came from json.loads: no deeper than it parses)
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str) and key not in KEPT_KEYS:
        return "x" * len(value)
    if key == "embedding" and isinstance(value, float):
        return 0.0
    return value


def endpoint_of(path: str) -> tuple[str, str | None]:
    """(`endpoint`, `model`) of a request path, as the journal names them."""
    if path == _TOKEN_PATH:
        return "token", None
    if path.rstrip("/").endswith("/einstein/platform/v1/feedback"):
        return "feedback", None
    parts = path.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "models":
        return parts[-1], parts[-2]
    return "other", None


class Recorder:
    """Proxies every request to `upstream` and appends one recording entry per exchange to
    `out_path` (created at once: ConfigError when it cannot be)."""

    def __init__(
        self,
        upstream: str,
        out_path: Path,
        *,
        keep_text: bool = False,
        corpus: Corpus | None = None,
    ) -> None:
        self.upstream = checked_upstream(upstream)
        self.out_path = out_path
        self.keep_text = keep_text
        self.corpus = corpus or load_corpus()
        self.recorded = 0
        self.started_s = time.monotonic()
        self.session: aiohttp.ClientSession | None = None
        self.failure = ""  # why the recording could not go on ("" while it can)
        self.on_failure: Callable[[], None] = lambda: None
        header = {"format": FORMAT, "recorded_from": self.upstream, "redacted": not keep_text}
        self._out = _create(out_path, json.dumps(header) + "\n")

    async def handle(self, request: web.Request) -> web.Response:
        """Forward one request, time the upstream, answer with what it said, record it."""
        raw = await request.read()
        endpoint, model = endpoint_of(request.path)
        try:
            status, content_type, body, latency_ms = await self._forward(request, raw)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # (a header aiohttp refuses)
            self._keep(endpoint, model, 0, 0.0, raw, b"")
            error = ApiError(502, "INTERNAL_ERROR", f"upstream unreachable: {exc}")
            return web.Response(body=error.body(), status=502, content_type="application/json")
        if endpoint == "token" and status == 200:
            body = _rewrite_instance_urls(body, f"{request.scheme}://{request.host}")
        self._keep(endpoint, model, status, latency_ms, raw, body)
        return web.Response(body=body, status=status, content_type=content_type)

    async def _forward(self, request: web.Request, raw: bytes) -> tuple[int, str, bytes, float]:
        assert self.session is not None, "the recorder app starts the session"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        sent_s = time.monotonic()
        async with self.session.request(
            request.method, self.upstream + request.path_qs, data=raw, headers=headers
        ) as upstream:
            body = await upstream.read()
            latency_ms = (time.monotonic() - sent_s) * 1000.0
            return upstream.status, upstream.content_type, body, latency_ms

    def _keep(
        self, endpoint: str, model: str | None, status: int, latency_ms: float, raw: bytes,
        body: bytes,
    ) -> None:  # fmt: skip
        entry: dict[str, Any] = {
            "t_s": round(time.monotonic() - self.started_s, 6), "endpoint": endpoint,
            "model": model, "status": status, "latency_ms": round(latency_ms, 3), "shape": None,
        }  # fmt: skip
        if endpoint != "token":
            request_doc, response_doc = _json_or_none(raw), _json_or_none(body)
            if status < 300:
                entry["shape"] = match_shape(self.corpus, endpoint, response_doc)
            entry["request"] = request_doc if self.keep_text else redact(request_doc)
            entry["response"] = response_doc if self.keep_text else redact(response_doc)
        self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        """One line, written through at once; on failure the recorder stops (nothing after
        this entry could be kept) and says why."""
        if self.failure:
            return
        try:
            self._out.write(json.dumps(entry) + "\n")
            self._out.flush()
        except OSError as exc:
            self.failure = f"cannot write to {self.out_path}: {exc.strerror or exc}"
            self.on_failure()
            return
        self.recorded += 1

    def close(self) -> None:
        """Close the recording file (every entry is already in it)."""
        self._out.close()


def _create(path: Path, header: str) -> TextIO:
    """`path` opened for appending lines, `header` written; ConfigError when it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w", encoding="utf-8")
        handle.write(header)
        handle.flush()
    except OSError as exc:
        raise ConfigError(f"cannot write the recording to {path}: {exc.strerror or exc}") from None
    return handle


def _rewrite_instance_urls(body: bytes, own_url: str) -> bytes:
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict):
        return body
    for key in ("instance_url", "api_instance_url"):
        if key in document:
            document[key] = own_url
    return json.dumps(document).encode()


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None


def create_recorder_app(recorder: Recorder) -> web.Application:
    """An app that proxies everything through `recorder` and flushes it on shutdown."""
    app = web.Application(client_max_size=64 << 20)
    app.router.add_route("*", "/{tail:.*}", recorder.handle)

    async def session_context(app: web.Application) -> Any:
        recorder.session = aiohttp.ClientSession(auto_decompress=True)
        yield
        await recorder.session.close()

    app.cleanup_ctx.append(session_context)
    return app


async def record(
    upstream: str,
    out_path: str,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    *,
    keep_text: bool = False,
) -> int:
    """Serve the recording proxy until SIGINT/SIGTERM and return that signal's number (each
    exchange is on disk as it ends); ConfigError for an upstream or a recording path that will
    not do, or a write that failed (the recorder stops at once)."""
    recorder = Recorder(upstream, Path(out_path), keep_text=keep_text)
    runner = web.AppRunner(create_recorder_app(recorder), access_log=None)
    await runner.setup()
    try:
        with stop_signals() as stopped_by:

            def stop_on_failure() -> None:
                if not stopped_by.done():
                    stopped_by.set_result(0)

            recorder.on_failure = stop_on_failure
            site = web.TCPSite(runner, host, port)
            await site.start()
            on_ready(format_url(host, int(runner.addresses[0][1])))
            signum = await stopped_by
    finally:
        await runner.cleanup()
        recorder.close()
    if recorder.failure:
        raise ConfigError(f"{recorder.failure}; kept the {recorder.recorded} exchanges before it")
    return signum
