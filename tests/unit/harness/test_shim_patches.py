"""Each library patch rewrites Salesforce URLs at its seam, and the socket seam sends a
Salesforce host's connections to the mock, on stand-in classes (the real libraries are patched
only inside launched children, never in the test process)."""

from __future__ import annotations

import importlib
import socket
import sys
import types
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import yarl

from harness.shim.startup.sfperf_shim.patches import (
    PostImportPatcher,
    patch_aiohttp,
    patch_httpx,
    patch_requests,
    patch_urllib,
)
from harness.shim.startup.sfperf_shim.redirect import Redirector
from harness.shim.startup.sfperf_shim.sockets import (
    PlainAsTls,
    patch_asyncio,
    patch_socket,
    patch_ssl,
)

MOCK = "http://127.0.0.1:8181"
API = "https://api.salesforce.com/einstein/platform/v1/models/m/chat-generations"


def redirector() -> Redirector:
    return Redirector(MOCK)


def test_aiohttp_urls_are_rewritten_where_the_session_builds_them() -> None:
    class ClientSession:
        def _build_url(self, str_or_url: Any) -> yarl.URL:
            return yarl.URL("https://api.salesforce.com").join(yarl.URL(str_or_url))

    patch_aiohttp(types.SimpleNamespace(ClientSession=ClientSession), redirector())  # type: ignore[arg-type]
    session = ClientSession()
    assert session._build_url("/einstein/x?a=1") == yarl.URL(f"{MOCK}/einstein/x?a=1")
    assert session._build_url("https://example.com/y") == yarl.URL("https://example.com/y")


def test_requests_are_rewritten_when_the_adapter_sends_them() -> None:
    sent: list[str] = []

    class HTTPAdapter:
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
            sent.append(str(request.url))

    patch_requests(types.SimpleNamespace(HTTPAdapter=HTTPAdapter), redirector())  # type: ignore[arg-type]
    for url in (API, "https://example.com/"):
        HTTPAdapter().send(requests.Request("POST", url).prepare(), timeout=1)
    assert sent == [
        f"{MOCK}/einstein/platform/v1/models/m/chat-generations",
        "https://example.com/",
    ]


def test_httpx_requests_are_rewritten_with_their_host_header_in_both_transports() -> None:
    seen: list[tuple[str, str]] = []

    class HTTPTransport:
        def handle_request(self, request: httpx.Request) -> None:
            seen.append((str(request.url), request.headers["Host"]))

    class AsyncHTTPTransport:
        async def handle_async_request(self, request: httpx.Request) -> None:
            seen.append((str(request.url), request.headers["Host"]))

    module = types.SimpleNamespace(
        HTTPTransport=HTTPTransport, AsyncHTTPTransport=AsyncHTTPTransport
    )
    patch_httpx(module, redirector())  # type: ignore[arg-type]
    HTTPTransport().handle_request(httpx.Request("POST", API))
    coroutine = AsyncHTTPTransport().handle_async_request(httpx.Request("GET", "https://x.org/"))
    with pytest.raises(StopIteration):
        coroutine.send(None)
    assert seen == [
        (f"{MOCK}/einstein/platform/v1/models/m/chat-generations", "127.0.0.1:8181"),
        ("https://x.org/", "x.org"),
    ]


def test_urllib_strings_and_request_objects_are_rewritten_when_opened() -> None:
    opened: list[str] = []

    class OpenerDirector:
        def open(self, fullurl: Any, data: Any = None) -> None:
            opened.append(fullurl if isinstance(fullurl, str) else fullurl.full_url)

    patch_urllib(types.SimpleNamespace(OpenerDirector=OpenerDirector), redirector())  # type: ignore[arg-type]
    request = urllib.request.Request("https://login.salesforce.com/services/oauth2/token")
    request.add_header("Host", "login.salesforce.com")
    OpenerDirector().open(request)
    OpenerDirector().open("https://acme.my.salesforce.com/services/oauth2/token")
    assert opened == [f"{MOCK}/services/oauth2/token"] * 2
    assert request.host == "127.0.0.1:8181" and not request.has_header("Host")


