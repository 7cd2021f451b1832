"""The measured code knows nothing of the instrument: subjects import no other harness module."""

from __future__ import annotations

import ast
from pathlib import Path

import harness.subjects

PACKAGE = Path(harness.subjects.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_subjects_import_only_subjects_from_harness_and_never_the_mock() -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        for name in imported_modules(path)
        if (name.startswith("harness") and not name.startswith("harness.subjects"))
        or name.startswith("mock_salesforce")
    }
    assert offenders == set()


def test_the_wall_check_sees_imports() -> None:
    assert "harness.subjects.token_providers" in imported_modules(PACKAGE / "clients.py")
