"""DPVS's flow-director mask math: shift, mask and port_base from the lcore count,
the local ports each lcore owns, and the filter entries for one local address.

Pure functions, no I/O. DESIGN.md section 1 is the reference; DPVS computes the same in
sa_pool.c (`sa_fdir`: shift = ceil(log2(n)), mask = (1 << shift) - 1, port_base = index).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from fdirlab.errors import MaskMathError

DEFAULT_LOW = 1025
DEFAULT_HIGH = 65535
MAX_SHIFT = 15          # shift 16 would leave no bit of the port for the lcore's own ports
MAX_LCORES = 1 << MAX_SHIFT

PROTO_TCP = 6
PROTO_UDP = 17
PROTOCOLS = {"tcp": PROTO_TCP, "udp": PROTO_UDP}

# Every generated filter has this priority; hand-made filters use others to win or lose.
FILTER_PRIORITY = 10


@dataclass(frozen=True)
class FdirMask:
    """The global destination-port mask for `n_lcores` workers."""

    n_lcores: int
    shift: int
    mask: int

    def port_base(self, lcore: int) -> int:
        """The residue `port & mask` lcore `lcore` (its position among the workers) owns."""
        if not 0 <= lcore < self.n_lcores:
            raise MaskMathError(
                f"lcore index {lcore} out of range: {self.n_lcores} lcore(s) are 0..{self.n_lcores - 1}")
        return lcore

    def owner(self, port: int) -> int | None:
        """The lcore that owns `port`, or None when its low bits name no lcore."""
        residue = port & self.mask
        return residue if residue < self.n_lcores else None


def fdir_mask(n_lcores: int) -> FdirMask:
    """shift = smallest s with 2**s >= n; n = 1 gives shift 0 and mask 0."""
    if isinstance(n_lcores, bool) or not isinstance(n_lcores, int):
        raise MaskMathError(f"lcore count must be an integer, got {n_lcores!r}")
    if n_lcores < 1:
        raise MaskMathError(f"lcore count must be at least 1, got {n_lcores}")
    shift = (n_lcores - 1).bit_length()
    if shift > MAX_SHIFT:
        raise MaskMathError(
            f"lcore count {n_lcores} needs shift {shift} >= 16: at most {MAX_LCORES} lcores")
    return FdirMask(n_lcores=n_lcores, shift=shift, mask=(1 << shift) - 1)


def check_port_range(low: int, high: int) -> None:
    if not (0 < low <= high <= 65535):
        raise MaskMathError(f"port range {low}..{high} invalid: need 1 <= low <= high <= 65535")


def owned_ports(n_lcores: int, lcore: int, low: int = DEFAULT_LOW,
                high: int = DEFAULT_HIGH) -> range:
    """The local ports lcore `lcore` may hand out, as a range (cheap even for 65535 ports)."""
    m = fdir_mask(n_lcores)
    base = m.port_base(lcore)
    check_port_range(low, high)
    step = m.mask + 1
    first = low + ((base - low) % step)
    return range(first, high + 1, step)


def owned_count(n_lcores: int, lcore: int, low: int = DEFAULT_LOW,
                high: int = DEFAULT_HIGH) -> int:
    return len(owned_ports(n_lcores, lcore, low, high))


def unowned_residues(n_lcores: int) -> range:
    """Residues `port & mask` no lcore owns (non-empty only when n is not a power of two)."""
    m = fdir_mask(n_lcores)
    return range(n_lcores, m.mask + 1)


def unowned_ports(n_lcores: int, low: int = DEFAULT_LOW, high: int = DEFAULT_HIGH) -> Iterator[int]:
    m = fdir_mask(n_lcores)
    check_port_range(low, high)
    return (p for p in range(low, high + 1) if (p & m.mask) >= n_lcores)


def unowned_count(n_lcores: int, low: int = DEFAULT_LOW, high: int = DEFAULT_HIGH) -> int:
    check_port_range(low, high)
    owned = sum(owned_count(n_lcores, i, low, high) for i in range(n_lcores))
    return (high - low + 1) - owned


Family = Literal[4, 6]


@dataclass(frozen=True)
class FilterEntry:
    """One flow-director filter: {dst == addr/addr_mask, dport & port_mask == port_value,
    proto} -> lcore. Field values are integers, as P4Runtime needs them."""

    family: Family
    addr: int
    addr_mask: int
    port_value: int
    port_mask: int
    proto: int
    lcore: int
    priority: int = FILTER_PRIORITY

    @property
    def table(self) -> str:
        return "fdir_v4" if self.family == 4 else "fdir_v6"

    def address(self) -> str:
        return str(ipaddress.ip_address(self.addr))

    def matches(self, dst: int, dport: int, proto: int) -> bool:
        return (proto == self.proto and (dst & self.addr_mask) == (self.addr & self.addr_mask)
                and (dport & self.port_mask) == (self.port_value & self.port_mask))


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text.strip() if isinstance(text, str) else text)
    except ValueError:
        raise MaskMathError(f"not an IPv4 or IPv6 address: {text!r}") from None


def filters_for_laddr(laddr: str, n_lcores: int,
                      protocols: tuple[str, ...] = ("tcp", "udp")) -> list[FilterEntry]:
    """DPVS's filters for one local address: per lcore, one per protocol, full-address match."""
    m = fdir_mask(n_lcores)
    addr = parse_address(laddr)
    family: Family = 4 if addr.version == 4 else 6
    full = (1 << addr.max_prefixlen) - 1
    out = []
    for lcore in range(n_lcores):
        for name in protocols:
            if name not in PROTOCOLS:
                raise MaskMathError(f"unknown protocol {name!r}: use tcp or udp")
            out.append(FilterEntry(family, int(addr), full, m.port_base(lcore), m.mask,
                                   PROTOCOLS[name], lcore))
    return out
