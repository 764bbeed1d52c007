"""DPVS sa_pool for one (local address, lcore): `pool_hash_sz` buckets chosen by the
destination (RS) address and port, first-free fetch, release to the tail, used/free/miss.

Semantics follow DPVS sa_pool.c (DESIGN.md section 1): every bucket holds every port the
lcore owns, so one lport can serve several RSs at once; fetch takes the head of the free
list and release appends to its tail. The memory layout does not: DPVS gives each bucket
65536 40-byte entries up front; here a bucket exists only once a destination hashes to it
and holds only the ports the shared Partition predicate gives this lcore, as
  - a "fresh" cursor over ports never handed out (DPVS's initial free list is ascending,
    and released entries go behind it, so never-used ports always come first),
  - a ring of 16-bit released ports (array('H'), grown on demand up to the capacity),
  - a used bitmap (one bit per owned port) to reject double or foreign releases.
"""
from __future__ import annotations

import ipaddress
import sys
from array import array
from dataclasses import dataclass

from fdirlab.errors import FdirlabError
from fdirlab.limits import DEFAULT_POOL_HASH_SIZE as DEFAULT_POOL_HASH_SIZE  # lcore.datapath imports it from here
from fdirlab.limits import MAX_POOL_HASH_SIZE, MIN_POOL_HASH_SIZE
from fdirlab.mask_math import DEFAULT_HIGH, DEFAULT_LOW
from fdirlab.partition import Partition
from lcore.errors import ConfigError, PoolError

AF_INET6 = 10           # Linux value; DPVS seeds its IPv6 jhash with the address family

# DPVS's own layout, for the memory comparison (x86-64): struct sa_entry is
# list_head (16) + flags (4) + union inet_addr (16) + __be16 port (2) = 38, padded to 40.
DPVS_SA_ENTRY_BYTES = 40
DPVS_MAX_PORT = 65536
DPVS_ENTRY_POOL_BYTES = DPVS_SA_ENTRY_BYTES * DPVS_MAX_PORT + 2 * 16 + 2 + 2 + 4  # + list heads, counters


def dpvs_pool_bytes(hash_size: int = DEFAULT_POOL_HASH_SIZE) -> int:
    """Bytes DPVS allocates for one (laddr, lcore) sa_pool: hash_size sa_entry_pools,
    each with 65536 entries whatever the lcore count (sa_pool_alloc_hash)."""
    return hash_size * DPVS_ENTRY_POOL_BYTES


# --- bucket choice (sa_pool_hash) -----------------------------------------------------

_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def jhash_32b(words: list[int], initval: int) -> int:
    """Bob Jenkins' lookup3 hashword(), which DPDK's rte_jhash_32b computes."""
    length = len(words)
    a = b = c = (0xDEADBEEF + (length << 2) + initval) & _M32
    i = 0
    while length > 3:
        a = (a + words[i]) & _M32
        b = (b + words[i + 1]) & _M32
        c = (c + words[i + 2]) & _M32
        # mix(a, b, c)
        a = (a - c) & _M32
        a ^= _rot(c, 4)
        c = (c + b) & _M32
        b = (b - a) & _M32
        b ^= _rot(a, 6)
        a = (a + c) & _M32
        c = (c - b) & _M32
        c ^= _rot(b, 8)
        b = (b + a) & _M32
        a = (a - c) & _M32
        a ^= _rot(c, 16)
        c = (c + b) & _M32
        b = (b - a) & _M32
        b ^= _rot(a, 19)
        a = (a + c) & _M32
        c = (c - b) & _M32
        c ^= _rot(b, 4)
        b = (b + a) & _M32
        length -= 3
        i += 3
    if length == 0:
        return c
    if length == 3:
        c = (c + words[i + 2]) & _M32
    if length >= 2:
        b = (b + words[i + 1]) & _M32
    a = (a + words[i]) & _M32
    # final(a, b, c)
    c ^= b
    c = (c - _rot(b, 14)) & _M32
    a ^= c
    a = (a - _rot(c, 11)) & _M32
    b ^= a
    b = (b - _rot(a, 25)) & _M32
    c ^= b
    c = (c - _rot(b, 16)) & _M32
    a ^= c
    a = (a - _rot(c, 4)) & _M32
    b ^= a
    b = (b - _rot(a, 14)) & _M32
    c ^= b
    c = (c - _rot(b, 24)) & _M32
    return c


def bucket_index(daddr: bytes, dport: int, hash_size: int) -> int:
    """sa_pool_hash(): IPv4 ((ntohl(ip) & 0xffff) + port) % sz; IPv6 rte_jhash_32b over
    {sin6_port, sin6_addr} seeded with AF_INET6, as DPVS computes it on a little-endian
    host (the port word holds the network-order bytes, the address words are memcpy'd)."""
    if len(daddr) == 4:
        return (((daddr[2] << 8) | daddr[3]) + dport) % hash_size
    port_word = ((dport & 0xFF) << 8) | (dport >> 8)
    words = [port_word] + [int.from_bytes(daddr[i:i + 4], "little") for i in (0, 4, 8, 12)]
    return jhash_32b(words, AF_INET6) % hash_size


# --- one bucket (struct sa_entry_pool) ------------------------------------------------

