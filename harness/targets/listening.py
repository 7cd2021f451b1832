"""Where a started process group listens, from /proc (Linux): the TCP sockets in LISTEN state
that its processes hold. A launched gateway that never answered at `--target-url` is then
told apart from one that listens elsewhere ("it listens on 127.0.0.1:8000").
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # the state column of /proc/net/tcp
ESTABLISHED = "01"
_SOCKET = re.compile(r"^socket:\[(\d+)\]$")


def listening_addresses(pgid: int, proc: Path = PROC) -> list[str]:
    """`host:port` of every TCP socket a process of group `pgid` listens on (sorted; [] when
    /proc cannot say)."""
    inodes = {inode for pid in group_pids(pgid, proc) for inode in socket_inodes(pid, proc)}
    found: set[str] = set()
    for table in tcp_tables(proc):
        found.update(listening_in(table, inodes))
    return sorted(found)


def connections_to(pgid: int, port: int, proc: Path = PROC) -> dict[int, int]:
    """`{pid: established TCP connections to port `port` on loopback}` of the processes of
    group `pgid`: which of them hold connections to the mock (a pooled client keeps them open),
    whatever their event loop (uvloop connects where no Python patch sees it: R80)."""
    owners = {inode: pid for pid in group_pids(pgid, proc) for inode in socket_inodes(pid, proc)}
    counts: dict[int, int] = {}
    for table in tcp_tables(proc):
        for fields in socket_rows(table):
            if fields[3] != ESTABLISHED or fields[9] not in owners:
                continue
            host, _, remote_port = address(fields[2]).rpartition(":")
            if int(remote_port) == port and ipaddress.ip_address(host.strip("[]")).is_loopback:
                counts[owners[fields[9]]] = counts.get(owners[fields[9]], 0) + 1
    return counts


def group_pids(pgid: int, proc: Path = PROC) -> list[int]:
    """The processes whose process group is `pgid` (field 5 of /proc/PID/stat)."""
    pids = []
    for entry in _numeric(proc):
        try:
            stat = (proc / entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        # The command name (field 2) is in parentheses and may hold spaces: read after it.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            pids.append(int(entry))
    return pids


def is_running(pid: int, proc: Path = PROC) -> bool:
    """True while process `pid` exists and is no zombie (state `Z` in /proc/PID/stat)."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] not in ("Z", "X")


def socket_inodes(pid: int, proc: Path = PROC) -> set[str]:
    """The inodes of the sockets a process holds open (its /proc/PID/fd links)."""
    inodes: set[str] = set()
    try:
        descriptors = os.listdir(proc / str(pid) / "fd")
    except OSError:
        return inodes
    for fd in descriptors:
        try:
            found = _SOCKET.match(os.readlink(proc / str(pid) / "fd" / fd))
        except OSError:
            continue
        if found:
            inodes.add(found.group(1))
    return inodes


def listening_in(table: str, inodes: Iterable[str]) -> list[str]:
    """`host:port` of the LISTEN rows of a /proc/net/tcp(6) table whose inode is in `inodes`."""
    wanted = set(inodes)
    rows = socket_rows(table)
    return [address(f[1]) for f in rows if f[3] == LISTEN and f[9] in wanted]


def tcp_tables(proc: Path = PROC) -> Iterator[str]:
    """The text of /proc/net/tcp and /proc/net/tcp6 (a table /proc cannot give is passed by)."""
    for name in ("tcp", "tcp6"):
        try:
            yield (proc / "net" / name).read_text(encoding="ascii")
        except OSError:
            continue


def socket_rows(table: str) -> Iterator[list[str]]:
    """The fields of each socket row of a /proc/net/tcp(6) table (its heading left out):
    [1] local address, [2] remote address, [3] state, [9] inode."""
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 9:
            yield fields


def listeners_on(port: int, proc: Path = PROC) -> list[int]:
    """The processes holding a TCP socket that listens on `port` (any address; [] when /proc
    cannot say): who already serves a port a target is about to be started on (R110)."""
    inodes = {
        fields[9]
        for table in tcp_tables(proc)
        for fields in socket_rows(table)
        if fields[3] == LISTEN and address(fields[1]).endswith(f":{port}")
    }
    if not inodes:
        return []
    return sorted(int(pid) for pid in _numeric(proc) if socket_inodes(int(pid), proc) & inodes)


def address(hex_address: str) -> str:
    """`0100007F:1F40` (or its IPv6 form) -> `127.0.0.1:8000` (`[::1]:8000`)."""
    host_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(host_hex)
    # The kernel prints each 32-bit word of the address in the machine's byte order.
    step = -1 if sys.byteorder == "little" else 1
    ordered = b"".join(raw[i : i + 4][::step] for i in range(0, len(raw), 4))
    host = ipaddress.ip_address(ordered)
    shown = f"[{host}]" if host.version == 6 else str(host)
    return f"{shown}:{int(port_hex, 16)}"


def _numeric(proc: Path) -> list[str]:
    try:
        return [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []
