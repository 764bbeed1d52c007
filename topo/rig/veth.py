"""veth pairs for switch tests (switch side and test side in the root namespace) and a raw
AF_PACKET socket on the test side. Needs root."""
from __future__ import annotations

import itertools
import os
import select
import socket
import subprocess
import time
from dataclasses import dataclass, field

from topo.rig.record import forget, record_links

_counter = itertools.count()
MAX_IFNAME = 15          # IFNAMSIZ (16, linux/if.h) less the terminating NUL
_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS36[r] + out
        if not n:
            return out


def veth_tag(pid: int, call: int) -> str:
    """`<pid in base 36>_<call>`: unique per process and call (the '_' keeps (1234, 56) and
    (12345, 6) apart), short enough that s<tag>p<port> fits in an interface name."""
    return f"{_base36(pid)}_{call}"


def veth_names(tag: str, port: int) -> tuple[str, str]:
    """(switch side, test side) names of veth pair `port`; ValueError naming the name when it
    is longer than MAX_IFNAME (the kernel would refuse it)."""
    names = (f"s{tag}p{port}", f"t{tag}p{port}")
    for name in names:
        if len(name) > MAX_IFNAME:
            raise ValueError(f"veth name {name!r} is {len(name)} characters, past the {MAX_IFNAME} of IFNAMSIZ")
    return names


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@dataclass
class VethSet:
    """n veth pairs: switch side s<tag>p<i>, test side t<tag>p<i> (tag: veth_tag, unique per pid and call)."""
    n: int
    tag: str = field(default_factory=lambda: veth_tag(os.getpid(), next(_counter)))
    sw: dict[int, str] = field(default_factory=dict)
    host: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            for i in range(1, self.n + 1):
                s, t = veth_names(self.tag, i)
                sh("ip", "link", "add", s, "type", "veth", "peer", "name", t)
                self.sw[i], self.host[i] = s, t
                record_links(s)
                for name in (s, t):
                    # No IPv6 on the test links: router/neighbour solicitations would be stray frames.
                    subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1"],
                                   capture_output=True)
                    sh("ip", "link", "set", name, "up")
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for name in self.sw.values():
            subprocess.run(["ip", "link", "del", name], capture_output=True)
        forget(links=list(self.sw.values()))


class HostPort:
    """Raw socket on the test side of a veth: send a frame, collect what arrives."""

    def __init__(self, iface: str) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.sock.bind((iface, 0))
        self.sock.setsockopt(263, 23, 1)  # PACKET_IGNORE_OUTGOING
        self.sock.setsockopt(263, 8, 1)   # PACKET_AUXDATA: the kernel strips received VLAN tags
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    def recv_frame(self) -> bytes:
        """One frame as it was on the wire (802.1Q/802.1ad tag put back from the auxdata)."""
        from softswitch.ports import AUX_SPACE, TP_STATUS_VLAN_VALID, _with_tag
        data, anc, _, _ = self.sock.recvmsg(1 << 18, AUX_SPACE)
        if anc:
            aux = anc[0][2]
            if aux[0] & TP_STATUS_VLAN_VALID or aux[16] or aux[17]:
                return _with_tag(data, aux)
        return data

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65536)
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def recv_all(self, wait: float) -> list[bytes]:
        """Frames arriving within `wait` seconds of the last one (or of the call)."""
        frames: list[bytes] = []
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return frames
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                frames.append(self.recv_frame())

    def close(self) -> None:
        self.sock.close()
