"""Reading the user's input files (ledgers, gate rules, results, workloads): a missing or
unreadable file is a one-line `UsageError`, never a traceback."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import UsageError


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document at `path`; `what` names it in the errors ("claim ledger")."""
    document: dict[str, Any] = _read(path, what, tomllib.loads, tomllib.TOMLDecodeError)
    return document


def read_json(path: Path, what: str) -> Any:
    """The JSON document at `path`, as `read_toml` does for TOML."""
    return _read(path, what, json.loads, json.JSONDecodeError)


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text at `path`; UsageError when it is absent or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no {what} found at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}") from None


def _read(path: Path, what: str, parse: Callable[[str], Any], malformed: type[ValueError]) -> Any:
    text = read_text(path, what)
    try:
        return parse(text)
    except malformed as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}") from None
