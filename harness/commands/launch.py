"""`sfperf launch --upstream MOCK_URL [--io-report FILE] -- CMD...`: run CMD with the start-up shim.

The shim redirects the child's Salesforce hosts to MOCK_URL (aiohttp, requests, httpx, urllib by
URL; any other client, http.client, urllib3 or bare asyncio included, by its host lookup or its
asyncio connection, TLS left out) and, with --io-report, counts its file opens per path and
writes FILE at exit. The exit code is the child's (128 + N when a signal N ended it). SIGINT,
SIGTERM or SIGHUP sent to sfperf is passed on to the child's whole process group, which is
killed if still there after 10 s; sfperf then exits 128 + N.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.targets.spec import is_assignment

STOP_GRACE_S = 10.0  # for the program to stop after the signal sfperf passed on


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "launch",
        help="run a program with Salesforce hosts redirected to the mock, file opens counted",
        description=__doc__,
    )
    parser.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the mock's base URL, e.g. http://127.0.0.1:8181",
    )
    parser.add_argument(
        "--io-report",
        type=Path,
        metavar="FILE",
        help="write the child's file opens and redirects here (JSON)",
    )
    parser.add_argument(
        "cmd", nargs=argparse.REMAINDER, metavar="-- CMD", help="-- then the command to run"
    )
    parser.set_defaults(handler=run)


def check_upstream(url: str) -> str:
    """The mock URL must be an http(s) base URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise UsageError(f"bad --upstream {url!r}: expected the mock's base URL, http://HOST:PORT")
    return url.rstrip("/")


def child_argv(cmd: list[str]) -> list[str]:
    """The command after `--`; UsageError when it is missing or not found."""
    argv = cmd[1:] if cmd[:1] == ["--"] else cmd
    if not argv:
        raise UsageError("no command: use sfperf launch --upstream URL -- CMD [ARGS...]")
    if is_assignment(argv[0]):
        raise UsageError(f"{argv[0]!r} is an environment assignment, which is shell syntax: "
                         f"write the command as `env {shlex.join(argv)}`")  # fmt: skip
    if shutil.which(argv[0]) is None:
        raise UsageError(f"program {argv[0]!r} not found (or not executable)")
    return argv


def exit_code(returncode: int) -> int:
    """A shell-style exit code: the child's, or 128 + the signal that ended it."""
    return 128 - returncode if returncode < 0 else returncode


def run_in_group(argv: list[str], env: dict[str, str]) -> int:
    """Run `argv` as the leader of its own process group until it exits, then stop whatever it
    left in the group; returns its raw return code. A stopping signal is passed on to the whole
    group, which gets STOP_GRACE_S before it is killed, and ends the command as `Stopped`."""
    from harness.shutdown import Stopped, stopped_by
    from harness.targets.process import describe_exit, spawn, stop_group

    process: subprocess.Popen[bytes] = spawn(argv, env=env)
    try:
        # Wait without reaping: while the leader's zombie stands, its group id stays ours.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    except KeyboardInterrupt:
        code = stop_group(process, STOP_GRACE_S, first=stopped_by())
        raise Stopped(f"{argv[0]} {describe_exit(code)}") from None
    code = stop_group(process, 0.0)
    return process.returncode if code is None else code


def run(args: argparse.Namespace) -> int:
    from harness.commands._output import writable_file
    from harness.shim import collect_io_report, shim_env

    upstream = check_upstream(args.upstream)
    argv = child_argv(list(args.cmd))
    report_path: Path | None = args.io_report.resolve() if args.io_report else None
    if report_path is not None:
        writable_file(report_path, "--io-report")
        report_path.unlink(missing_ok=True)  # a stale report must not pass for this run's
    returncode = run_in_group(argv, shim_env(upstream, report_path, os.environ))
    if report_path is not None:
        report = collect_io_report(report_path)
        if report is None:
            print(
                f"sfperf launch: no io report was written to {report_path} (the shim loads only "
                "into Python programs that start with their site module: not with -S or -I)",
                file=sys.stderr,
            )
    return exit_code(returncode)
