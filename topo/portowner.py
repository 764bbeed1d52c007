"""Who holds a TCP port: the listening socket's inode from /proc/net/tcp and tcp6, then the
process whose fd table holds `socket:[inode]` (proc(5)). Used to name the process behind
"port in use" instead of guessing. Reading other users' fds needs root (the lab runs as root)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TCP_LISTEN = "0A"            # include/net/tcp_states.h TCP_LISTEN, as /proc/net/tcp shows it


@dataclass(frozen=True)
class PortHolder:
    pid: int
    cmdline: str

    def describe(self) -> str:
        cmd = self.cmdline if len(self.cmdline) <= 120 else self.cmdline[:117] + "..."
        return f"pid {self.pid} ({cmd})"


def listening_inodes(port: int, tables: tuple[str, ...] = ("/proc/net/tcp", "/proc/net/tcp6")) -> set[int]:
    """Inodes of the sockets listening on TCP `port` (any address) in this network namespace."""
    out: set[int] = set()
    for table in tables:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        out |= parse_tcp_table(lines, port)
    return out


def parse_tcp_table(lines: list[str], port: int) -> set[int]:
    """Pure: the LISTEN sockets' inodes on `port` in /proc/net/tcp{,6} lines (no header)."""
    out: set[int] = set()
    for line in lines:
        f = line.split()
        if len(f) < 10 or f[3] != TCP_LISTEN:
            continue
        _, _, hexport = f[1].rpartition(":")
        if int(hexport, 16) == port and f[9].isdigit() and int(f[9]):
            out.add(int(f[9]))
    return out


def holders_of_inodes(inodes: set[int]) -> list[PortHolder]:
    want = {f"socket:[{i}]" for i in inodes}
    found: list[PortHolder] = []
    if not want:
        return found
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fds = os.listdir(d / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(d / "fd" / fd) in want:
                    cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    found.append(PortHolder(int(d.name), cmd.strip()))
                    break
            except OSError:
                continue
    return sorted(found, key=lambda h: h.pid)


def port_holders(port: int) -> list[PortHolder]:
    """The processes listening on TCP `port` in this network namespace (may be empty:
    a socket in TIME_WAIT, or a process of another user when not root)."""
    return holders_of_inodes(listening_inodes(port))
