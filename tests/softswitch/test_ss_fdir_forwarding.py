"""Frames through fdir.p4 for every table: in-process, and on veth pairs through softswitch and BMv2.

Ports: 1 and 2 are wire ports, 3 and 4 lcore ports. Each test reloads the pipeline (empty tables).
"""
from __future__ import annotations

import socket
import struct
import zlib

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether

VIP = "10.0.0.100"
LADDR = "10.0.0.200"
LADDR6 = "2001:db8::200"
CLIENT = "10.0.1.1"
RS = "10.0.2.1"
LB_MAC = "02:00:00:00:00:aa"
MAC_RS = "02:00:00:00:02:01"
DROP_PARSER_ERROR, DROP_BAD_CHECKSUM, DROP_MISS_POLICY, DROP_RETA_MISS, DROP_L2_MISS = 0, 1, 2, 3, 4


def ip4(a: str) -> int:
    return struct.unpack("!I", socket.inet_aton(a))[0]


def ip6(a: str) -> int:
    return int.from_bytes(socket.inet_pton(socket.AF_INET6, a), "big")


def mac(m: str) -> int:
    return int(m.replace(":", ""), 16)


def tcp4(dst: str, dport: int, src: str = RS, sport: int = 8080, **ip_kw) -> bytes:
    return bytes(Ether(dst=LB_MAC, src=MAC_RS) / IP(src=src, dst=dst, **ip_kw) /
                 TCP(sport=sport, dport=dport) / b"payload-bytes")


def setup_lb(c, lcore_ports=(3, 4), addrs=(LADDR, VIP)) -> None:
    for p in lcore_ports:
        c.insert("port_role", {"std.ingress_port": p}, "set_lcore")
    for a in addrs:
        c.insert("lb_addr_v4", {"hdr.ipv4.dst_addr": ip4(a)}, "lb_owned")


def steer_v4(c, addr: str, mask: int, base: int, port: int, proto: int = 6, prio: int = 10) -> None:
    c.insert("fdir_v4", {"hdr.ipv4.dst_addr": (ip4(addr), 0xFFFFFFFF), "meta.l4_dport": (base, mask),
                         "hdr.ipv4.protocol": proto}, "steer", {"port": port}, priority=prio)


def test_fdir_v4_steers_by_port_low_bits(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c)
    steer_v4(c, LADDR, 3, 1, 3)
    steer_v4(c, LADDR, 3, 2, 4)
    frame = tcp4(LADDR, 1026)                       # 1026 & 3 == 2 -> lcore port 4
    fdir_rig.send(1, frame)
    assert fdir_rig.outputs() == {4: [frame]}
    fdir_rig.send(1, tcp4(LADDR, 1025))             # 1025 & 3 == 1 -> port 3
    assert list(fdir_rig.outputs()) == [3]
    # Direct counters come back keyed by match (as PI returns them): one hit per filter.
    hits = {te.match[1].ternary.value: pk for te, pk, _ in c.direct_counters("fdir_v4")}
    assert hits == {b"\x01": 1, b"\x02": 1}


def test_fdir_v4_udp_and_ip_options(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c)
    steer_v4(c, LADDR, 3, 2, 4, proto=17)
    udp = bytes(Ether(dst=LB_MAC, src=MAC_RS) / IP(src=RS, dst=LADDR) / UDP(sport=53, dport=1030) / b"x")
    fdir_rig.send(1, udp)
    assert fdir_rig.outputs() == {4: [udp]}
    # IHL 6: the options are a varbit field, covered by the verified header checksum.
    opt = bytes(Ether(dst=LB_MAC, src=MAC_RS) / IP(src=RS, dst=LADDR, options=b"\x01\x01\x01\x00") /
                UDP(sport=53, dport=1030) / b"x")
    assert opt[14] == 0x46
    fdir_rig.send(1, opt)
    assert fdir_rig.outputs() == {4: [opt]}


def test_fdir_v6(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c, addrs=())
    c.insert("lb_addr_v6", {"hdr.ipv6.dst_addr": ip6(LADDR6)}, "lb_owned")
    c.insert("fdir_v6", {"hdr.ipv6.dst_addr": (ip6(LADDR6), (1 << 128) - 1), "meta.l4_dport": (3, 3),
                         "hdr.ipv6.next_hdr": 17}, "steer", {"port": 3}, priority=5)
    frame = bytes(Ether(dst=LB_MAC, src=MAC_RS) / IPv6(src="2001:db8::1", dst=LADDR6) /
                  UDP(sport=9, dport=1027) / b"v6")
    fdir_rig.send(1, frame)
    assert fdir_rig.outputs() == {3: [frame]}


def reta_index(src: str, dst: str, proto: int, sport: int, dport: int) -> int:
    """What BMv2 computes: crc32 over the packed field list, modulo 128."""
    data = socket.inet_aton(src) + socket.inet_aton(dst) + bytes([proto]) + struct.pack("!HH", sport, dport)
    return zlib.crc32(data) % 128


