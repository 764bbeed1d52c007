"""Shared helpers of the lcore tests: scapy frame builders, checksum verification, and a
small datapath fixture with one service (no root needed)."""
from __future__ import annotations

import ipaddress

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from lcore.datapath import Datapath

LB_MAC = "02:00:00:00:00:fe"
CLIENT_MAC = "02:00:00:00:01:01"
RS_MAC = "02:00:00:00:02:01"
LB_MAC_B = bytes.fromhex(LB_MAC.replace(":", ""))


def frame(src: str, dst: str, sport: int, dport: int, proto: str = "tcp", flags: str = "S",
          payload: bytes = b"", smac: str = CLIENT_MAC, dmac: str = LB_MAC) -> bytearray:
    ip = IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)
    l4 = TCP(sport=sport, dport=dport, flags=flags, seq=1000) if proto == "tcp" else UDP(sport=sport, dport=dport)
    return bytearray(bytes(Ether(src=smac, dst=dmac) / ip / l4 / payload))


def checksums_ok(raw: bytes) -> bool:
    """True if scapy, recomputing every checksum from scratch, gets the same bytes."""
    pkt = Ether(raw)
    for layer in (IP, TCP, UDP):
        if layer in pkt:
            del pkt[layer].chksum
    return bytes(Ether(bytes(pkt))) == bytes(raw)


def make_dp(lcore_id: int = 0, n_lcores: int = 1, scheme: str = "lsb", v6: bool = False,
            proto: str = "tcp", sched: str = "rr", servers: list | None = None,
            laddrs: list | None = None, port_range: tuple[int, int] = (1025, 65535),
            **kw) -> Datapath:
    dp = Datapath(lcore_id, n_lcores, scheme, LB_MAC_B, port_range[0], port_range[1], **kw)
    if v6:
        vip, la, rs = "2001:db8::100", ["2001:db8::200"], "2001:db8::2:1"
    else:
        vip, la, rs = "10.0.0.100", ["10.0.0.200"], "10.0.2.1"
    laddrs = laddrs or la
    for slot, a in enumerate(laddrs):
        dp.pool_add(a, slot)
    servers = servers or [{"addr": rs, "port": 8080, "weight": 1}]
    dp.service_add(vip, 80, proto, sched, servers, laddrs)
    for s in servers:
        dp.neigh.add(s["addr"], RS_MAC)
    return dp


def packed(addr: str) -> bytes:
    return ipaddress.ip_address(addr).packed
