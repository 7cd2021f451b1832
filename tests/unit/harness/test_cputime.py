"""CPU time of a process group, from /proc files a test writes (and from this very process)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.targets.cputime import GroupSnapshot, cpu_used, group_cpu_s, ready_wait_s


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


def test_use_between_snapshots_gives_the_total_and_the_busiest_process_with_its_wait() -> None:
    before = GroupSnapshot({10: 4.0, 11: 1.0}, {10: 2.0, 11: 0.0})
    after = GroupSnapshot({10: 5.5, 11: 1.2, 12: 0.3}, {10: 2.4, 11: 0.9, 12: 0.0})
    used = cpu_used(before, after)
    assert (used.total_s, used.busiest_s, used.busiest_wait_s) == pytest.approx((2.0, 1.5, 0.4))


def test_the_wait_for_a_core_is_summed_over_a_process_threads(tmp_path: Path) -> None:
    for tid, waited_ns in ((10, 2_000_000_000), (13, 500_000_000)):
        (tmp_path / "10" / "task" / str(tid)).mkdir(parents=True)
        (tmp_path / "10" / "task" / str(tid) / "schedstat").write_text(f"123 {waited_ns} 7\n")
    assert ready_wait_s(10, tmp_path) == pytest.approx(2.5)
    assert ready_wait_s(99, tmp_path) == 0.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_this_process_is_found_in_its_own_group() -> None:
    assert os.getpid() in group_cpu_s(os.getpgid(0))
