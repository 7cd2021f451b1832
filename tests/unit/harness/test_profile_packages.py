"""Which packages a profile's samples fall in, and which are the launched gateway's own."""

from __future__ import annotations

import re

import pytest

from harness.profile_packages import (
    OWN_FILES,
    STDLIB,
    package_of,
    package_shares,
    shares_text,
    show_pattern,
)
from harness.targets.spec import gateway_packages

SITE = "/srv/venv/lib/python3.11/site-packages"
# What pip writes for a console script (`litellm`, `uvicorn`).
ENTRY = "#!/srv/venv/bin/python\nimport re\nimport sys\nfrom {module} import {function}\n"


def frame(function: str, path: str) -> str:
    """A frame identifier as pyinstrument writes it."""
    return f"{function}\x00{path}\x0012\x01l12"


@pytest.mark.parametrize(
    ("path", "package"),
    [(f"{SITE}/litellm/proxy/proxy_server.py", "litellm"), (f"{SITE}/six.py", "six"),
     ("/usr/lib/python3.11/asyncio/base_events.py", STDLIB), ("/home/me/gw/app.py", OWN_FILES),
     ("<built-in>", ""), ("<frozen runpy>", "")],
)  # fmt: skip
def test_a_source_file_belongs_to_its_top_level_package(path: str, package: str) -> None:
    assert package_of(path) == package


@pytest.mark.parametrize(
    ("program", "script", "packages"),
    [(["-m", "litellm.proxy", "--port", "9"], "", ["litellm"]),
     (["/v/bin/litellm", "--config", "c.yaml"], ENTRY.format(module="litellm",
                                                              function="run_server"), ["litellm"]),
     (["/v/bin/uvicorn", "shopgw.main:app"], ENTRY.format(module="uvicorn.main",
                                                          function="main"), ["shopgw"]),
     (["-m", "uvicorn", "--port", "9"], "", []), (["gw.py", "--port", "9"], "", [])],
)  # fmt: skip
def test_the_gateways_packages_come_from_what_the_launch_runs(
    program: list[str], script: str, packages: list[str]
) -> None:
    # R103: a pip-installed gateway is all site-packages; its launch names it.
    assert gateway_packages(program, read=lambda path: script) == packages


def test_the_shown_pattern_matches_the_gateways_files_and_no_other_package() -> None:
    pattern = show_pattern(["litellm"])
    assert pattern is not None and show_pattern([]) is None
    assert re.match(pattern, f"{SITE}/litellm/utils.py")
    assert re.match(pattern, f"{SITE}/litellm.py")
    assert not re.match(pattern, f"{SITE}/litellm_enterprise/utils.py")
    assert not re.match(pattern, "/home/me/litellm/notes.py")


def test_working_samples_are_summed_by_the_package_that_ran_them() -> None:
    server = frame("serve", f"{SITE}/uvicorn/server.py")
    records = [
        ((server, frame("route", f"{SITE}/litellm/router.py")), 0.3),
        # A built-in's time goes to the package that called it.
        ((server, frame("route", f"{SITE}/litellm/router.py"), frame("deepcopy", "<built-in>")),
         0.3),
        ((server, frame("validate", f"{SITE}/pydantic/main.py")), 0.2),
        ((server, frame("epoll.poll", "<built-in>")), 5.0),  # waiting: no package's work
    ]  # fmt: skip
    shares = package_shares(records, idle=lambda leaf: "epoll.poll" in leaf)
    assert shares == pytest.approx({"litellm": 0.75, "pydantic": 0.25})
    assert shares_text(shares, ["litellm"]) == "litellm 75% (the gateway's), pydantic 25%"


def test_a_session_with_only_waiting_has_no_package_shares() -> None:
    waiting = [((frame("epoll.poll", "<built-in>"),), 1.0)]
    assert package_shares(waiting, idle=lambda leaf: True) == {}
