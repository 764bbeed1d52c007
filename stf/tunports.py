"""One Linux TUN (or TAP) device per STF port: the runner holds the file descriptor (the
"wire"), the switch attaches to the interface with `-i N@NAME`. Needs root (CAP_NET_ADMIN).

Why TUN and not TAP or veth: STF files send frames as short as 1 byte (arith1-bmv2 sends 9,
gauntlet_enum_assign-bmv2 sends 1). A veth and a TAP device refuse a frame shorter than an
Ethernet header (the kernel's tun driver answers EINVAL below 14 bytes for IFF_TAP). A TUN
device with its 4-byte packet-information header (no IFF_NO_PI) carries frames of any length
both ways: the runner writes `flags, proto` + frame, the switch's packet socket reads the
frame as it is, and what the switch sends arrives at the descriptor behind the same header.
The proto written (0x88B5, IEEE 802 local experimental) is one no kernel protocol handles,
so the kernel does nothing with the frames but hand them to the switch's packet socket.
`kind="tap"` (IFF_TAP|IFF_NO_PI) is there to show the difference.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field

from stf.errors import PortError

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_P_LOCAL_EXP1 = 0x88B5
PI_HEADER = struct.pack("!HH", 0, ETH_P_LOCAL_EXP1)
KINDS = ("tun", "tap")
MAX_FRAME = 65536


def _sh(*args: str) -> None:
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise PortError(f"{' '.join(args)}: {r.stderr.strip() or 'exit ' + str(r.returncode)}")


@dataclass
class Received:
    """Frames out of each port, in arrival order, filled by the reader thread."""

    frames: dict[int, list[bytes]] = field(default_factory=dict)
    total: int = 0
    last_at: float = 0.0


class PortSet:
    """TUN/TAP devices `{prefix}{port}` for the given STF ports, and a thread reading them.

    Use as a context manager; the devices vanish when their descriptors close."""

    def __init__(self, prefix: str, ports: list[int], kind: str = "tun") -> None:
        if kind not in KINDS:
            raise PortError(f"unknown port kind {kind!r}: use tun or tap")
        self.kind = kind
        self.names = {p: f"{prefix}{p}" for p in ports}
        for name in self.names.values():
            if len(name) > 15:
                raise PortError(f"interface name {name!r} is longer than 15 characters")
        self.fds: dict[int, int] = {}
        self.rx = Received()
        self._cond = threading.Condition()
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None

    # --- set-up -----------------------------------------------------------------------
    def __enter__(self) -> PortSet:
        try:
            for port, name in self.names.items():
                self.fds[port] = self._open(name)
            for name in self.names.values():
                # No IPv6 (router solicitations, MLD) on a port: only the switch may send there.
                try:
                    with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "w") as f:
                        f.write("1")
                except OSError:
                    pass
                _sh("ip", "link", "set", name, "mtu", "9000", "up")
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._read_loop, daemon=True, name="stf-ports")
        self._thread.start()
        return self

    def _open(self, name: str) -> int:
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR)
        except OSError as exc:
            raise PortError(f"cannot open /dev/net/tun for {name}: {exc.strerror or exc}") from None
        flags = IFF_TUN if self.kind == "tun" else IFF_TAP | IFF_NO_PI
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
        except OSError as exc:
            os.close(fd)
            hint = (
                " (needs root)"
                if exc.errno == errno.EPERM
                else " (the name is taken by another device)"
                if exc.errno == errno.EBUSY
                else ""
            )
            raise PortError(
                f"cannot create {self.kind} device {name}: {exc.strerror or exc}{hint}"
            ) from None
        os.set_blocking(fd, False)
        return fd

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stop_r = self._stop_w = -1

    # --- frames -------------------------------------------------------------------------
    def send(self, port: int, frame: bytes) -> None:
        """Hand `frame` to the switch as received on `port`. Raises PortError if the
        device refuses it (a TAP device: frames shorter than 14 bytes)."""
        data = PI_HEADER + frame if self.kind == "tun" else frame
        try:
            os.write(self.fds[port], data)
        except OSError as exc:
            raise PortError(
                f"port {port} ({self.kind} {self.names[port]}) refused a {len(frame)}-byte "
                f"frame: {exc.strerror or exc}"
            ) from None

    def clear(self) -> None:
        with self._cond:
            self.rx = Received()

    def _read_loop(self) -> None:
        poller = select.poll()
        by_fd = {fd: port for port, fd in self.fds.items()}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        strip = 4 if self.kind == "tun" else 0
        while True:
            for fd, _ in poller.poll():
                if fd == self._stop_r:
                    return
                while True:
                    try:
                        data = os.read(fd, MAX_FRAME)
                    except BlockingIOError:
                        break
                    except OSError:
                        return
                    with self._cond:
                        self.rx.frames.setdefault(by_fd[fd], []).append(data[strip:])
                        self.rx.total += 1
                        self.rx.last_at = time.monotonic()
                        self._cond.notify_all()

    def snapshot(self) -> dict[int, list[bytes]]:
        with self._cond:
            return {p: list(fs) for p, fs in self.rx.frames.items()}

    def wait_for_output(self, since_total: int, timeout: float) -> bool:
        """Block until more than `since_total` frames came out, at most `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.rx.total <= since_total:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def wait_for_counts(self, want: dict[int, int], timeout: float) -> bool:
        """Block until each port has sent at least want[port] frames, at most `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(len(self.rx.frames.get(p, [])) < n for p, n in want.items()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def wait_quiet(self, quiet: float, timeout: float) -> None:
        """Block until no frame came out for `quiet` s, counted from now (at most `timeout` s)."""
        start = time.monotonic()
        deadline = start + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                idle = now - max(self.rx.last_at, start)
                if idle >= quiet or now >= deadline:
                    return
                self._cond.wait(min(quiet - idle, deadline - now))

    @property
    def total(self) -> int:
        with self._cond:
            return self.rx.total
