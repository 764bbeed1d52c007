"""VPP NAT44-ED-style software handoff between worker processes: one shared flow table
(6-tuple key -> owner << 32 | session index) and bounded SPSC rings per ordered lcore pair.

Everything lives in files under --handoff-dir (workers sit in separate network namespaces
but share the filesystem), mmap'd by every worker:
  flows.tbl           open-addressing table, linear probing with backward-shift deletion
                      (no tombstones, so lookups of absent keys stay short under churn).
                      Writers (new conn, expiry) serialise on flock(handoff.lock); readers
                      (every received frame) do not lock: a slot's state byte is written
                      last on insert and first on delete, and the owner re-checks the
                      6-tuple in its own conn table (as VPP re-checks cached_session_index),
                      so a racing reader at worst treats a frame as "same worker".
  ring-S-D.q          frames lcore S hands to lcore D: `depth` slots; a full ring is a
                      congestion drop, counted by the producer (VPP "congestion drop").
  notify-D.fifo       a byte per handoff wakes D's select loop (no polling).
"""
from __future__ import annotations

import errno
import fcntl
import mmap
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from lcore.errors import HandoffError

KEY_LEN = 40
SLOT = 64
TABLE_HDR = 64
TABLE_MAGIC = b"FDLFLOW1"
EMPTY, FULL = 0, 1
MAX_LOAD = 0.9

RING_MAGIC = b"FDLRING1"
RING_HEAD_OFF = 64          # consumer-owned counter, own cache line
RING_TAIL_OFF = 128         # producer-owned counter
RING_DATA_OFF = 192
RING_SLOT = 2048
RING_SLOT_HDR = 16          # u32 length, u32 pad, u64 value
MAX_FRAME = RING_SLOT - RING_SLOT_HDR

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_SLOT_HDR = struct.Struct("<IIQ")


