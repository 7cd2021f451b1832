"""Which packages a profile's working samples fall in, and which of them are the gateway's own.

pyinstrument calls every frame under site-packages library code and hides it, and a gateway
installed with pip (LiteLLM: `litellm --config ...`) is all site-packages: its owner would see
only the glue around it, and its CPU spread over hundreds of builtins (R103). The gateway's
packages are named by what the launch runs (`harness.targets.spec.gateway_packages`), and the
samples are summed per package. Pure: no pyinstrument, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

OWN_FILES = "its own files"  # the program's files outside any installed package
STDLIB = "stdlib"
_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)")
_STDLIB = re.compile(r"[/\\]lib[/\\]python\d+(?:\.\d+)?[/\\]")


def package_of(path: str) -> str:
    """The top-level package a source file belongs to (`litellm`), `stdlib`, `its own files`,
    or '' for a frame without a file (a built-in, a frozen module)."""
    if not path or path.startswith("<"):
        return ""
    installed = _SITE.search(path)
    if installed:
        name = installed.group(1)
        return name[:-3] if name.endswith(".py") else name
    return STDLIB if _STDLIB.search(path) else OWN_FILES


def show_pattern(packages: Iterable[str]) -> str | None:
    """A pyinstrument `show_regex` for the gateway's packages (None: nothing to show)."""
    names = sorted({re.escape(name) for name in packages if name})
    if not names:
        return None
    return rf".*[/\\](?:site|dist)-packages[/\\](?:{'|'.join(names)})(?:[/\\]|\.py$)"


def package_shares(
    frame_records: Sequence[tuple[Sequence[str], float]],
    idle: Callable[[str], bool],
    top: int = 8,
) -> dict[str, float]:
    """The `top` packages by share of the working samples (leaves that wait left out, `idle`
    judged on the leaf's identifier); a built-in's sample goes to the package that called it."""
    spent: dict[str, float] = {}
    for stack, time_s in frame_records:
        if not stack or idle(stack[-1]):
            continue
        owner = next((p for p in map(package_of, map(_path_of, reversed(stack))) if p), "")
        if owner:
            spent[owner] = spent.get(owner, 0.0) + time_s
    total_s = sum(spent.values())
    ranked = sorted(spent.items(), key=lambda item: item[1], reverse=True)[:top]
    return {name: time_s / total_s for name, time_s in ranked} if total_s > 0 else {}


def _path_of(identifier: str) -> str:
    """pyinstrument's frame identifier (`function\\x00path\\x00line...`) -> its file path."""
    parts = identifier.split("\x01")[0].split("\x00")
    return parts[1] if len(parts) > 1 else ""


def shares_text(shares: dict[str, float], gateway: Sequence[str]) -> str:
    """`litellm 41% (the gateway's), pydantic 12%, stdlib 9%`."""
    return ", ".join(f"{name} {share:.0%}" + (" (the gateway's)" if name in gateway else "")
                     for name, share in shares.items())  # fmt: skip
