"""Memory and descriptors of a launched process group, read from a /proc laid out in a
temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

from harness.targets.resources import _PAGE_KB, GroupResources, group_resources, process_identity


def fake_proc(root: Path, processes: dict[int, tuple[int, int, int]]) -> Path:
    """/proc with `pid: (pgid, resident pages, open fds)`."""
    for pid, (pgid, pages, fds) in processes.items():
        (root / str(pid) / "fd").mkdir(parents=True)
        (root / str(pid) / "stat").write_text(f"{pid} (gw worker) S 1 {pgid} {pgid} 0 -1\n")
        (root / str(pid) / "statm").write_text(f"9999 {pages} 10 1 0 50 0\n")
        for fd in range(fds):
            os.symlink("/dev/null", root / str(pid) / "fd" / str(fd))
    return root


def test_a_groups_memory_and_descriptors_are_summed_over_its_processes(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {10: (10, 100, 6), 11: (10, 300, 149), 12: (99, 5000, 3)})
    assert group_resources(10, proc) == GroupResources(400 * _PAGE_KB, 155, 2)


def test_a_group_with_no_readable_process_has_nothing_to_say(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {12: (99, 5000, 3)})
    assert group_resources(10, proc) is None


def test_a_launch_is_told_apart_by_its_pid_and_start_time(tmp_path: Path) -> None:
    # review7 B7: cards of two launches must not be differenced; a pid may come round again.
    (tmp_path / "41").mkdir()
    fields = " ".join(str(n) for n in range(3, 30))  # fields 3.. after "pid (comm)"
    (tmp_path / "41" / "stat").write_text(f"41 (python gw.py) {fields}\n")
    assert process_identity(41, tmp_path) == "41@22"
    assert process_identity(42, tmp_path) == "42"  # gone: the pid alone
