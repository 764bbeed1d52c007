"""Raw AF_PACKET sockets bound to Linux interfaces, read in batches without blocking.

One Port per `-i PORT@IFACE`; the frame loop polls them all from one thread.
"""
from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass, field

from .errors import SoftswitchError

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_IGNORE_OUTGOING = 23   # Linux >= 4.20: do not read back our own transmissions
PACKET_OUTGOING = 4
MAX_FRAME = 65536
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33


@dataclass
class PortStats:
    rx: int = 0
    tx: int = 0
    tx_errors: int = 0


@dataclass(eq=False)
class Port:
    num: int
    iface: str
    sock: socket.socket
    ignore_outgoing: bool
    stats: PortStats = field(default_factory=PortStats)

    @classmethod
    def open(cls, num: int, iface: str) -> Port:
        try:
            ifindex = socket.if_nametoindex(iface)
        except OSError:
            raise SoftswitchError(f"interface '{iface}' (port {num}) does not exist") from None
        try:
            # Protocol 0 until bound, so that no frame of another interface is queued meanwhile.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise SoftswitchError(f"no permission to open a raw socket on '{iface}' (run as root or "
                                  "with CAP_NET_RAW)") from None
        sock.bind((iface, ETH_P_ALL))
        ignore = True
        try:
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            ignore = False
        mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        # Big buffers absorb bursts while the (single-threaded) pipeline catches up; the *FORCE
        # variants (root) are not capped by net.core.rmem_max/wmem_max.
        for force, plain in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
            try:
                sock.setsockopt(socket.SOL_SOCKET, force, 8 << 20)
            except OSError:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, plain, 8 << 20)
                except OSError:
                    pass
        sock.setblocking(False)
        # Frames queued before the bind took effect belong to nobody: drain them.
        port = cls(num, iface, sock, ignore)
        port.recv_batch(10000)
        port.stats.rx = 0
        return port

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv_batch(self, limit: int) -> list[bytes]:
        """Up to `limit` frames that are already queued (never blocks)."""
        frames: list[bytes] = []
        recv = self.sock.recvfrom if not self.ignore_outgoing else None
        try:
            if recv is None:
                rcv = self.sock.recv
                for _ in range(limit):
                    frames.append(rcv(MAX_FRAME))
            else:
                for _ in range(limit):
                    data, addr = recv(MAX_FRAME)
                    if addr[2] != PACKET_OUTGOING:
                        frames.append(data)
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENETDOWN, errno.ENXIO):
                raise
        self.stats.rx += len(frames)
        return frames

    def send(self, frame: bytes) -> bool:
        try:
            self.sock.send(frame)
            self.stats.tx += 1
            return True
        except BlockingIOError:
            # Socket buffer full: BMv2 drops in this case too (its output queue is bounded).
            self.stats.tx_errors += 1
        except OSError:
            # e.g. the interface went down or the frame is larger than its MTU
            self.stats.tx_errors += 1
        return False

    def close(self) -> None:
        self.sock.close()


def parse_spec(spec: str) -> tuple[int, str]:
    """Parse a `-i PORT@IFACE` spec; raise SoftswitchError naming the bad value."""
    num, sep, iface = spec.partition("@")
    if not sep or not iface or not num.isdigit():
        raise SoftswitchError(f"bad interface spec '{spec}': expected PORT@IFACE, e.g. 1@veth0")
    port = int(num)
    if port >= 511:
        raise SoftswitchError(f"bad interface spec '{spec}': port {port} is not below 511 (the drop port)")
    if len(iface) > 15:
        raise SoftswitchError(f"bad interface spec '{spec}': interface name longer than 15 characters")
    return port, iface
