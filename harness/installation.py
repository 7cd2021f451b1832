"""Whether sfperf's own requirements are installed. An editable install whose checkout moved on
(a `git pull`) can need a dependency added since; without this check the first sign was a locust
child dying at import and a run reported as "0 requests, 0.0% ok" (R94)."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from harness.errors import UsageError

# Present only when sfperf runs from a checkout (an editable install): a wheel's own metadata
# and its installed dependencies were resolved together.
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def is_installed(distribution: str) -> bool:
    """Whether a distribution of that name is installed (its metadata found)."""
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing_requirements(
    pyproject: Path = PYPROJECT, installed: Callable[[str], bool] = is_installed
) -> list[str]:
    """The requirements of sfperf's checkout (`pyproject`) that are not installed, as written
    there ([]: none, or not sfperf's checkout). Those with an environment marker are left out."""
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project") or {}
    except (OSError, ValueError):
        return []
    if project.get("name") != "sfperf":
        return []
    wanted = [str(r) for r in project.get("dependencies") or () if ";" not in str(r)]
    return [r for r in wanted if (m := REQUIREMENT_NAME.match(r)) and not installed(m.group(1))]


@functools.cache
def check_installation(pyproject: Path = PYPROJECT) -> None:
    """UsageError naming the requirements of the checkout that are not installed (once per
    process: the check reads installed metadata, ~25 ms)."""
    if missing := missing_requirements(pyproject):
        raise UsageError(
            f"sfperf's dependencies changed: {', '.join(missing)} not installed: run "
            f"`pip install -e .` in {pyproject.parent}"
        )
