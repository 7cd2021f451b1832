"""The aiohttp server's event loop: uvloop when asked or installed, asyncio's own otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from harness.subjects.gateway.options import GatewayConfigError
from harness.subjects.gateway.serve import new_event_loop

uvloop = pytest.importorskip("uvloop")  # a dependency everywhere but Windows


@pytest.mark.parametrize(("choice", "name"), [("auto", "uvloop"), ("uvloop", "uvloop")])
def test_uvloop_is_used_when_asked_or_installed(choice: str, name: str) -> None:
    loop, loop_name = new_event_loop(choice)
    try:
        assert (type(loop) is uvloop.Loop, loop_name) == (True, name)
    finally:
        loop.close()


def test_asking_for_asyncio_gives_asyncios_own_loop() -> None:
    loop, loop_name = new_event_loop("asyncio")
    try:
        assert (type(loop).__module__.startswith("asyncio"), loop_name) == (True, "asyncio")
    finally:
        loop.close()


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    loop, loop_name = new_event_loop("auto")
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)
        assert loop_name == "asyncio"
    finally:
        loop.close()


def test_asking_for_uvloop_without_it_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(GatewayConfigError, match="uvloop is not installed"):
        new_event_loop("uvloop")


def test_no_event_loop_policy_is_changed() -> None:
    policy = asyncio.get_event_loop_policy()
    new_event_loop("auto")[0].close()
    assert asyncio.get_event_loop_policy() is policy
