"""Processes a child left outside its process group are found by the mark in their environment."""

from __future__ import annotations

from pathlib import Path

from harness.targets.strays import MARK_VARIABLE, is_marked, marked_pids


def fake_proc(root: Path, environments: dict[int, bytes]) -> Path:
    for pid, environment in environments.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "environ").write_bytes(environment)
    (root / "net").mkdir()  # not a process
    return root


def test_only_the_processes_carrying_this_childs_mark_are_its_strays(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {
        28855: f"HOME=/root\0{MARK_VARIABLE}=7-1\0PATH=/bin\0".encode(),
        28858: f"{MARK_VARIABLE}=7-1\0".encode(),
        28900: f"{MARK_VARIABLE}=7-12\0".encode(),  # another child's mark, a prefix of ours
        28901: b"HOME=/root\0X=SFPERF_CHILD=7-1\0",  # the text inside another value
        28902: b"",  # a zombie shows no environment
    })  # fmt: skip
    assert marked_pids("7-1", proc) == [28855, 28858]
    assert not is_marked(4242, "7-1", proc)  # gone