class Bucket:
    """Free list and used set of one bucket over `ports` (the lcore's owned ports)."""

    __slots__ = ("ports", "fresh", "ring", "head", "count", "used_bits", "used", "miss")

    def __init__(self, ports: range) -> None:
        self.ports = ports
        self.fresh = 0                      # ports[fresh:] were never handed out
        self.ring = array("H")              # released ports, FIFO from `head`
        self.head = 0
        self.count = 0
        self.used_bits = bytearray((len(ports) + 7) >> 3)
        self.used = 0
        self.miss = 0

    @property
    def free(self) -> int:
        return len(self.ports) - self.used

    def fetch(self) -> int | None:
        ports = self.ports
        if self.fresh < len(ports):
            idx = self.fresh
            self.fresh = idx + 1
            port = ports[idx]
        elif self.count:
            ring = self.ring
            port = ring[self.head]
            self.head = (self.head + 1) % len(ring)
            self.count -= 1
            idx = ports.index(port)
        else:
            self.miss += 1
            return None
        self.used_bits[idx >> 3] |= 1 << (idx & 7)
        self.used += 1
        return port

    def release(self, port: int) -> None:
        ports = self.ports
        if port not in ports:
            raise PoolError(f"port {port} does not belong to this pool")
        idx = ports.index(port)
        bit = 1 << (idx & 7)
        if not self.used_bits[idx >> 3] & bit:
            raise PoolError(f"port {port} is not in use")
        self.used_bits[idx >> 3] &= ~bit
        self.used -= 1
        ring = self.ring
        if self.count == len(ring):
            # grow: unroll the ring in FIFO order into a buffer twice as large (at most
            # the capacity: a bucket never holds more released ports than it owns)
            size = min(max(16, 2 * len(ring)), len(ports))
            fifo = array("H", (ring[(self.head + i) % len(ring)] for i in range(self.count)))
            fifo.frombytes(bytes(2 * (size - self.count)))
            self.ring = ring = fifo
            self.head = 0
        ring[(self.head + self.count) % len(ring)] = port
        self.count += 1

    def nbytes(self) -> int:
        return (sys.getsizeof(self) + sys.getsizeof(self.ring) + sys.getsizeof(self.used_bits))

    def free_order(self) -> list[int]:
        """The free list head to tail, as DPVS's free_enties would list it (for tests)."""
        fresh = list(self.ports[self.fresh:])
        ring = self.ring
        return fresh + [ring[(self.head + i) % len(ring)] for i in range(self.count)]


# --- the pool (struct sa_pool) --------------------------------------------------------

@dataclass
class PoolStats:
    sa_used: int
    sa_free: int
    sa_miss: int
    buckets: int
    bytes: int


class SaPool:
    """sa_pool of local address `laddr` (position `slot` among the local addresses) on
    lcore `lcore`. Owned ports come from `partition.owned_ports` and nowhere else."""

    __slots__ = ("laddr", "laddr_bytes", "slot", "lcore", "partition", "low", "high",
                 "hash_size", "ports", "buckets", "conns")

    def __init__(self, laddr: str, slot: int, lcore: int, partition: Partition,
                 low: int = DEFAULT_LOW, high: int = DEFAULT_HIGH,
                 hash_size: int = DEFAULT_POOL_HASH_SIZE) -> None:
        try:
            addr = ipaddress.ip_address(laddr)
        except ValueError:
            raise ConfigError(f"not an IPv4 or IPv6 address: {laddr!r}") from None
        if isinstance(slot, bool) or not isinstance(slot, int) or slot < 0:
            raise ConfigError(f"laddr slot must be an integer >= 0, got {slot!r}")
        if isinstance(hash_size, bool) or not isinstance(hash_size, int) or \
                not MIN_POOL_HASH_SIZE <= hash_size <= MAX_POOL_HASH_SIZE:
            # DPVS sa_pool.c SAPOOL_MAX_HASH_SZ; the lab file and dpvs.conf reader use the same bound
            raise ConfigError(f"pool hash size must be {MIN_POOL_HASH_SIZE}..{MAX_POOL_HASH_SIZE}, "
                              f"got {hash_size!r}")
        try:
            ports = partition.owned_ports(lcore, slot, low, high)
        except FdirlabError as exc:
            raise ConfigError(str(exc)) from None
        self.laddr = str(addr)
        self.laddr_bytes = addr.packed
        self.slot = slot
        self.lcore = lcore
        self.partition = partition
        self.low = low
        self.high = high
        self.hash_size = hash_size
        self.ports = ports
        self.buckets: list[Bucket | None] = [None] * hash_size
        self.conns = 0          # conns holding a port of this pool (pool_del refuses while > 0)

    @property
    def capacity(self) -> int:
        """Ports per bucket: what this lcore owns of [low, high] on this address."""
        return len(self.ports)

    def bucket_for(self, daddr: bytes, dport: int) -> int:
        return bucket_index(daddr, dport, self.hash_size)

    def fetch(self, daddr: bytes, dport: int) -> int | None:
        """A free local port towards daddr:dport, or None (an empty bucket counts a miss)."""
        idx = bucket_index(daddr, dport, self.hash_size)
        bucket = self.buckets[idx]
        if bucket is None:
            bucket = self.buckets[idx] = Bucket(self.ports)
        return bucket.fetch()

    def release(self, daddr: bytes, dport: int, lport: int) -> None:
        bucket = self.buckets[bucket_index(daddr, dport, self.hash_size)]
        if bucket is None:
            raise PoolError(f"port {lport} towards that destination is not in use")
        bucket.release(lport)

    def stats(self) -> PoolStats:
        """DPVS sums its buckets; buckets not created yet count as full of free ports."""
        used = miss = 0
        made = 0
        for b in self.buckets:
            if b is not None:
                used += b.used
                miss += b.miss
                made += 1
        return PoolStats(sa_used=used, sa_free=self.hash_size * self.capacity - used,
                         sa_miss=miss, buckets=made, bytes=self.nbytes())

    def nbytes(self) -> int:
        total = sys.getsizeof(self) + sys.getsizeof(self.buckets) + sys.getsizeof(self.laddr_bytes)
        return total + sum(b.nbytes() for b in self.buckets if b is not None)