def _open_mmap(path: str, size: int, init: bytes) -> mmap.mmap:
    """Map `path`, creating it with `size` bytes and header `init` if missing."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size == 0:
            os.ftruncate(fd, size)
            os.pwrite(fd, init, 0)
        elif os.fstat(fd).st_size != size:
            raise HandoffError(f"{path} has {os.fstat(fd).st_size} bytes, this configuration "
                               f"needs {size}: all workers must use the same handoff settings")
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


class FlowTable:
    """The shared 6-tuple flow table (VPP's ed-flow-hash, one for all workers)."""

    def __init__(self, path: str, lock_fd: int, nslots: int) -> None:
        self.nslots = nslots
        self.mask = nslots - 1
        self.lock_fd = lock_fd
        hdr = TABLE_MAGIC + _U32.pack(nslots) + _U32.pack(SLOT)
        self.mm = _open_mmap(path, TABLE_HDR + nslots * SLOT, hdr)
        if self.mm[0:8] != TABLE_MAGIC or _U32.unpack_from(self.mm, 8)[0] != nslots:
            raise HandoffError(f"{path} is not a flow table of {nslots} slots")

    @contextmanager
    def locked(self) -> Iterator[None]:
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    @property
    def count(self) -> int:
        n: int = _U32.unpack_from(self.mm, 16)[0]
        return n

    def _set_count(self, n: int) -> None:
        _U32.pack_into(self.mm, 16, n)

    def _find(self, key: bytes) -> int:
        """Offset of the slot holding key, or -1."""
        mm = self.mm
        mask = self.mask
        i = zlib.crc32(key) & mask
        for _ in range(self.nslots):
            off = TABLE_HDR + i * SLOT
            st = mm[off]
            if st == EMPTY:
                return -1
            if mm[off + 16:off + 56] == key:
                return off
            i = (i + 1) & mask
        return -1

    def lookup(self, key: bytes) -> int | None:
        off = self._find(key)
        if off < 0:
            return None
        value: int = _U64.unpack_from(self.mm, off + 8)[0]
        return value

    def insert(self, key: bytes, value: int) -> bool:
        with self.locked():
            mm = self.mm
            off = self._find(key)
            if off >= 0:                                  # re-binding an existing flow
                _U64.pack_into(mm, off + 8, value)
                return True
            if self.count + 1 > self.nslots * MAX_LOAD:
                return False
            h = zlib.crc32(key)
            i = h & self.mask
            while mm[TABLE_HDR + i * SLOT] != EMPTY:
                i = (i + 1) & self.mask
            off = TABLE_HDR + i * SLOT
            _U32.pack_into(mm, off + 4, h)
            _U64.pack_into(mm, off + 8, value)
            mm[off + 16:off + 56] = key
            mm[off] = FULL                                # published last
            self._set_count(self.count + 1)
            return True

    def remove(self, key: bytes) -> bool:
        with self.locked():
            off = self._find(key)
            if off < 0:
                return False
            self._delete_at((off - TABLE_HDR) // SLOT)
            return True

    def _delete_at(self, i: int) -> None:
        """Backward-shift deletion (Knuth's algorithm R) for linear probing."""
        mm, mask = self.mm, self.mask
        mm[TABLE_HDR + i * SLOT] = EMPTY
        j = i
        while True:
            j = (j + 1) & mask
            offj = TABLE_HDR + j * SLOT
            if mm[offj] == EMPTY:
                break
            home = _U32.unpack_from(mm, offj + 4)[0] & mask
            # entry j may stay if its home lies cyclically in (i, j]
            if (i < home <= j) if i <= j else (home > i or home <= j):
                continue
            offi = TABLE_HDR + i * SLOT
            mm[offi + 4:offi + 56] = mm[offj + 4:offj + 56]
            mm[offi] = FULL
            mm[offj] = EMPTY
            i = j
        self._set_count(self.count - 1)

    def purge_owner(self, owner: int) -> int:
        """Drop every flow owned by `owner` (a worker restarting has no sessions)."""
        n = 0
        with self.locked():
            mm = self.mm
            i = 0
            while i < self.nslots:
                off = TABLE_HDR + i * SLOT
                if mm[off] == FULL and _U64.unpack_from(mm, off + 8)[0] >> 32 == owner:
                    self._delete_at(i)              # may pull a later entry into i: recheck
                    n += 1
                    continue
                i += 1
        return n


class Ring:
    """Single-producer/single-consumer ring of frames in a shared file."""

    def __init__(self, path: str, depth: int) -> None:
        self.depth = depth
        hdr = RING_MAGIC + _U32.pack(depth) + _U32.pack(RING_SLOT)
        self.mm = _open_mmap(path, RING_DATA_OFF + depth * RING_SLOT, hdr)
        if self.mm[0:8] != RING_MAGIC or _U32.unpack_from(self.mm, 8)[0] != depth:
            raise HandoffError(f"{path}: ring depth differs from --handoff-depth {depth}")

    def head(self) -> int:
        head: int = _U64.unpack_from(self.mm, RING_HEAD_OFF)[0]
        return head

    def tail(self) -> int:
        tail: int = _U64.unpack_from(self.mm, RING_TAIL_OFF)[0]
        return tail

    def __len__(self) -> int:
        # The producer's tail is written byte by byte (struct.pack_into), so a read that races
        # with it can see a smaller value than head (e.g. 0x100 read as 0x000 mid-write): then
        # nothing is ready yet, not a negative count (which crashed the worker under load).
        return max(0, self.tail() - self.head())

    def push(self, frame: bytes | bytearray, value: int) -> bool:
        tail = self.tail()
        if tail - self.head() >= self.depth or len(frame) > MAX_FRAME:
            return False
        off = RING_DATA_OFF + (tail % self.depth) * RING_SLOT
        _SLOT_HDR.pack_into(self.mm, off, len(frame), 0, value)
        self.mm[off + RING_SLOT_HDR:off + RING_SLOT_HDR + len(frame)] = frame
        _U64.pack_into(self.mm, RING_TAIL_OFF, tail + 1)   # publish after the data
        return True

    def pop_all(self, budget: int) -> list[tuple[bytearray, int]]:
        mm = self.mm
        head = self.head()
        tail = self.tail()
        out: list[tuple[bytearray, int]] = []
        while head < tail and len(out) < budget:
            off = RING_DATA_OFF + (head % self.depth) * RING_SLOT
            n, _, value = _SLOT_HDR.unpack_from(mm, off)
            out.append((bytearray(mm[off + RING_SLOT_HDR:off + RING_SLOT_HDR + n]), value))
            head += 1
        if out:
            _U64.pack_into(mm, RING_HEAD_OFF, head)
        return out

    def reset_consumer(self) -> None:
        """Discard what a previous incarnation of the consumer left unread."""
        _U64.pack_into(self.mm, RING_HEAD_OFF, self.tail())


class HandoffNode:
    """One worker's view: the shared flow table, its inbound rings (it consumes) and
    outbound rings (it produces), and the notify FIFOs."""

    def __init__(self, directory: str, lcore: int, n_lcores: int, depth: int,
                 nslots: int = 1 << 16) -> None:
        self.dir = directory
        self.lcore = lcore
        self.n = n_lcores
        self.depth = depth
        try:
            os.makedirs(directory, exist_ok=True)
            self.lock_fd = os.open(os.path.join(directory, "handoff.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise HandoffError(f"--handoff-dir {directory}: {exc.strerror or exc}") from None
        with self._locked():
            self.table = FlowTable(os.path.join(directory, "flows.tbl"), self.lock_fd, nslots)
            self.inbound = {src: self._ring(src, lcore) for src in range(n_lcores) if src != lcore}
            fifo = self._fifo_path(lcore)
            if os.path.exists(fifo) and not stat.S_ISFIFO(os.stat(fifo).st_mode):
                os.unlink(fifo)
            if not os.path.exists(fifo):
                os.mkfifo(fifo, 0o600)
        # One consumer per lcore: a second worker with the same lcore id (whatever its --ctl)
        # is refused here, before it resets the live one's ring heads or purges its flows.
        self.owner_fd = os.open(os.path.join(directory, f"lcore-{lcore}.owner"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.owner_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.owner_fd)
            os.close(self.lock_fd)
            raise HandoffError(f"--handoff-dir {directory}: lcore {lcore} is attached by a running worker") from None
        for ring in self.inbound.values():
            ring.reset_consumer()
        self.table.purge_owner(lcore)
        # O_RDWR: the FIFO never reports EOF when producers come and go
        self.notify_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self.outbound: dict[int, Ring] = {}
        self._notify_out: dict[int, int] = {}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def _ring(self, src: int, dst: int) -> Ring:
        return Ring(os.path.join(self.dir, f"ring-{src}-{dst}.q"), self.depth)

    def _fifo_path(self, lcore: int) -> str:
        return os.path.join(self.dir, f"notify-{lcore}.fifo")

    # --- the datapath's HandoffPort ---------------------------------------------------

    def lookup(self, key: bytes) -> int | None:
        return self.table.lookup(key)

    def insert(self, key: bytes, value: int) -> bool:
        return self.table.insert(key, value)

    def remove(self, key: bytes) -> None:
        self.table.remove(key)

    def enqueue(self, owner: int, frame: bytes | bytearray, value: int) -> bool:
        ring = self.outbound.get(owner)
        if ring is None:
            if not 0 <= owner < self.n or owner == self.lcore:
                return False
            with self._locked():
                ring = self.outbound[owner] = self._ring(self.lcore, owner)
        if not ring.push(frame, value):
            return False
        self._notify(owner)
        return True

    def _notify(self, owner: int) -> None:
        fd = self._notify_out.get(owner)
        if fd is None:
            try:
                fd = os.open(self._fifo_path(owner), os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return              # owner not started yet: it drains its rings at start-up
            self._notify_out[owner] = fd
        try:
            os.write(fd, b"\0")
        except OSError as exc:
            if exc.errno != errno.EAGAIN:      # a full FIFO means the owner is awake anyway
                os.close(fd)
                self._notify_out.pop(owner, None)

    # --- consumer side ----------------------------------------------------------------

    def fileno(self) -> int:
        return self.notify_fd

    def drain(self, budget: int = 256) -> list[tuple[bytearray, int]]:
        try:
            os.read(self.notify_fd, 65536)
        except BlockingIOError:
            pass
        out: list[tuple[bytearray, int]] = []
        for ring in self.inbound.values():
            out.extend(ring.pop_all(budget))
        return out

    def pending(self) -> int:
        return sum(len(r) for r in self.inbound.values())

    def close(self) -> None:
        for fd in self._notify_out.values():
            os.close(fd)
        os.close(self.notify_fd)
        os.close(self.owner_fd)
        os.close(self.lock_fd)