def test_a_library_imported_after_start_up_is_patched_on_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "requests"  # a stand-in package shadowing the real one for this test
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "adapters.py").write_text(
        "class HTTPAdapter:\n    def send(self, request):\n        return request.url\n"
    )
    for name in ("requests", "requests.adapters"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    patched: list[str] = []
    only_requests = {"requests.adapters": ("requests", patch_requests)}
    patcher = PostImportPatcher(redirector(), patched.append, only_requests)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    patcher.install()
    stand_in = importlib.import_module("requests.adapters")

    assert stand_in.__file__ == str(package / "adapters.py")
    request = types.SimpleNamespace(url=API)
    assert stand_in.HTTPAdapter().send(request).startswith(MOCK)
    assert patched == ["requests"]


def test_a_library_whose_seam_moved_is_left_alone_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    patched: list[str] = []
    seam = "httpx._transports.default"
    patcher = PostImportPatcher(redirector(), patched.append, {seam: ("httpx", patch_httpx)})
    patcher._apply(seam, types.ModuleType(seam))  # a version without the transports
    assert patched == []
    assert "cannot patch httpx" in capsys.readouterr().err


class StandInSocket:
    """A stand-in `socket.socket` that records where it was asked to connect."""

    def __init__(self) -> None:
        self.peers: list[Any] = []

    def connect(self, address: Any) -> None:
        self.peers.append(address)

    def connect_ex(self, address: Any) -> int:
        self.peers.append(address)
        return 0


class Resolver:
    """A stand-in `socket` module whose `getaddrinfo` answers every name with one address."""

    socket = StandInSocket

    def __init__(self) -> None:
        self.asked: list[tuple[Any, Any]] = []

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        self.asked.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def test_a_salesforce_host_is_looked_up_as_the_mock_whatever_the_port_and_others_pass() -> None:
    resolver, sockets = Resolver(), redirector()
    patch_socket(resolver, sockets)  # type: ignore[arg-type]
    module: Any = resolver
    assert module.getaddrinfo("api.salesforce.com", 443)[0][4] == ("127.0.0.1", 8181)
    assert module.getaddrinfo(b"acme.my.salesforce.com", "https")[0][4] == ("127.0.0.1", 8181)
    assert module.getaddrinfo("example.com", 443, socket.AF_INET)[0][4] == ("127.0.0.1", 443)
    module.getaddrinfo("127.0.0.1", 80)
    assert resolver.asked[:3] == [("127.0.0.1", 8181), ("127.0.0.1", 8181), ("example.com", 443)]
    assert sockets.snapshot() == {"api.salesforce.com": 1, "acme.my.salesforce.com": 1}
    assert sockets.others() == {"example.com": 1}  # an address literal is no host worth naming
    assert sockets.mock_peers == {("127.0.0.1", 8181)}


def test_a_connection_to_the_mocks_address_is_counted_even_without_a_lookup() -> None:
    # anyio and asyncio connect to an IP address without looking it up (R80).
    resolver, sockets = Resolver(), redirector()
    patch_socket(resolver, sockets)  # type: ignore[arg-type]
    connection = StandInSocket()
    connection.connect(("127.0.0.1", 8181))
    assert connection.connect_ex(("10.0.0.1", 443)) == 0
    assert connection.peers == [("127.0.0.1", 8181), ("10.0.0.1", 443)]
    assert sockets.mock_connections == 1


class PeerSocket(socket.socket):
    """An unconnected socket that says it is connected to the mock (no traffic in a unit test)."""

    def getpeername(self) -> tuple[str, int]:
        return ("127.0.0.1", 8181)


class SSLContext:
    def wrap_socket(self, sock: socket.socket, server_hostname: str | None = None) -> str:
        return f"tls to {server_hostname}"


def test_tls_to_the_mock_for_a_salesforce_host_stays_plain_http_dressed_as_tls() -> None:
    sockets = redirector()
    sockets.connected("api.salesforce.com", [("127.0.0.1", 8181)])
    patch_ssl(types.SimpleNamespace(SSLContext=SSLContext), sockets)  # type: ignore[arg-type]
    with PeerSocket() as raw:
        raw.settimeout(7.0)
        plain = SSLContext().wrap_socket(raw, server_hostname="api.salesforce.com")
        assert isinstance(plain, PlainAsTls) and raw.fileno() == -1  # the descriptor moved
        with plain:
            assert plain.gettimeout() == 7.0 and plain.selected_alpn_protocol() is None
            assert plain.server_hostname == "api.salesforce.com" and plain.unwrap() is plain
    with PeerSocket() as raw:  # another host on the same address is left to TLS
        assert SSLContext().wrap_socket(raw, server_hostname="example.com") == "tls to example.com"
    with socket.socket() as unconnected:
        wrapped = SSLContext().wrap_socket(unconnected, server_hostname="api.salesforce.com")
        assert wrapped == "tls to api.salesforce.com"


def test_tls_is_left_alone_when_the_mock_speaks_tls_itself() -> None:
    class Context(SSLContext):
        pass

    original = Context.wrap_socket
    patch_ssl(types.SimpleNamespace(SSLContext=Context), Redirector("https://127.0.0.1:8443"))  # type: ignore[arg-type]
    assert Context.wrap_socket is original


def test_asyncio_tls_to_a_salesforce_host_goes_plain_to_the_mock_and_other_hosts_keep_it() -> None:
    opened: list[tuple[Any, Any, dict[str, Any]]] = []

    class BaseEventLoop:
        async def create_connection(
            self, factory: Any, host: Any = None, port: Any = None, **kwargs: Any
        ) -> None:
            opened.append((host, port, kwargs))

    sockets = redirector()
    patch_asyncio(types.SimpleNamespace(BaseEventLoop=BaseEventLoop), sockets)  # type: ignore[arg-type]
    tls = {"ssl": True, "server_hostname": "api.salesforce.com", "ssl_handshake_timeout": 5}
    for host in ("api.salesforce.com", "example.com"):
        with pytest.raises(StopIteration):
            BaseEventLoop().create_connection(object, host, 443, family=0, **tls).send(None)
    plain, kept = opened
    assert plain == ("127.0.0.1", 8181, {"family": 0})
    assert kept == ("example.com", 443, {"family": 0, **tls})
    assert sockets.snapshot() == {"api.salesforce.com": 1}
