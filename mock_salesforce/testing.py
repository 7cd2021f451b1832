"""aioresponses helper: unit-test an aiohttp client or gateway that hard-codes Salesforce URLs.

    from mock_salesforce.testing import salesforce_responses

    async def test_my_client_survives_a_429():
        with salesforce_responses(faults=["429:first=1,retry_after=1"]) as sf:
            text = await my_client.chat("hello")        # calls https://api.salesforce.com/...
            assert sf.admin.counters()["by_status"]["429"] == 1

Requests from `aiohttp.ClientSession` to `https://api.salesforce.com` and `https://*.my.salesforce.com`
(OAuth token endpoint and Models API) are answered by a real mock running in a thread of the
test process, so replies, shapes, tokens, latency, faults and quotas are exactly the mock's;
wire faults surface as the exceptions aiohttp raises for them. Everything else aioresponses does
(other URLs, `assert_called_with`) stays available on `sf.responses`.
"""

from __future__ import annotations

import asyncio
import errno
import http.client
import inspect
import json
import re
import socket
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
from aioresponses import CallbackResult, aioresponses
from yarl import URL

if TYPE_CHECKING:
    from mock_salesforce.admin_client import AdminClient
    from mock_salesforce.server import ThreadedMock

API_HOST = "api.salesforce.com"
DEFAULT_INSTANCE_HOST = "sfperf-test.my.salesforce.com"
SALESFORCE_URL = re.compile(
    r"^https://(api\.salesforce\.com|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.my\.salesforce\.com)"
    r"(:443)?/(services/oauth2/token|einstein/platform/v1/.*)$"
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_DROPPED_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "date", "server"}
)


class CompatClientResponse(aiohttp.ClientResponse):
    """A ClientResponse aioresponses 0.7.9 can build on aiohttp >= 3.14 (aioresponses#289: it
    omits the new `stream_writer` argument); pass it as `response_class=` to your own mocks."""

    _NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        if self._NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


@dataclass(frozen=True)
class InterceptedSalesforce:
    """What `salesforce_responses` yields: the mock behind the interception and aioresponses."""

    mock: ThreadedMock
    responses: aioresponses

    @property
    def admin(self) -> AdminClient:
        """The mock's admin client (counters, journal, config changes, reset)."""
        return self.mock.admin


@contextmanager
def salesforce_responses(
    profile: str = "fast",
    seed: int = 0,
    *,
    responses: aioresponses | None = None,
    timeout_s: float = 30.0,
    **config: Any,
) -> Iterator[InterceptedSalesforce]:
    """Answer Salesforce URLs from a mock (profile, seed, and `latency=`, `faults=`, ... as for
    the pytest marker) while the context is open; `timeout_s` bounds each reply."""
    from mock_salesforce.config import build_config
    from mock_salesforce.server import run_in_thread

    with ExitStack() as stack:
        mock = stack.enter_context(run_in_thread(build_config(profile, seed, **config)))
        if responses is None:
            responses = stack.enter_context(aioresponses())
        forwarder = _Forwarder(mock.url, timeout_s)
        for method in METHODS:
            responses.add(SALESFORCE_URL, method, callback=forwarder.callback(method), repeat=True)
        yield InterceptedSalesforce(mock, responses)


class _Forwarder:
    """Sends each intercepted request to the mock and turns its answer into a CallbackResult."""

    def __init__(self, mock_url: str, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(mock_url)
        self.mock_url = mock_url
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout_s = timeout_s

    def callback(self, method: str) -> Any:
        async def answer(url: URL, **kwargs: Any) -> CallbackResult:
            body, headers = request_body(kwargs), request_headers(kwargs)
            timeout_s = _timeout_s(kwargs.get("timeout"), self.timeout_s)
            status, reply_headers, data = await asyncio.to_thread(
                self._send, method, url.raw_path_qs, body, headers, timeout_s
            )
            if url.path == "/services/oauth2/token" and status == 200:
                data = self._as_salesforce_token(data, url.host or API_HOST)
            return CallbackResult(
                status=status,
                body=data,
                headers=reply_headers,
                content_type=reply_headers.pop("Content-Type", "application/json"),
                response_class=CompatClientResponse,
            )

        return answer

    def _send(
        self, method: str, path: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        try:
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException) as exc:
            raise as_aiohttp_error(exc) from exc
        finally:
            connection.close()
        kept = {k: v for k, v in reply.getheaders() if k.lower() not in _DROPPED_HEADERS}
        return reply.status, kept, data

    def _as_salesforce_token(self, data: bytes, host: str) -> bytes:
        """The token reply as Salesforce words it: org and API hosts instead of the mock's."""
        instance = f"https://{host if host != API_HOST else DEFAULT_INSTANCE_HOST}"
        document = json.loads(data)
        for key, value in document.items():
            if isinstance(value, str) and value.startswith(self.mock_url):
                document[key] = instance + value[len(self.mock_url) :]
        if "api_instance_url" in document:
            document["api_instance_url"] = f"https://{API_HOST}"
        return json.dumps(document).encode()


def as_aiohttp_error(exc: BaseException) -> aiohttp.ClientError:
    """The exception an aiohttp client raises when a real server does what the mock did."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return aiohttp.ServerTimeoutError(f"Timeout on reading data from socket: {exc}")
    if isinstance(exc, http.client.RemoteDisconnected):
        return aiohttp.ServerDisconnectedError()  # closed without a byte: an empty reply
    if isinstance(exc, http.client.IncompleteRead):
        return aiohttp.ClientPayloadError("Response payload is not completed")
    if isinstance(exc, ConnectionResetError):
        return aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer")
    return aiohttp.ClientConnectionError(str(exc))


def request_body(kwargs: Mapping[str, Any]) -> bytes:
    """The body an aiohttp request call would send, from its `json=` or `data=` argument."""
    if kwargs.get("json") is not None:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    if data is None:
        return b""
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, Mapping | Sequence):
        return urllib.parse.urlencode(data).encode()  # what aiohttp sends for a dict: a form
    raise TypeError(f"salesforce_responses cannot forward a {type(data).__name__} body")


def request_headers(kwargs: Mapping[str, Any]) -> dict[str, str]:
    """The request headers, with the Content-Type aiohttp would add for `json=` or a form."""
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    if not any(k.lower() == "content-type" for k in headers):
        if kwargs.get("json") is not None:
            headers["Content-Type"] = "application/json"
        elif isinstance(kwargs.get("data"), Mapping | list | tuple):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers


def _timeout_s(timeout: Any, default_s: float) -> float:
    """The client's own total timeout when it passed one per request, else the default."""
    total = getattr(timeout, "total", timeout)
    return float(total) if isinstance(total, int | float) and total > 0 else default_s
