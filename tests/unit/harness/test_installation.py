"""An editable checkout that needs a dependency not installed says so before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.installation import PYPROJECT, check_installation, missing_requirements

PROJECT = """[project]
name = "{name}"
dependencies = ["aiohttp>=3.9", "xxhash>=3.0", "uvloop>=0.19; sys_platform != 'win32'"]
"""


def pyproject(tmp_path: Path, name: str = "sfperf") -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(PROJECT.format(name=name))
    return path


def test_a_requirement_of_the_checkout_that_is_not_installed_is_named(tmp_path: Path) -> None:
    installed = {"aiohttp"}.__contains__
    assert missing_requirements(pyproject(tmp_path), installed) == ["xxhash>=3.0"]


def test_nothing_is_missing_outside_sfperfs_own_checkout(tmp_path: Path) -> None:
    nothing = set[str]().__contains__
    assert missing_requirements(pyproject(tmp_path, "other"), nothing) == []
    assert missing_requirements(tmp_path / "absent.toml", nothing) == []


def test_the_check_is_one_line_that_says_how_to_reinstall(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "sfperf"\ndependencies = ["sfperf-no-such-dependency>=1"]\n'
    )
    with pytest.raises(UsageError, match=r"sfperf's dependencies changed: sfperf-no-such-depend"
                       r"ency>=1 not installed: run `pip install -e \.` in "):  # fmt: skip
        check_installation(tmp_path / "pyproject.toml")


def test_this_checkout_has_every_requirement_installed() -> None:
    assert missing_requirements(PYPROJECT) == []


def test_a_missing_dependency_is_said_before_the_commands_are_imported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # R94: building the parser imports every command, and through `sfperf mock` the mock's
    # replies, which import xxhash: the check must come first, or the user sees a traceback.
    from harness import cli

    def missing() -> None:
        raise UsageError("sfperf's dependencies changed: xxhash>=3.0 not installed: run ...")

    def importing_commands() -> None:
        raise ModuleNotFoundError("No module named 'xxhash'")

    monkeypatch.setattr(cli, "check_installation", missing)
    monkeypatch.setattr(cli, "build_parser", importing_commands)
    assert cli.main(["load", "steady"]) == 2
    assert capsys.readouterr().err == (
        "sfperf: error: sfperf's dependencies changed: xxhash>=3.0 not installed: run ...\n"
    )
