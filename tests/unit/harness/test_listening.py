"""Where a launched process group listens, read from a /proc laid out in a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.targets.health import Readiness
from harness.targets.listening import (
    address,
    connections_to,
    group_pids,
    listening_addresses,
    listening_in,
)

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1
   1: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1
   2: 0100007F:1F40 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 111 1
"""
# One row of /proc/net/tcp6 (local ::1 port 80, listening, inode 333), built to fit a line.
TCP6 = "  sl  local_address remote_address st ... inode\n" + " ".join(
    ["0:", "0" * 24 + "01000000:0050", "0" * 32 + ":0000", "0A", "00000000:00000000",
     "00:00000000", "00000000", "0", "0", "333", "1"]
) + "\n"  # fmt: skip


def fake_proc(root: Path, processes: dict[int, tuple[int, list[str]]]) -> Path:
    """/proc with `pid: (pgid, [socket inodes])` and the two TCP tables."""
    (root / "net").mkdir(parents=True)
    (root / "net" / "tcp").write_text(TCP)
    (root / "net" / "tcp6").write_text(TCP6)
    for pid, (pgid, inodes) in processes.items():
        (root / str(pid) / "fd").mkdir(parents=True)
        (root / str(pid) / "stat").write_text(f"{pid} (my gateway) S 1 {pgid} {pgid} 0 -1\n")
        for fd, inode in enumerate(inodes):
            os.symlink(f"socket:[{inode}]", root / str(pid) / "fd" / str(fd))
        os.symlink("/dev/null", root / str(pid) / "fd" / "99")
    return root


def test_addresses_read_as_people_write_them() -> None:
    assert address("0100007F:1F40") == "127.0.0.1:8000"
    assert address("00000000000000000000000001000000:0050") == "[::1]:80"


def test_only_listening_sockets_of_the_group_are_named(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {40: (40, ["111"]), 41: (40, ["333", "999"]), 50: (50, ["222"])})
    assert sorted(group_pids(40, proc)) == [40, 41]
    assert listening_addresses(40, proc) == ["127.0.0.1:8000", "[::1]:80"]
    assert listening_addresses(50, proc) == ["127.0.0.1:8001"]
    assert listening_addresses(60, proc) == []


def test_the_processes_holding_connections_to_the_mocks_port_are_counted(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {40: (40, ["111"]), 41: (40, ["333"]), 50: (50, ["222"])})
    assert connections_to(40, 40000, proc) == {40: 1}  # row 2: 127.0.0.1:8000 -> :40000
    assert connections_to(40, 8000, proc) == {}  # a listener is no connection
    assert connections_to(50, 40000, proc) == {}  # another group's


def test_an_established_connection_on_the_same_inode_is_not_a_listener() -> None:
    assert listening_in(TCP, {"111"}) == ["127.0.0.1:8000"]
    assert listening_in(TCP, set()) == []


def test_a_target_not_answering_is_told_where_it_does_listen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.targets import running

    listening = {7: [], 8: ["127.0.0.1:8000"], 9: ["0.0.0.0:8005", "127.0.0.1:9090"]}
    monkeypatch.setattr(running, "listening_addresses", lambda pgid: listening[pgid])
    url, said = "http://127.0.0.1:8005", Readiness(False, ("GET /health answered 503",))
    assert running.where_it_listens(7, url, said) == "; it listens on no TCP port (yet)"
    assert running.where_it_listens(8, url, said) == (
        "; it listens on 127.0.0.1:8000: is the port of --target-url right?"
    )
    assert running.where_it_listens(9, url, said) == (
        "; it listens on 0.0.0.0:8005, 127.0.0.1:9090 but GET /health answered 503"
    )


def test_a_target_that_answers_http2_only_is_told_so_not_to_wait_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # R132: Go's x/net/http2 ServeConn on the raw listener: a SETTINGS frame, no HTTP/1.1.
    from harness.targets import health, running

    monkeypatch.setattr(running, "listening_addresses", lambda pgid: ["127.0.0.1:8565"])
    url, silent = "http://127.0.0.1:8565", Readiness(False, ())
    said = running.where_it_listens(3, url, silent, speaks_http2_only=lambda u: True)
    assert said == f"; it listens on 127.0.0.1:8565 but {health.HTTP2_ONLY}"
    assert running.where_it_listens(3, url, silent, speaks_http2_only=lambda u: False) == (
        "; it listens on 127.0.0.1:8565 but it answers no HTTP request"
    )
