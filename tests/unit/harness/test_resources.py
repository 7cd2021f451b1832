"""Memory and descriptors of a launched process group, read from a /proc laid out in a
temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

from harness.targets.resources import _PAGE_KB, GroupResources, group_resources


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
