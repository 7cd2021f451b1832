"""The seam under every Python HTTP client: the host lookup and the TLS wrap.

A client no library patch knows (http.client, urllib3 used directly, a hand-written one) still
looks its host up with `socket.getaddrinfo` and, for https, wraps the connected socket with
`ssl.SSLContext.wrap_socket`. Here a Salesforce host's lookup answers with the mock's address
(the port asked for replaced by the mock's), and when the mock speaks plain HTTP the TLS wrap of
such a connection hands back the plain socket, dressed as a TLS one (`PlainAsTls`): the client
sends its HTTP/1.1 to the mock as it would have sent it over TLS. asyncio does its TLS apart
(memory BIOs): its `create_connection` to a Salesforce host with `ssl` goes to the mock without
it. Counted per connection.

Not covered: resolvers that bypass `socket.getaddrinfo` and loops that are not asyncio's
(uvloop); aiohttp and httpx are redirected by URL before they connect. Stdlib only.
"""

from __future__ import annotations

import socket
from types import ModuleType
from typing import Any

from .redirect import Redirector


def patch_socket(module: ModuleType, redirector: Redirector) -> None:
    """`getaddrinfo` of a Salesforce host gives the mock's address (asyncio, http.client and
    urllib3 all call it through the module, so the patch reaches them)."""
    original = module.getaddrinfo
    mock_host, mock_port = redirector.address

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if not redirector.handles(name):
            if name:
                redirector.passed(name)
            return original(host, port, *args, **kwargs)
        found = original(mock_host, mock_port, *args, **kwargs)
        redirector.connected(name, (tuple(entry[4][:2]) for entry in found))
        return found

    setattr(module, "getaddrinfo", getaddrinfo)  # noqa: B010 (mypy's ModuleType has no such field)
    patch_connect(module.socket, redirector)


def patch_connect(socket_class: Any, redirector: Redirector) -> None:
    """`socket.connect` and `connect_ex` tell the redirector where they connect (a client that
    skips the lookup of an IP address, as anyio and asyncio do, still connects)."""
    for name in ("connect", "connect_ex"):
        original = getattr(socket_class, name)

        def connect(self: Any, address: Any, *, _original: Any = original) -> Any:
            redirector.connecting(address)
            return _original(self, address)

        setattr(socket_class, name, connect)


class PlainAsTls(socket.socket):
    """A plain connection to the mock in place of a TLS one: the TLS questions a client may ask
    after the handshake get the answers of "nothing negotiated"."""

    server_hostname: str | None = None

    def do_handshake(self, block: bool = False) -> None:
        return None

    def selected_alpn_protocol(self) -> None:
        return None  # HTTP/1.1

    def selected_npn_protocol(self) -> None:
        return None

    def version(self) -> None:
        return None

    def cipher(self) -> None:
        return None

    def compression(self) -> None:
        return None

    def getpeercert(self, binary_form: bool = False) -> None:
        return None

    def pending(self) -> int:
        return 0

    def unwrap(self) -> PlainAsTls:
        return self


def as_plain(sock: socket.socket, server_hostname: str) -> PlainAsTls:
    """`sock` (connected) as a `PlainAsTls`, keeping its timeout; `sock` gives up its descriptor."""
    timeout_s = sock.gettimeout()
    plain = PlainAsTls(sock.family, sock.type, sock.proto, fileno=sock.detach())
    plain.settimeout(timeout_s)
    plain.server_hostname = server_hostname
    return plain


def goes_to_mock(sock: Any, server_hostname: Any, redirector: Redirector) -> bool:
    """True when `sock` is a connection the socket seam sent to the mock for a Salesforce host."""
    if not isinstance(sock, socket.socket) or not redirector.handles(server_hostname):
        return False
    try:
        peer = sock.getpeername()
    except OSError:
        return False
    return tuple(peer[:2]) in redirector.mock_peers


# Options asyncio refuses without `ssl`: dropped with it.
_TLS_OPTIONS = ("ssl", "server_hostname", "ssl_handshake_timeout", "ssl_shutdown_timeout")


def patch_asyncio(module: ModuleType, redirector: Redirector) -> None:
    """`BaseEventLoop.create_connection(host=<Salesforce>, ssl=...)` connects to a plain-HTTP mock
    without TLS (asyncio.open_connection and every asyncio client without its own patch)."""
    if not redirector.plain:
        return
    loop = module.BaseEventLoop
    original = loop.create_connection

    async def create_connection(
        self: Any, factory: Any, host: Any = None, port: Any = None, **kwargs: Any
    ) -> Any:
        if host and kwargs.get("ssl") and redirector.handles(host):
            redirector.connected(host, ())
            kwargs = {k: v for k, v in kwargs.items() if k not in _TLS_OPTIONS}
            host, port = redirector.address
        return await original(self, factory, host, port, **kwargs)

    loop.create_connection = create_connection


def patch_ssl(module: ModuleType, redirector: Redirector) -> None:
    """`SSLContext.wrap_socket` leaves a connection to a plain-HTTP mock plain."""
    if not redirector.plain:
        return  # the mock speaks TLS itself
    context = module.SSLContext
    original = context.wrap_socket

    def wrap_socket(self: Any, sock: Any, *args: Any, **kwargs: Any) -> Any:
        hostname = kwargs.get("server_hostname")
        if hostname and goes_to_mock(sock, hostname, redirector):
            return as_plain(sock, hostname)
        return original(self, sock, *args, **kwargs)

    context.wrap_socket = wrap_socket
