"""One writer per switch: an exclusive lock (flock) held by every fdirctl command that changes
the switch or the workers, from before it reads the state it validates against until its
last write. A second writer waits for the first (up to `wait` seconds) or fails before it
has read or written anything; readers never take it.

The lock is a file per (switch, device id) in FDIRCTL_LOCK_DIR (default
/tmp/fdirctl-locks). The switch is named canonically (`canonical_addr`): the host resolved to
an IP address, loopback names all as 127.0.0.1, so 127.0.0.1:9559, localhost:9559 and
[::1]:9559 share one lock. flock is released by the kernel when the holder exits, even after
kill -9, so a dead writer never blocks the next one. The file names the holder (pid,
command) for the waiting writer's message.

A writer that did not complete (killed, Ctrl-C, a failed rollback) leaves its name in the
file; the next writers see it and hand it on, and only a completed reconcile clears it
(`repairs`), so doctor reports it (writer-killed) until the switch was repaired.

The last holder removes the file: a writer unlinks it while it still holds the lock (a
reader that ends holding it alone does the same), then unlocks. A waiter that had the old
file open gets the lock on a file no longer at the path; it sees that (the path is gone or
is another inode), and opens the path again. So a lock held is always the one at the path,
and nothing is left in the lock directory once no fdirctl runs. (Test switches on random
ports used to leave a lock file each.)
"""
from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import socket
import time
from pathlib import Path

from controller.errors import Conflict

LOCK_DIR_ENV = "FDIRCTL_LOCK_DIR"
DEFAULT_LOCK_DIR = "/tmp/fdirctl-locks"
POLL_S = 0.05


def canonical_addr(grpc_addr: str) -> str:
    """'host:port' or '[v6]:port' -> 'ip:port' with the host resolved (getaddrinfo, IPv4
    preferred) and any loopback address written 127.0.0.1. A host that does not resolve keeps
    its spelling (lower-cased): the connection will fail with its own message."""
    host, sep, port = grpc_addr.rpartition(":")
    if not sep or not port.isdigit():
        host, port = grpc_addr, ""
    host = host.strip("[]").lower()
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        ips = [ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos]
    except (OSError, ValueError, UnicodeError):
        ips = []
    if ips:
        ip = next((x for x in ips if x.version == 4), ips[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        host = "127.0.0.1" if ip.is_loopback else str(ip)
    return f"{host}:{port}" if port else host


def lock_path(grpc_addr: str, device_id: int) -> Path:
    """The lock file of one switch device, keyed by `canonical_addr` made file-name safe."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", canonical_addr(grpc_addr))
    return lock_dir() / f"{safe}-dev{device_id}.lock"


class WriteLock:
    """Exclusive writer lock of one switch. Use `acquire()` / `release()` or `with`."""

    def __init__(self, grpc_addr: str, device_id: int, wait: float, what: str = "fdirctl",
                 shared: bool = False) -> None:
        """shared: a reader that wants a settled state (doctor) waits for a writer to finish,
        and several such readers hold the lock together; writers wait for them in turn."""
        self.path = lock_path(grpc_addr, device_id)
        self.grpc_addr, self.device_id, self.wait, self.what = grpc_addr, device_id, wait, what
        self.shared = shared
        self._fd: int | None = None
        # what the lock file still named when we got the lock: the writer before us ended
        # without releasing it (killed mid-write); None when it ended normally
        self.interrupted: str | None = None
        # set by a writer that repaired the switch (a completed reconcile): only it clears
        # an inherited mark; any other writer hands the mark on to the next
        self.repairs = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> WriteLock:
        """Take the lock, polling up to `wait` seconds. Conflict (exit 4) if another writer
        still holds it then: nothing has been read or written by this command."""
        if self._fd is not None:
            return self
        deadline = time.monotonic() + max(0.0, self.wait)
        fd = self._open()
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise Conflict(f"switch {self.grpc_addr} device {self.device_id} is being changed by "
                                   f"another fdirctl ({holder}); waited {self.wait:g}s"
                                   + ("" if self.shared else ", nothing written")
                                   + " (retry, or raise --lock-wait)", lock=str(self.path)) from None
                time.sleep(POLL_S)
                continue
            if _same_file(fd, self.path):
                break
            os.close(fd)            # its last holder removed it: the lock is the file at the path
            fd = self._open()
        # a writer truncates the file before it unlocks, so a name left in it is a writer's
        # that was killed holding the lock (the kernel dropped the lock, not the file)
        self.interrupted = _holder(fd) if os.fstat(fd).st_size else None
        if not self.shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {self.what}\n".encode(), 0)
        self._fd = fd
        return self

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    @property
    def writing(self) -> bool:
        """Held as the writer (not a shared reader)."""
        return self._fd is not None and not self.shared

    def release(self, clear: bool = True) -> None:
        """Unlock; the last holder removes the lock file first (see the module's text).
        clear=False: a writer that did not complete (Ctrl-C, a failed rollback, a bug) keeps
        its name in the file, as a killed one does, for doctor and the next writer to see."""
        fd = self._fd
        if fd is None:
            return
        self._fd = None
        if not self.shared and (not clear or (self.interrupted and not self.repairs)):
            if clear:       # done, but an earlier writer's half-done work is still there
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{self.interrupted}\n".encode(), 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            return
        try:
            if self.shared:
                # alone? flock converts SH to EX only if no one else holds the file
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return              # another reader still holds it: the last one removes it
                if os.fstat(fd).st_size:
                    return              # a killed writer's name: kept for the next writer to see
            os.ftruncate(fd, 0)
            if _same_file(fd, self.path):
                self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> WriteLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_dir() -> Path:
    """Where the lock files are: $FDIRCTL_LOCK_DIR, else /tmp/fdirctl-locks."""
    return Path(os.environ.get(LOCK_DIR_ENV, DEFAULT_LOCK_DIR))


def remove_unused_locks(directory: Path | None = None) -> tuple[int, list[str]]:
    """Remove the lock files no fdirctl holds now (fdirctl before this version left one per
    switch it wrote to; `make clean` calls this). A file is removed only while this process
    holds its lock, as a releasing writer does, so a writer is never left on a removed file.
    A file that still names a writer was left by one killed mid-write: it is kept (doctor
    reports it; the next writer clears it). Returns (files removed, "path: holder" kept)."""
    d = directory or lock_dir()
    removed, killed = 0, []
    for path in sorted(d.glob("*.lock")) if d.is_dir() else []:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue                    # its holder removed it meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue                # held: a writer or a reader is running
            if not _same_file(fd, path):
                continue
            if os.fstat(fd).st_size:
                killed.append(f"{path}: {_holder(fd)}")
                continue
            path.unlink(missing_ok=True)
            removed += 1
        finally:
            os.close(fd)                # closing releases the lock
    return removed, killed


def _same_file(fd: int, path: Path) -> bool:
    """True if `path` still names the file open as `fd` (not removed, not replaced)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown"
