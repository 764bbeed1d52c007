"""Full-NAT rewrites through the datapath, both directions, IPv4/IPv6 x TCP/UDP, with every
checksum verified by scapy recomputing it from scratch."""
import pytest
from lc_helpers import CLIENT_MAC, LB_MAC, LB_MAC_B, RS_MAC, checksums_ok, frame, make_dp
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from lcore.frames import parse
from lcore.nat import csum_adjust, rewrite

CASES = [(False, "tcp"), (False, "udp"), (True, "tcp"), (True, "udp")]


@pytest.mark.parametrize("v6,proto", CASES)
def test_full_nat_both_directions(v6, proto):
    dp = make_dp(v6=v6, proto=proto, n_lcores=4, lcore_id=2)
    client, vip = ("2001:db8:1::1", "2001:db8::100") if v6 else ("10.0.1.1", "10.0.0.100")
    laddr, rs = ("2001:db8::200", "2001:db8::2:1") if v6 else ("10.0.0.200", "10.0.2.1")
    L3 = IPv6 if v6 else IP
    L4 = TCP if proto == "tcp" else UDP
    dp.rx(frame(client, vip, 40000, 80, proto, payload=b"hello"), now=0.0)
    assert len(dp.tx) == 1
    out = Ether(bytes(dp.tx.pop()))
    assert checksums_ok(bytes(out))
    assert (out.src, out.dst) == (LB_MAC, RS_MAC)
    assert (out[L3].src, out[L3].dst) == (laddr, rs)
    lport = out[L4].sport
    assert out[L4].dport == 8080 and lport & 3 == 2          # lsb: lcore 2 of 4
    assert bytes(out[L4].payload) == b"hello"
    # the reply, RS -> laddr:lport, goes back to the client from the VIP
    dp.rx(frame(rs, laddr, 8080, lport, proto, flags="SA", payload=b"world", smac=RS_MAC), now=0.1)
    back = Ether(bytes(dp.tx.pop()))
    assert checksums_ok(bytes(back))
    assert (back.src, back.dst) == (LB_MAC, CLIENT_MAC)     # client MAC learned from its frame
    assert (back[L3].src, back[L3].dst) == (vip, client)
    assert (back[L4].sport, back[L4].dport) == (80, 40000)
    assert bytes(back[L4].payload) == b"world"
    assert dp.stats.reply_hits == 1 and dp.stats.packets_out == 2


def test_udp_without_checksum_stays_without_and_v4_options_survive():
    raw = bytes(Ether(src=CLIENT_MAC, dst=LB_MAC)
                / IP(src="10.0.1.1", dst="10.0.0.100", options=b"\x01\x01\x01\x00")
                / UDP(sport=5000, dport=80, chksum=0) / (b"x" * 7))
    dp = make_dp(proto="udp")
    dp.rx(bytearray(raw), now=0.0)
    out = Ether(bytes(dp.tx.pop()))
    assert out[UDP].chksum == 0 and out[IP].ihl == 6 and out[IP].dst == "10.0.2.1"
    check = out.copy()
    del check[IP].chksum
    assert Ether(bytes(check))[IP].chksum == out[IP].chksum


def _random_addr(rng, v6: bool) -> str:
    if v6:
        return f"2001:db8::{rng.randrange(1, 65535):x}"
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def test_csum_adjust_matches_full_recompute_over_many_rewrites():
    import random
    rng = random.Random(1)
    for _ in range(300):
        v6 = rng.random() < 0.5
        proto = rng.choice(["tcp", "udp"])
        src = _random_addr(rng, v6)
        dst = _random_addr(rng, v6)
        buf = frame(src, dst, rng.randrange(1, 65536), rng.randrange(1, 65536), proto,
                    payload=bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))
        p = parse(buf)
        nsrc = bytes(rng.randrange(256) for _ in range(16 if v6 else 4))
        ndst = bytes(rng.randrange(256) for _ in range(16 if v6 else 4))
        rewrite(buf, p, nsrc, rng.randrange(1, 65536), ndst, rng.randrange(1, 65536), LB_MAC_B, b"\x02" * 6)
        assert checksums_ok(bytes(buf))


def test_csum_adjust_zero_sum_edge():
    # a change that makes the data sum 0 mod 0xffff must still give a valid field
    assert csum_adjust(0x0000, b"\x00\x00", b"\x00\x00") == 0x0000
    assert csum_adjust(0xFFFF - 0x1234, b"\x12\x34", b"\x00\x00") in (0x0000, 0xFFFF)
