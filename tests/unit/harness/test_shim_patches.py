"""Each library patch rewrites Salesforce URLs at its seam, on stand-in classes (the real
libraries are patched only inside launched children, never in the test process)."""

from __future__ import annotations

import importlib
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
