"""Which event loop the mock serves on."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from mock_salesforce.errors import ConfigError
from mock_salesforce.server import loop_factory, run_serving


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


@pytest.mark.parametrize("loop", ["auto", "uvloop"])
def test_the_mock_serves_on_uvloop_when_it_is_installed(loop: str) -> None:
    assert run_serving(loop_type, loop) is uvloop.Loop


def test_loop_asyncio_runs_on_asyncios_own_loop() -> None:
    assert loop_factory("asyncio") is None
    assert run_serving(loop_type, "asyncio") is not uvloop.Loop


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` now fails
    assert loop_factory("auto") is None
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loop_factory("uvloop")
