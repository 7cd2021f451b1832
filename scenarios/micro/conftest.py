"""Options and fixtures of the sfperf microbenchmark suite (run by `sfperf micro`).

`sfperf micro` runs `python -m pytest scenarios/micro` in a child process with the options below;
each benchmark puts the labels its record needs in `benchmark.extra_info`, and a checkpoint line
per finished benchmark keeps the measured rounds even if the run dies before pytest-benchmark
writes its JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sfperf", "sfperf microbenchmarks")
    group.addoption("--sfperf-extractor", action="append", default=[], help="name or pkg.mod:func")
    group.addoption("--sfperf-shape", action="append", default=[], help="response shape")
    group.addoption("--sfperf-profile", action="append", default=[], help="mock profile to mix")
    group.addoption("--sfperf-provider", action="append", default=[], help="token provider")
    group.addoption("--sfperf-seed", type=int, default=1234, help="seed of the mock replies")
    group.addoption("--sfperf-mix-size", type=int, default=200, help="responses per mix sample")
    group.addoption("--sfperf-checkpoint", default="", help="JSON-lines file of finished rounds")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from harness.runners.support.micro_inputs import text_shapes

    options = {
        "extractor_spec": metafunc.config.getoption("sfperf_extractor") or ["legacy", "priority"],
        "shape": metafunc.config.getoption("sfperf_shape") or [s.name for s in text_shapes()],
        "profile": metafunc.config.getoption("sfperf_profile") or ["default", "mixed-shapes"],
        "provider": metafunc.config.getoption("sfperf_provider") or ["file", "memory-ttl"],
    }
    for name, values in options.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, values)


@pytest.fixture(scope="session")
def seed(pytestconfig: pytest.Config) -> int:
    value: int = pytestconfig.getoption("sfperf_seed")
    return value


@pytest.fixture(scope="session")
def mix_size(pytestconfig: pytest.Config) -> int:
    value: int = pytestconfig.getoption("sfperf_mix_size")
    return value


@pytest.fixture(autouse=True)
def _checkpoint(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each benchmark, append its raw rounds to the checkpoint file (if one was given)."""
    yield
    path = request.config.getoption("sfperf_checkpoint")
    bench: Any = request.node.funcargs.get("benchmark")
    stats = getattr(bench, "stats", None)
    if not path or stats is None:
        return
    # The same dict pytest-benchmark writes per benchmark in its JSON, raw rounds included.
    line = json.dumps(stats.as_dict(include_data=True), default=str)
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