def test_rss_reta_picks_crc32_bucket(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c)
    for idx in range(128):
        c.insert("reta", {"meta.reta_idx": idx}, "steer", {"port": 3 if idx % 2 == 0 else 4})
    seen = set()
    for sport in range(40000, 40010):
        frame = tcp4(VIP, 80, src=CLIENT, sport=sport)
        fdir_rig.send(1, frame)
        want = 3 if reta_index(CLIENT, VIP, 6, sport, 80) % 2 == 0 else 4
        assert fdir_rig.outputs() == {want: [frame]}, f"sport {sport}"
        seen.add(want)
    assert seen == {3, 4}, "ten flows should not all hash to one parity"
    total = sum(pk for _, pk, _ in c.direct_counters("reta"))
    assert total == 10


def test_reta_miss_and_miss_policy(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c)
    fdir_rig.send(1, tcp4(VIP, 80, src=CLIENT))            # RSS on, RETA empty -> dropped
    assert fdir_rig.nothing_out()
    assert c.counter("drop_reasons", DROP_RETA_MISS)[0] == 1
    c.set_default("lb_miss_policy", "drop_miss")
    fdir_rig.send(1, tcp4(VIP, 80, src=CLIENT))
    assert fdir_rig.nothing_out()
    assert c.counter("drop_reasons", DROP_MISS_POLICY)[0] == 1
    c.set_default("lb_miss_policy", "steer", {"port": 3})
    frame = tcp4(VIP, 81, src=CLIENT)
    fdir_rig.send(1, frame)
    assert fdir_rig.outputs() == {3: [frame]}


def test_fragments_skip_flow_director(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c)
    steer_v4(c, LADDR, 3, 2, 4)
    c.set_default("lb_miss_policy", "steer", {"port": 3})
    frag = tcp4(LADDR, 1026, flags="MF")                   # first fragment: filters do not apply
    fdir_rig.send(1, frag)
    assert list(fdir_rig.outputs()) == [3]


def test_l2_forwarding_from_lcore_and_miss(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c)
    c.insert("l2_fwd", {"hdr.ethernet.dst_addr": mac(MAC_RS)}, "forward", {"port": 2})
    # An lcore transmits a NATed frame towards the real server: only L2 applies.
    frame = bytes(Ether(dst=MAC_RS, src=LB_MAC) / IP(src=LADDR, dst=RS) / TCP(sport=1026, dport=8080))
    fdir_rig.send(3, frame)
    assert fdir_rig.outputs() == {2: [frame]}
    fdir_rig.send(3, bytes(Ether(dst="02:00:00:00:09:09", src=LB_MAC) / IP(src=LADDR, dst=RS) / TCP()))
    assert fdir_rig.nothing_out()
    assert c.counter("drop_reasons", DROP_L2_MISS)[0] == 1
    # A non-LB destination from a wire port is L2-forwarded too.
    other = bytes(Ether(dst=MAC_RS, src="02:00:00:00:01:01") / IP(src=CLIENT, dst=RS) / TCP())
    fdir_rig.send(1, other)
    assert fdir_rig.outputs() == {2: [other]}


def test_arp_responder(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    c.insert("arp_responder", {"hdr.arp.tpa": ip4(LADDR)}, "arp_answer", {"mac": mac(LB_MAC)})
    req = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC_RS) /
                ARP(op=1, hwsrc=MAC_RS, psrc=RS, hwdst="00:00:00:00:00:00", pdst=LADDR))
    fdir_rig.send(2, req)
    out = fdir_rig.outputs()
    assert list(out) == [2]
    reply = Ether(out[2][0])
    assert reply.dst == MAC_RS and reply.src == LB_MAC
    assert reply[ARP].op == 2 and reply[ARP].hwsrc == LB_MAC and reply[ARP].psrc == LADDR
    assert reply[ARP].hwdst == MAC_RS and reply[ARP].pdst == RS
    fdir_rig.send(2, bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC_RS) / ARP(op=1, psrc=RS, pdst="10.9.9.9")))
    assert fdir_rig.nothing_out()


def test_malformed_frames_are_counted_and_dropped(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    setup_lb(c)
    c.set_default("lb_miss_policy", "steer", {"port": 3})
    good = tcp4(VIP, 80, src=CLIENT)
    fdir_rig.send(1, good[:14 + 12])                        # IPv4 header cut short
    bad_ck = bytearray(good)
    bad_ck[24] ^= 0xFF                                      # corrupt the header checksum
    fdir_rig.send(1, bytes(bad_ck))
    short_ihl = bytearray(good)
    short_ihl[14] = 0x44                                    # IHL 4 < 5
    fdir_rig.send(1, bytes(short_ihl))
    assert fdir_rig.nothing_out()
    assert c.counter("drop_reasons", DROP_PARSER_ERROR)[0] == 2
    assert c.counter("drop_reasons", DROP_BAD_CHECKSUM)[0] == 1
    assert c.counter("port_rx", 1)[0] == 3


def test_port_counters(fdir_rig, fdir_program):
    c = fdir_rig.load(fdir_program)
    c.insert("l2_fwd", {"hdr.ethernet.dst_addr": mac(MAC_RS)}, "forward", {"port": 2})
    frame = bytes(Ether(dst=MAC_RS, src=LB_MAC) / IP(src=LADDR, dst=RS) / UDP() / (b"z" * 30))
    for _ in range(3):
        fdir_rig.send(1, frame)
        assert list(fdir_rig.outputs()) == [2]
    assert c.counter("port_rx", 1) == (3, 3 * len(frame))
    assert c.counter("port_tx", 2) == (3, 3 * len(frame))
    assert c.counter("port_tx", 1) == (0, 0)
