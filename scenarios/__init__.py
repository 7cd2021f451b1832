"""What to run, shipped with sfperf: locustfiles (`load/`), pytest-benchmark suites (`micro/`),
token-cache workloads (`workloads/`), claim ledgers (`claims/`) and gate rules (`gate/`)."""

from __future__ import annotations

from pathlib import Path


def scenario_path(*parts: str) -> Path:
    """Where shipped scenario data lives, e.g. `scenario_path("claims", "seed.toml")`."""
    return Path(__file__).parent.joinpath(*parts)
