"""Raw Ethernet frame parsing for the worker: Ethernet II -> IPv4/IPv6 -> TCP/UDP, every
length checked against the bytes actually received; anything else is a named drop reason.

parse() returns a Parsed or a reason string (no exceptions on the hot path): the worker
counts the string in its drop table. Fragments and IPv6 extension headers are refused,
as the flow director only steers unfragmented TCP/UDP (DESIGN.md section 2).
"""
from __future__ import annotations

ETH_HLEN = 14
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
PROTO_TCP = 6
PROTO_UDP = 17
IPV6_FRAGMENT = 44
IPV6_EXT_HEADERS = frozenset({0, 43, 50, 51, 60, 135, 139, 140, 253, 254})

# drop reasons parse() can return (stats show them by these names)
R_TRUNC_ETH = "truncated_ethernet"
R_VLAN = "vlan_tagged"
R_ARP = "arp"
R_NOT_IP = "not_ip"
R_TRUNC_IP = "truncated_ip"
R_BAD_IP = "bad_ip_header"
R_BAD_IP_LEN = "bad_ip_length"
R_FRAGMENT = "fragment"
R_V6_EXT = "ipv6_ext_header"
R_UNKNOWN_PROTO = "unknown_protocol"
R_TRUNC_L4 = "truncated_l4"
R_BAD_TCP = "bad_tcp_header"
R_BAD_UDP_LEN = "bad_udp_length"


class Parsed:
    """Where the fields of one TCP/UDP frame are; addresses as packed bytes."""

    __slots__ = ("family", "proto", "src", "dst", "sport", "dport", "l4off", "l4len",
                 "flags", "smac")

    def __init__(self, family: int, proto: int, src: bytes, dst: bytes, sport: int,
                 dport: int, l4off: int, l4len: int, flags: int, smac: bytes) -> None:
        self.family = family
        self.proto = proto
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.l4off = l4off
        self.l4len = l4len
        self.flags = flags          # TCP flags byte (0 for UDP)
        self.smac = smac

    def key(self) -> tuple[int, bytes, int, bytes, int]:
        """The conn-table key of this frame: the 5-tuple as seen on the wire."""
        return (self.proto, self.src, self.sport, self.dst, self.dport)


def parse(frame: bytes | bytearray) -> Parsed | str:
    n = len(frame)
    if n < ETH_HLEN:
        return R_TRUNC_ETH
    ethertype = (frame[12] << 8) | frame[13]
    if ethertype == ETH_P_IP:
        if n < ETH_HLEN + 20:
            return R_TRUNC_IP
        vihl = frame[14]
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or ihl < 20:
            return R_BAD_IP
        total = (frame[16] << 8) | frame[17]
        if total < ihl or ETH_HLEN + total > n:
            return R_BAD_IP_LEN
        if ((frame[20] << 8) | frame[21]) & 0x3FFF:      # MF flag or a fragment offset
            return R_FRAGMENT
        proto = frame[23]
        src = bytes(frame[26:30])
        dst = bytes(frame[30:34])
        l4off = ETH_HLEN + ihl
        l4len = total - ihl
        family = 4
    elif ethertype == ETH_P_IPV6:
        if n < ETH_HLEN + 40:
            return R_TRUNC_IP
        if frame[14] >> 4 != 6:
            return R_BAD_IP
        plen = (frame[18] << 8) | frame[19]
        if ETH_HLEN + 40 + plen > n:
            return R_BAD_IP_LEN
        proto = frame[20]
        if proto == IPV6_FRAGMENT:
            return R_FRAGMENT
        if proto in IPV6_EXT_HEADERS:
            return R_V6_EXT
        src = bytes(frame[22:38])
        dst = bytes(frame[38:54])
        l4off = ETH_HLEN + 40
        l4len = plen
        family = 6
    elif ethertype == ETH_P_ARP:
        return R_ARP
    elif ethertype == ETH_P_8021Q:
        return R_VLAN
    else:
        return R_NOT_IP
    if proto == PROTO_TCP:
        if l4len < 20:
            return R_TRUNC_L4
        doff = (frame[l4off + 12] >> 4) * 4
        if doff < 20 or doff > l4len:
            return R_BAD_TCP
        flags = frame[l4off + 13]
    elif proto == PROTO_UDP:
        if l4len < 8:
            return R_TRUNC_L4
        ulen = (frame[l4off + 4] << 8) | frame[l4off + 5]
        if ulen < 8 or ulen > l4len:
            return R_BAD_UDP_LEN
        flags = 0
    else:
        return R_UNKNOWN_PROTO
    sport = (frame[l4off] << 8) | frame[l4off + 1]
    dport = (frame[l4off + 2] << 8) | frame[l4off + 3]
    return Parsed(family, proto, src, dst, sport, dport, l4off, l4len, flags, bytes(frame[6:12]))
