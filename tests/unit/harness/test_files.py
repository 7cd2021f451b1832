"""Reading input files: every failure is one line naming the file and what it should be."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UsageError
from harness.files import read_json, read_toml


def test_a_toml_file_is_read_as_a_table(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text("[defaults]\nalpha = 0.01\n", encoding="utf-8")
    assert read_toml(tmp_path / "rules.toml", "gate rules") == {"defaults": {"alpha": 0.01}}


def test_a_missing_file_is_named_with_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^no claim ledger found at .*nope\.toml$"):
        read_toml(tmp_path / "nope.toml", "claim ledger")


@pytest.mark.parametrize(
    ("name", "content", "read"),
    [
        ("bad.toml", b"[[rule]\n", read_toml),
        ("bad.json", b"{", read_json),
        ("latin.json", b"\xff\xfe{}", read_json),
    ],
)
def test_an_unreadable_file_is_one_line_naming_it(
    tmp_path: Path, name: str, content: bytes, read: Callable[[Path, str], Any]
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UsageError, match=f"^cannot read results .*{name}") as error:
        read(tmp_path / name, "results")
    assert "\n" not in str(error.value)


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read workload"):
        read_toml(tmp_path, "workload")
