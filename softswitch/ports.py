"""Raw AF_PACKET sockets bound to Linux interfaces, read in batches without blocking.

One Port per `-i PORT@IFACE`; the frame loop polls them all from one thread.
"""
from __future__ import annotations

import ctypes
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
PACKET_AUXDATA = 8            # deliver struct tpacket_auxdata with each frame (linux/if_packet.h)
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
ETH_P_8021Q = 0x8100
# Larger than any frame the kernel hands a packet socket: 64 KiB IP datagram + link headers;
# GRO can build bigger ones, hence the margin (bigger frames would be cut, so count them).
MAX_FRAME = 256 * 1024
AUX_SPACE = socket.CMSG_SPACE(20)
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33


@dataclass
class PortStats:
    rx: int = 0
    tx: int = 0
    tx_errors: int = 0
    rx_truncated: int = 0     # frames longer than MAX_FRAME (dropped, not cut)


# Classic BPF (linux/filter.h) splitting a port's frames by the kernel's "VLAN tag present" flag:
# untagged frames go to a socket read with plain recv (the fast path), tagged ones to a socket read
# with recvmsg and PACKET_AUXDATA (which carries the stripped tag). recvmsg costs about twice a recv.
SO_ATTACH_FILTER = 26
_SKF_VLAN_TAG_PRESENT = (-0x1000 + 48) & 0xFFFFFFFF     # SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT


def _vlan_filter(tagged: bool) -> list[tuple[int, int, int, int]]:
    accept, drop = (0, 1) if not tagged else (1, 0)
    return [(0x20, 0, 0, _SKF_VLAN_TAG_PRESENT),        # ld  vlan_avail
            (0x15, accept, drop, 0),                    # jeq #0 ? (untagged) : (tagged)
            (0x06, 0, 0, 0xFFFFFFFF),                   # ret whole frame
            (0x06, 0, 0, 0)]                            # ret 0: not for this socket


def _attach_filter(sock: socket.socket, prog: list[tuple[int, int, int, int]]) -> None:
    insns = b"".join(struct.pack("HBBI", *i) for i in prog)
    buf = ctypes.create_string_buffer(insns)
    fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _open_sock(iface: str, tagged: bool) -> tuple[socket.socket, bool]:
    # Protocol 0 until bound, so that no frame of another interface is queued meanwhile; the
    # filter is in place before the bind.
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        _attach_filter(sock, _vlan_filter(tagged))
        if tagged:
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sock.bind((iface, ETH_P_ALL))
        ignore = True
        try:
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            ignore = False
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
    except BaseException:
        sock.close()
        raise
    return sock, ignore


@dataclass(eq=False)
class Port:
    num: int
    iface: str
    sock: socket.socket                 # untagged frames in, every frame out
    ignore_outgoing: bool
    vsock: socket.socket | None = None  # 802.1Q/802.1ad-tagged frames in (tag from PACKET_AUXDATA)
    stats: PortStats = field(default_factory=PortStats)

    @classmethod
    def open(cls, num: int, iface: str) -> Port:
        try:
            ifindex = socket.if_nametoindex(iface)
        except OSError:
            raise SoftswitchError(f"interface '{iface}' (port {num}) does not exist") from None
        try:
            sock, ignore = _open_sock(iface, tagged=False)
        except PermissionError:
            raise SoftswitchError(f"no permission to open a raw socket on '{iface}' (run as root or "
                                  "with CAP_NET_RAW)") from None
        try:
            vsock, _ = _open_sock(iface, tagged=True)
        except BaseException:
            sock.close()
            raise
        mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        # Frames queued before the bind took effect belong to nobody: drain them.
        port = cls(num, iface, sock, ignore, vsock)
        port.recv_batch(10000)
        port.recv_tagged(10000)
        port.stats.rx = 0
        return port

    def __post_init__(self) -> None:
        self._buf = bytearray(MAX_FRAME)
        self._view = memoryview(self._buf)

    def fileno(self) -> int:
        return self.sock.fileno()

    def filenos(self) -> list[int]:
        """Both receive sockets (untagged, tagged) for the frame loop's poll."""
        return [self.sock.fileno()] + ([self.vsock.fileno()] if self.vsock is not None else [])

    def recv_batch(self, limit: int) -> list[bytes]:
        """Up to `limit` untagged frames that are already queued (never blocks)."""
        frames: list[bytes] = []
        buf, view = self._buf, self._view
        size = len(buf)
        try:
            if self.ignore_outgoing:
                recv = self.sock.recv_into
                for _ in range(limit):
                    n = recv(buf, size, socket.MSG_TRUNC)    # n: the frame's real length
                    if n > size:
                        self.stats.rx_truncated += 1
                        continue
                    frames.append(bytes(view[:n]))
            else:
                recvf = self.sock.recvfrom_into
                for _ in range(limit):
                    n, addr = recvf(buf, size, socket.MSG_TRUNC)
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    if n > size:
                        self.stats.rx_truncated += 1
                        continue
                    frames.append(bytes(view[:n]))
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENETDOWN, errno.ENXIO):
                raise
        self.stats.rx += len(frames)
        return frames

    def recv_tagged(self, limit: int) -> list[bytes]:
        """Up to `limit` tagged frames, the tag put back after the MAC addresses (as libpcap does)."""
        frames: list[bytes] = []
        if self.vsock is None:
            return frames
        buf, view, bufs = self._buf, self._view, [self._buf]
        recv = self.vsock.recvmsg_into
        try:
            for _ in range(limit):
                n, anc, flags, addr = recv(bufs, AUX_SPACE)
                if addr[2] == PACKET_OUTGOING:
                    continue
                if flags & socket.MSG_TRUNC:
                    self.stats.rx_truncated += 1
                    continue
                frame = bytes(view[:n])
                if anc:
                    aux = anc[0][2]
                    # struct tpacket_auxdata: u32 status, len, snaplen; u16 mac, net, vlan_tci, vlan_tpid
                    if aux[0] & TP_STATUS_VLAN_VALID or aux[16] or aux[17]:
                        frame = _with_tag(frame, aux)
                frames.append(frame)
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENETDOWN, errno.ENXIO):
                raise
        del buf
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
        if self.vsock is not None:
            self.vsock.close()


def _with_tag(frame: bytes, aux: bytes) -> bytes:
    """The frame with its 802.1Q/802.1ad tag put back after the MAC addresses (libpcap pcap-linux.c)."""
    status, = struct.unpack_from("=I", aux, 0)
    tci, tpid = struct.unpack_from("=HH", aux, 16)
    if not status & TP_STATUS_VLAN_TPID_VALID or not tpid:
        tpid = ETH_P_8021Q
    return frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]


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
