"""One patch per HTTP library, at the narrowest seam every request of that library goes through:

- aiohttp: `ClientSession._build_url` (turns the caller's URL, base_url included, into a URL)
- requests: `HTTPAdapter.send` (every prepared request, after the session picked the adapter)
- httpx: `HTTPTransport.handle_request` / `AsyncHTTPTransport.handle_async_request`
- urllib: `OpenerDirector.open` (urlopen and every opener; redirects re-enter it)
- anything else (http.client, urllib3 used directly, ...): the host lookup and the TLS wrap under
  every client, `socket.getaddrinfo` and `ssl.SSLContext.wrap_socket`, and asyncio's
  `BaseEventLoop.create_connection` for its own TLS (see `sockets`)

Patches are applied when the library's module is first imported (a post-import hook), so a child
that never uses a library never pays for importing it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .redirect import Redirector
from .sockets import patch_asyncio, patch_socket, patch_ssl

if TYPE_CHECKING:  # Python 3.8 cannot subscript collections.abc.Callable at run time
    Patch = Callable[[ModuleType, Redirector], None]


def patch_aiohttp(module: ModuleType, redirector: Redirector) -> None:
    session = module.ClientSession
    original = session._build_url

    def _build_url(self: Any, str_or_url: Any) -> Any:
        url = original(self, str_or_url)
        # The host first: yarl has it parsed, while str(url) costs a microsecond per request.
        if not redirector.handles(url.raw_host):
            return url
        target = redirector.rewrite(str(url))
        return url if target is None else type(url)(target)

    session._build_url = _build_url


def patch_requests(module: ModuleType, redirector: Redirector) -> None:
    adapter = module.HTTPAdapter
    original = adapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        target = redirector.rewrite(request.url or "")
        if target is not None:
            request.url = target
        return original(self, request, *args, **kwargs)

    adapter.send = send


def _retarget_httpx(request: Any, redirector: Redirector) -> None:
    target = redirector.rewrite(str(request.url))
    if target is not None:
        request.url = type(request.url)(target)
        # httpx fixed the Host header when it built the request.
        request.headers["Host"] = request.url.netloc.decode("ascii")


def patch_httpx(module: ModuleType, redirector: Redirector) -> None:
    sync_original = module.HTTPTransport.handle_request
    async_original = module.AsyncHTTPTransport.handle_async_request

    def handle_request(self: Any, request: Any) -> Any:
        _retarget_httpx(request, redirector)
        return sync_original(self, request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        _retarget_httpx(request, redirector)
        return await async_original(self, request)

    module.HTTPTransport.handle_request = handle_request
    module.AsyncHTTPTransport.handle_async_request = handle_async_request


def patch_urllib(module: ModuleType, redirector: Redirector) -> None:
    director = module.OpenerDirector
    original = director.open

    def open_(self: Any, fullurl: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(fullurl, str):
            fullurl = redirector.rewrite(fullurl) or fullurl
        else:
            target = redirector.rewrite(fullurl.full_url)
            if target is not None:
                fullurl.full_url = target
                fullurl.remove_header("Host")
        return original(self, fullurl, *args, **kwargs)

    director.open = open_


# module that defines the seam -> (library label, patch)
PATCHES: dict[str, tuple[str, Patch]] = {
    "aiohttp.client": ("aiohttp", patch_aiohttp),
    "requests.adapters": ("requests", patch_requests),
    "httpx._transports.default": ("httpx", patch_httpx),
    "urllib.request": ("urllib", patch_urllib),
    "socket": ("socket", patch_socket),
    "ssl": ("ssl", patch_ssl),
    "asyncio.base_events": ("asyncio", patch_asyncio),
}


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then the patch; everything else is delegated."""

    def __init__(self, loader: Any, after: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._after = after

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._after(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class PostImportPatcher(importlib.abc.MetaPathFinder):
    """Applies `PATCHES` to their modules when imported (or at once if already imported)."""

    def __init__(
        self,
        redirector: Redirector,
        on_patched: Callable[[str], None],
        patches: Mapping[str, tuple[str, Patch]] = PATCHES,
    ) -> None:
        self._redirector = redirector
        self._on_patched = on_patched
        self._patches = patches

    def install(self) -> None:
        for name in self._patches:
            if name in sys.modules:
                self._apply(name, sys.modules[name])
        sys.meta_path.insert(0, self)

    def _apply(self, name: str, module: ModuleType) -> None:
        label, patch = self._patches[name]
        try:
            patch(module, self._redirector)
        except Exception as exc:  # an unknown library version must not break the child
            sys.stderr.write(f"sfperf shim: cannot patch {label}: {exc!r}\n")
            return
        self._on_patched(label)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._patches:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(
                        spec.loader, lambda module: self._apply(fullname, module)
                    )
                return spec
        return None
