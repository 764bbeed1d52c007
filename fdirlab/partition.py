"""Port-partition schemes: the one predicate "does lcore i own local port p" that both the
flow-director rules (controller/) and the workers' sa_pools (lcore/) are built from.

  lsb    DPVS: lcore i owns p iff p & mask == i (ports interleave over the lcores)
  range  VPP NAT44-ED: contiguous slices, owner = (p - 1024) // ((0xffff - 1024) // n);
         the filters are the slice split into ternary prefixes; ports past the last slice
         belong to nobody
  laddr  one local address per lcore (DPVS PR #513): the k-th local address belongs to
         lcore k % n with all its ports; filters match the address exactly, any port
"""
from __future__ import annotations

from dataclasses import dataclass

from fdirlab import mask_math
from fdirlab.errors import PartitionError

SCHEMES = ("lsb", "range", "laddr")
RANGE_BASE = 1024
PORT_BITS = 16


def range_to_prefixes(lo: int, hi: int, bits: int = PORT_BITS) -> list[tuple[int, int]]:
    """Cover [lo, hi] exactly with the fewest (value, mask) ternary prefixes."""
    out: list[tuple[int, int]] = []
    full = (1 << bits) - 1
    while lo <= hi:
        size = lo & -lo if lo else 1 << bits
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, full & ~(size - 1)))
        lo += size
    return out


@dataclass(frozen=True)
class Partition:
    """A scheme applied to n lcores. `laddr_slot` is the local address's position among
    the local addresses of its family (only the laddr scheme looks at it)."""

    scheme: str
    n_lcores: int

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise PartitionError(f"unknown partition scheme {self.scheme!r}: use one of {', '.join(SCHEMES)}")
        mask_math.fdir_mask(self.n_lcores)      # validates n
        if self.scheme == "range" and self.slice_size < 1:
            raise PartitionError(f"range scheme cannot split ports over {self.n_lcores} lcores")

    @property
    def mask(self) -> int:
        return mask_math.fdir_mask(self.n_lcores).mask

    @property
    def slice_size(self) -> int:
        return (0xFFFF - RANGE_BASE) // self.n_lcores

    def owner(self, port: int, laddr_slot: int = 0) -> int | None:
        """The lcore owning local port `port` of the local address at `laddr_slot`."""
        if self.scheme == "lsb":
            return mask_math.fdir_mask(self.n_lcores).owner(port)
        if self.scheme == "range":
            if port < RANGE_BASE:
                return None
            idx = (port - RANGE_BASE) // self.slice_size
            return idx if idx < self.n_lcores else None
        return laddr_slot % self.n_lcores

    def owns(self, lcore: int, port: int, laddr_slot: int = 0) -> bool:
        return self.owner(port, laddr_slot) == lcore

    def owned_ports(self, lcore: int, laddr_slot: int = 0, low: int = mask_math.DEFAULT_LOW,
                    high: int = mask_math.DEFAULT_HIGH) -> range:
        self._check_lcore(lcore)
        mask_math.check_port_range(low, high)
        if self.scheme == "lsb":
            return mask_math.owned_ports(self.n_lcores, lcore, low, high)
        if self.scheme == "range":
            first = RANGE_BASE + lcore * self.slice_size
            last = first + self.slice_size - 1
            return range(max(first, low), min(last, high) + 1)
        return range(low, high + 1) if laddr_slot % self.n_lcores == lcore else range(0)

    def port_matches(self, lcore: int, laddr_slot: int = 0) -> list[tuple[int, int]]:
        """(value, mask) pairs on the destination port that steer to `lcore`.
        A mask of 0 means "any port"."""
        self._check_lcore(lcore)
        if self.scheme == "lsb":
            return [(lcore, self.mask)]
        if self.scheme == "range":
            first = RANGE_BASE + lcore * self.slice_size
            return range_to_prefixes(first, first + self.slice_size - 1)
        return [(0, 0)] if laddr_slot % self.n_lcores == lcore else []

    def filter_count(self, n_laddrs: int, n_protocols: int = 2) -> int:
        """Flow-director entries this scheme costs for n_laddrs local addresses."""
        if self.scheme == "laddr":
            return n_laddrs * n_protocols
        per_laddr = sum(len(self.port_matches(i)) for i in range(self.n_lcores))
        return n_laddrs * per_laddr * n_protocols

    def _check_lcore(self, lcore: int) -> None:
        if not 0 <= lcore < self.n_lcores:
            raise PartitionError(
                f"lcore index {lcore} out of range: {self.n_lcores} lcore(s) are 0..{self.n_lcores - 1}")
