"""Full-NAT rewrite of one parsed frame in place: addresses, ports, MACs, and the IPv4
header and TCP/UDP checksums updated incrementally (RFC 1624), for IPv4 and IPv6.

Pure functions on a bytearray. The incremental update uses that a ones'-complement sum of
16-bit words is congruent to the words' big-endian integer modulo 0xffff (2**16 == 1), so
the old and new (address, port) fields can be summed with one int.from_bytes each.
"""
from __future__ import annotations

from lcore.frames import ETH_HLEN, PROTO_UDP, Parsed

_V4_SRC, _V4_DST, _V4_CSUM = ETH_HLEN + 12, ETH_HLEN + 16, ETH_HLEN + 10
_V6_SRC, _V6_DST = ETH_HLEN + 8, ETH_HLEN + 24


def csum_adjust(csum: int, old: bytes, new: bytes) -> int:
    """The checksum field after the (even-length, word-aligned) bytes `old` became `new`."""
    s = ((~csum & 0xFFFF) - int.from_bytes(old, "big") + int.from_bytes(new, "big")) % 0xFFFF
    # a sum that is zero mod 0xffff is 0xffff ("negative zero") for non-zero data
    return (~(s or 0xFFFF)) & 0xFFFF


def rewrite(buf: bytearray, p: Parsed, src: bytes, sport: int, dst: bytes, dport: int,
            smac: bytes, dmac: bytes) -> None:
    """Turn the frame `p` describes into src:sport -> dst:dport from smac to dmac."""
    l4 = p.l4off
    old_ports = bytes(buf[l4:l4 + 4])
    new_ports = bytes(((sport >> 8), sport & 0xFF, (dport >> 8), dport & 0xFF))
    if p.family == 4:
        old_addrs = bytes(buf[_V4_SRC:_V4_DST + 4])
        new_addrs = src + dst
        c = (buf[_V4_CSUM] << 8) | buf[_V4_CSUM + 1]
        c = csum_adjust(c, old_addrs, new_addrs)
        buf[_V4_CSUM] = c >> 8
        buf[_V4_CSUM + 1] = c & 0xFF
        buf[_V4_SRC:_V4_DST + 4] = new_addrs
    else:
        old_addrs = bytes(buf[_V6_SRC:_V6_DST + 16])
        new_addrs = src + dst
        buf[_V6_SRC:_V6_DST + 16] = new_addrs
    # L4 checksum covers the pseudo-header addresses and the ports
    coff = l4 + (6 if p.proto == PROTO_UDP else 16)
    c = (buf[coff] << 8) | buf[coff + 1]
    if p.proto == PROTO_UDP and c == 0:
        if p.family == 6:
            # RFC 2460: a zero UDP checksum is invalid over IPv6; recompute it in full
            buf[l4:l4 + 4] = new_ports
            c = l4_checksum(buf, p)
        # IPv4 UDP without checksum stays without one
    else:
        c = csum_adjust(c, old_addrs + old_ports, new_addrs + new_ports)
        if p.proto == PROTO_UDP and c == 0:
            c = 0xFFFF          # RFC 768: a computed zero is sent as all ones
    buf[coff] = c >> 8
    buf[coff + 1] = c & 0xFF
    buf[l4:l4 + 4] = new_ports
    buf[0:6] = dmac
    buf[6:12] = smac


def ones_sum(data: bytes | bytearray | memoryview) -> int:
    if len(data) & 1:
        data = bytes(data) + b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def l4_checksum(buf: bytearray, p: Parsed) -> int:
    """The full TCP/UDP checksum of the frame as it stands (pseudo-header included)."""
    l4 = p.l4off
    coff = l4 + (6 if p.proto == PROTO_UDP else 16)
    seg = bytearray(buf[l4:l4 + p.l4len])
    seg[coff - l4:coff - l4 + 2] = b"\0\0"
    if p.family == 4:
        pseudo = bytes(buf[_V4_SRC:_V4_DST + 4]) + bytes((0, p.proto)) + p.l4len.to_bytes(2, "big")
    else:
        pseudo = bytes(buf[_V6_SRC:_V6_DST + 16]) + p.l4len.to_bytes(4, "big") + bytes((0, 0, 0, p.proto))
    s = (ones_sum(pseudo) + ones_sum(seg)) % 0xFFFF
    c = (~(s or 0xFFFF)) & 0xFFFF
    if p.proto == PROTO_UDP and c == 0:
        c = 0xFFFF
    return c


def fix_l4_checksum(buf: bytearray, p: Parsed) -> None:
    """Write the full L4 checksum (for frames whose checksum was left to offload)."""
    coff = p.l4off + (6 if p.proto == PROTO_UDP else 16)
    c = l4_checksum(buf, p)
    buf[coff] = c >> 8
    buf[coff + 1] = c & 0xFF
