"""CPU time of a process group, from /proc files a test writes (and from this very process)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.targets.cputime import cpu_used, group_cpu_s


def write_stat(proc: Path, pid: int, name: str, pgid: int, utime: int, stime: int) -> None:
    # Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime ...
    rest = ["S", "1", str(pgid), "1", "0", "-1", "0", "0", "0", "0", "0", str(utime), str(stime)]
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "stat").write_text(f"{pid} ({name}) {' '.join(rest)} 0 0 20\n")


def test_every_process_of_the_group_is_counted_and_no_other(tmp_path: Path) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    write_stat(tmp_path, 10, "uvicorn", 10, 3 * ticks, ticks)
    write_stat(tmp_path, 11, "worker (1) x", 10, ticks, 0)  # odd names are parsed safely
    write_stat(tmp_path, 12, "bash", 99, 50 * ticks, 0)
    (tmp_path / "self").mkdir()
    assert group_cpu_s(10, tmp_path) == {10: 4.0, 11: 1.0}


def test_use_between_snapshots_gives_the_total_and_the_busiest_process() -> None:
    used = cpu_used({10: 4.0, 11: 1.0}, {10: 5.5, 11: 1.2, 12: 0.3})
    assert (used.total_s, used.busiest_s) == pytest.approx((2.0, 1.5))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_this_process_is_found_in_its_own_group() -> None:
    assert os.getpid() in group_cpu_s(os.getpgid(0))
