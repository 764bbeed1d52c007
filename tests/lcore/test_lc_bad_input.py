"""Bad frames are counted drops, never crashes: random bytes, truncations, wrong lengths,
fragments, IPv6 extension headers, unknown protocols, frames for other MACs."""
import random

import pytest
from lc_helpers import CLIENT_MAC, LB_MAC, frame, make_dp
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, Dot1Q, Ether

E = Ether(src=CLIENT_MAC, dst=LB_MAC)
V4 = IP(src="10.0.1.1", dst="10.0.0.100")
V6 = IPv6(src="2001:db8:1::1", dst="2001:db8::100")


CASES = {
    "truncated_ethernet": bytes(E)[:10],
    "arp": bytes(Ether(src=CLIENT_MAC, dst=LB_MAC) / ARP()),
    "vlan_tagged": bytes(E / Dot1Q(vlan=5) / V4 / TCP(dport=80)),
    "not_ip": bytes(Ether(src=CLIENT_MAC, dst=LB_MAC, type=0x88CC) / (b"lldp" * 10)),
    "truncated_ip": bytes(E / V4 / TCP(dport=80))[:30],
    "bad_ip_header": bytes(E / IP(bytes(V4 / TCP(dport=80)))).replace(b"\x45", b"\x43", 1),
    "bad_ip_length": bytes(E / IP(src="10.0.1.1", dst="10.0.0.100", len=200) / TCP(dport=80)),
    "fragment": bytes(E / IP(src="10.0.1.1", dst="10.0.0.100", flags="MF") / TCP(dport=80)),
    "unknown_protocol": bytes(E / V4 / ICMP()),
    "truncated_l4": bytes(E / IP(src="10.0.1.1", dst="10.0.0.100", proto=6) / b"abc"),
    "bad_tcp_header": bytes(E / V4 / TCP(dport=80, dataofs=15)),
    "bad_udp_length": bytes(E / V4 / UDP(dport=80, len=300)),
    "ipv6_ext_header": bytes(E / V6 / IPv6ExtHdrHopByHop() / TCP(dport=80)),
    "not_our_mac": bytes(Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / V4 / TCP(dport=80)),
}
CASES["fragment_v6"] = bytes(E / V6 / IPv6ExtHdrFragment() / TCP(dport=80))
CASES["fragment_offset"] = bytes(E / IP(src="10.0.1.1", dst="10.0.0.100", frag=10) / TCP(dport=80))


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_bad_frame_is_a_named_drop(name):
    dp = make_dp()
    dp.rx(bytearray(CASES[name]), now=0)
    reason = name.split("_v6")[0].replace("fragment_offset", "fragment")
    assert dict(dp.stats.drops) == {reason: 1}
    assert not dp.tx and len(dp.conns) == 0 and dp.stats.packets_in == 1


def test_not_lb_address_and_no_service():
    dp = make_dp()
    dp.rx(frame("10.0.1.1", "10.9.9.9", 1, 80), now=0)
    dp.rx(frame("10.0.1.1", "10.0.0.100", 1, 81), now=0)
    assert dict(dp.stats.drops) == {"not_lb_address": 1, "no_service": 1}


def test_random_and_mutated_frames_never_crash():
    rng = random.Random(42)
    dp = make_dp(proto="tcp")
    dp.service_add("10.0.0.100", 53, "udp", "rr", [{"addr": "10.0.2.1", "port": 53}], ["10.0.0.200"])
    dp6 = make_dp(v6=True, proto="udp")
    good = [bytes(frame("10.0.1.1", "10.0.0.100", 4000, 80, flags="S", payload=b"x" * 20)),
            bytes(frame("10.0.1.1", "10.0.0.100", 4000, 53, "udp", payload=b"y" * 9)),
            bytes(frame("2001:db8:1::1", "2001:db8::100", 4000, 80, "udp", payload=b"z"))]
    n = 0
    for i in range(6000):
        if i % 3 == 0:
            raw = bytearray(rng.randbytes(rng.randrange(0, 120)))
            if rng.random() < 0.5:
                raw[0:6] = bytes.fromhex(LB_MAC.replace(":", ""))
        else:
            raw = bytearray(rng.choice(good))
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(12, len(raw))] = rng.randrange(256)
            if rng.random() < 0.3:
                raw = raw[:rng.randrange(len(raw))]
        for d in (dp, dp6):
            d.rx(bytearray(raw), now=i * 0.01)
            n += 1
            d.tick(i * 0.01)
    for d in (dp, dp6):
        s = d.stats
        # every frame is either dropped with a reason or forwarded
        assert s.packets_in == s.dropped + s.packets_out
        assert all(isinstance(k, str) and v > 0 for k, v in s.drops.items())
