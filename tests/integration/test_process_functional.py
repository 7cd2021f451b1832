"""Children the harness starts lead their own process group, which is stopped whole, and die
with the harness even when it is SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.shutdown import STOP_SIGNALS, restore, stopping_on_signals
from harness.targets.process import Child, spawn, stop_group
from harness.targets.strays import marked_pids

from .procs import descendants, processes, survivors

# A leader that ignores SIGTERM and leaves a grandchild behind: the worst child to stop.
STUBBORN = ["sh", "-c", "trap '' TERM; sleep 60 & echo ready; wait"]


@contextlib.contextmanager
def started(argv: list[str]) -> Iterator[subprocess.Popen[str]]:
    """`argv` spawned as the harness spawns its children, once it printed its first line."""
    process: subprocess.Popen[str] = spawn(argv, stdout=subprocess.PIPE, text=True)
    with process:
        assert process.stdout is not None
        process.stdout.readline()
        try:
            yield process
        finally:
            stop_group(process, grace_s=0.0)


def test_stopping_a_group_kills_a_leader_that_ignores_sigterm_and_its_grandchildren() -> None:
    with started(STUBBORN) as leader:
        tree = descendants(leader.pid)
        assert len(tree) == 1  # the grandchild `sleep`
        assert stop_group(leader, grace_s=0.2) == -signal.SIGKILL
    assert survivors(tree) == []


def test_a_second_signal_cuts_the_grace_period_short() -> None:
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        with started(STUBBORN) as leader, stopping_on_signals():
            with contextlib.suppress(KeyboardInterrupt):
                signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)  # the second: stop without grace from now on
            began_s = time.monotonic()
            stop_group(leader, grace_s=60.0)
            assert time.monotonic() - began_s < 30.0  # well short of the 60 s grace
    finally:
        restore(handlers)  # a stopped block leaves the signals ignored, as for an exiting process


def test_a_child_can_be_stopped_by_sigterm_even_when_the_harness_ignores_it() -> None:
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited across exec unless reset
        with started(["sh", "-c", "echo ready; exec sleep 60"]) as child:
            assert stop_group(child, grace_s=30.0) == -signal.SIGTERM
    finally:
        restore(handlers)


def test_children_are_stopped_when_the_harness_is_killed_outright() -> None:
    program = (
        "import time\nfrom harness.targets.process import spawn\n"
        "spawn(['sleep', '60'])\nprint('ready', flush=True)\ntime.sleep(60)"
    )
    with started([sys.executable, "-c", program]) as harness:
        tree = descendants(harness.pid)
        assert [proc.command for proc in tree.values()] == ["sleep 60"]
        harness.kill()  # SIGKILL: no handler, no cleanup
        harness.wait()
        assert survivors(tree) == []


# A daemon's start: fork, setsid, fork again; the program sfperf started exits 0 at once.
DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(60)
    os._exit(0)
os.wait()
"""


def test_a_child_that_daemonizes_is_told_as_such_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    child = Child("launched target 'd'", [sys.executable, "-c", DAEMON], tmp_path / "d.log")
    with pytest.raises(UsageError, match=r"left pid\(s\) \d+ running outside its process group"):
        child.wait_url(5.0)
    assert len(child.strays) == 1 and child.strays[0] != os.getpid()
    deadline_s = time.monotonic() + 5.0
    while child.strays[0] in processes() and time.monotonic() < deadline_s:
        time.sleep(0.05)
    assert child.strays[0] not in processes() and marked_pids(child.mark) == []


def test_a_child_that_dies_is_known_to_have_with_its_code_and_when_and_is_still_stopped(
    tmp_path: Path,
) -> None:
    # As a gateway the kernel's out-of-memory killer ends mid-run (R85).
    argv = [sys.executable, "-c", "import os, time; time.sleep(0.3); os.kill(os.getpid(), 9)"]
    child = Child("launched target 'oom'", argv, tmp_path / "oom.log")
    began_s = time.time()
    try:
        assert child.ended() is None
        deadline_s = time.monotonic() + 30.0
        while child.ended() is None and time.monotonic() < deadline_s:
            time.sleep(0.05)
        ended = child.ended()
        assert ended is not None and ended.describe() == "was killed by SIGKILL (out of memory?)"
        assert began_s + 0.3 <= ended.at_s <= time.time()
    finally:
        assert child.stop() == -signal.SIGKILL  # reaped: the watch waited without reaping


def test_a_wrapper_that_exits_leaving_its_server_listening_has_not_ended_the_target(
    tmp_path: Path,
) -> None:
    # `sh -c 'gw & sleep 0.3'`: the leader exits, the server it started serves on (review7 B3).
    server = f"{sys.executable} -m http.server --bind 127.0.0.1 0"
    child = Child("launched target 'wrapped'", ["sh", "-c", f"{server} & sleep 0.3"],
                  tmp_path / "wrapped.log")  # fmt: skip
    try:
        stat = Path(f"/proc/{child.process.pid}/stat")
        deadline_s = time.monotonic() + 30.0
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":  # exited, not yet reaped
            assert time.monotonic() < deadline_s
            time.sleep(0.05)
        time.sleep(0.2)  # the exit watch has seen it
        assert child.ended() is None  # the server the wrapper left behind still listens
    finally:
        child.stop()
