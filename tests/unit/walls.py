"""Reading a package's imports with ast, for the tests that keep DESIGN.md's walls standing.

Imports under `if TYPE_CHECKING:` are left out: they are for the type checker and never run.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def imported_modules(path: Path) -> frozenset[str]:
    """Every absolute module name `path` imports, at the top or inside functions."""
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return frozenset(names)


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from (n for branch in child.orelse for n in (branch, *_runtime_nodes(branch)))
            continue
        yield child
        yield from _runtime_nodes(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_under(*folders: str) -> dict[str, frozenset[str]]:
    """The imports of every Python file under `folders` (relative to the repository), by the
    file's path relative to the repository."""
    return {
        str(path.relative_to(ROOT)): imported_modules(path)
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def within(name: str, *packages: str) -> bool:
    """Whether module `name` is one of `packages` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in packages)


def offenders(imports: dict[str, frozenset[str]], *packages: str) -> set[str]:
    """`file: module` for each import of something inside `packages`."""
    return {
        f"{f}: {name}" for f, names in imports.items() for name in names if within(name, *packages)
    }
