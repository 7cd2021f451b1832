"""Small blocking HTTP probes of a target: health, readiness, its own metrics.

Proxies from the environment are ignored on purpose: targets live on loopback, and a corporate
`http_proxy` must not swallow the harness's probes. A target's certificate is checked as
`TargetTls` says; one refused raises `TlsRefused` at once (harness.targets.tls).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from harness.targets.endpoints import HEALTH_PATH, MODELS_PATH, endpoint_url
from harness.targets.tls import DEFAULT_TLS, TargetTls, tls_refusal

HEALTH_PATHS = (HEALTH_PATH, MODELS_PATH)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
NO_HEADERS: Mapping[str, str] = {}
# GET (url, timeout_s, headers) -> (status, body), None when nothing answered
Get = Callable[[str, float, Mapping[str, str]], "tuple[int, bytes] | None"]


def http_get(
    url: str,
    timeout_s: float = 2.0,
    headers: Mapping[str, str] = NO_HEADERS,
    *,
    tls: TargetTls = DEFAULT_TLS,
) -> tuple[int, bytes] | None:
    """GET `url` with `headers`: (status, body), or None when nothing answered (refused,
    reset, timeout); `TlsRefused` when its TLS was refused."""
    try:
        request = urllib.request.Request(url, headers=dict(headers))
        with opener(tls).open(request, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        exc.close()
        return int(exc.code), body
    except (OSError, ValueError) as exc:
        if refused := tls_refusal(url, exc):
            raise refused from None
        return None


def opener(tls: TargetTls) -> urllib.request.OpenerDirector:
    """A urllib opener that ignores proxies and checks certificates as `tls` says."""
    if tls.default:
        return _OPENER
    handler = urllib.request.HTTPSHandler(context=tls.context())
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), handler)


@dataclass(frozen=True)
class Readiness:
    """Whether a target is up, and what it answered to each readiness request."""

    ready: bool
    said: tuple[str, ...] = ()  # "GET /health answered 404", ...

    def describe(self) -> str:
        return ", ".join(self.said) if self.said else "it answers no HTTP request"


def readiness(
    base_url: str,
    timeout_s: float = 2.0,
    headers: Mapping[str, str] = NO_HEADERS,
    get: Get | None = None,
    *,
    tls: TargetTls = DEFAULT_TLS,
) -> Readiness:
    """Ready when GET /health, or else GET /v1/models, answers anything under 500: a 404 is an
    answer too (many gateways serve only POST /v1/chat/completions; discovery's probe is the
    real test), while a 5xx says the server is not ready (yet). `get` defaults to `http_get`
    with `tls`."""
    get = get or partial(http_get, tls=tls)
    said: list[str] = []
    for path in HEALTH_PATHS:
        answer = get(endpoint_url(base_url, path), timeout_s, headers)
        if answer is None:
            return Readiness(False, tuple(said))
        said.append(f"GET {path} answered {answer[0]}")
        if answer[0] < 500:
            return Readiness(True, tuple(said))
    return Readiness(False, tuple(said))


# The HTTP/2 connection preface and an empty SETTINGS frame (a client with prior knowledge).
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
HTTP2_ONLY = ("it answers HTTP/2 only (a SETTINGS frame to the HTTP/2 preface, nothing to "
              "HTTP/1.1): sfperf's clients speak HTTP/1.1; serve HTTP/1.1 as well (Go: "
              "h2c.NewHandler; hypercorn and uvicorn serve both)")  # fmt: skip


def speaks_http2_only(url: str, timeout_s: float = 2.0) -> bool:
    """True when the plain-http server at `url` answers the HTTP/2 preface with a SETTINGS
    frame: an h2c server with prior knowledge only, which no HTTP/1.1 request gets an answer
    from, however long one waits (R132)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout_s) as sock:
            sock.sendall(H2_PREFACE)
            head = sock.recv(9)
    except OSError:
        return False
    return len(head) == 9 and head[3] == 0x04 and head[5:9] == b"\x00\x00\x00\x00"


def get_json(
    url: str,
    timeout_s: float = 5.0,
    headers: Mapping[str, str] = NO_HEADERS,
    *,
    tls: TargetTls = DEFAULT_TLS,
) -> dict[str, Any] | None:
    """GET `url` and parse a JSON object; None on any failure (absent endpoint, bad JSON)."""
    answer = http_get(url, timeout_s, headers, tls=tls)
    if answer is None or answer[0] != 200:
        return None
    try:
        document = json.loads(answer[1])
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def http_post_json(
    url: str,
    document: Any,
    timeout_s: float = 30.0,
    headers: Mapping[str, str] = NO_HEADERS,
    *,
    tls: TargetTls = DEFAULT_TLS,
) -> tuple[int, bytes] | None:
    """POST `document` as JSON with `headers`: (status, body), error statuses included; None
    when nothing answered; `TlsRefused` when its TLS was refused."""
    sent = {**headers, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=json.dumps(document).encode(), headers=sent)
    try:
        with opener(tls).open(request, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read()
    except (OSError, ValueError) as exc:
        if refused := tls_refusal(url, exc):
            raise refused from None
        return None
