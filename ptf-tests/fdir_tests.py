"""PTF packet tests of fdir.p4: flow-director steering per lcore for n in {1,2,4,6,8}, IPv4
and IPv6, RSS spread and stickiness, what never matches a filter, deletion and the miss
policy, L2 forwarding of what lcores send, direct counters, ARP answers, Neighbor
Advertisements for IPv6 LB addresses, malformed frames."""
from __future__ import annotations

import socket
import time

import ptf.testutils as tu
from fdir_base import (
    CLIENT_IP,
    CLIENT_IP6,
    CLIENT_MAC,
    CLIENT_PORT,
    DELETE,
    LADDR,
    LADDR6,
    LB_MAC,
    LCORE_PORTS,
    RS1_IP,
    RS1_MAC,
    RS1_PORT,
    RS2_MAC,
    RS2_PORT,
    VIP,
    VIP6,
    FdirTest,
)
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    in6_getnsma,
    in6_getnsmac,
)
from scapy.layers.l2 import Ether
from scapy.utils6 import inet_pton

from fdirlab import mask_math as mm

N_VALUES = (1, 2, 4, 6, 8)


def sample_ports(n: int, residue: int, k: int = 2) -> list[int]:
    """k local ports in 1025..65535 with port & mask == residue, spread over the range."""
    step = mm.fdir_mask(n).mask + 1
    first = 1025 + (residue - 1025) % step
    return [first + step * j for j in (0, 4001)][:k]


class _Steering(FdirTest):
    laddr = LADDR

    def check(self, n: int) -> None:
        self.install_layout(n)
        self.add_laddr(self.laddr)
        mask = mm.fdir_mask(n).mask
        expected = []
        for residue in range(n):
            for proto in ("tcp", "udp"):
                for port in sample_ports(n, residue):
                    pkt = self.reply(self.laddr, port, proto)
                    tu.send_packet(self, RS1_PORT, pkt)
                    expected.append((pkt, residue, proto, port))
        for pkt, residue, _proto, _port in expected:
            tu.verify_packet(self, pkt, LCORE_PORTS[residue])   # exactly the owner's port
        tu.verify_no_other_packets(self)  # nothing anywhere else, no duplicates
        # Ports owned by nobody (n = 6: residues 6, 7) match no filter and follow the miss
        # path: with miss policy drop they vanish, with a default lcore they go there.
        if mask + 1 > n:
            self.set_miss("drop")
            for residue in range(n, mask + 1):
                tu.send_packet(self, RS1_PORT, self.reply(self.laddr, sample_ports(n, residue)[0]))
            tu.verify_no_other_packets(self)
            self.set_miss("lcore", 1)
            for residue in range(n, mask + 1):
                pkt = self.reply(self.laddr, sample_ports(n, residue)[0], "udp")
                tu.send_packet(self, RS1_PORT, pkt)
                self.expect_only(pkt, LCORE_PORTS[1])

    def run_all(self) -> None:
        for n in N_VALUES:
            with self.subTest(n=n):
                self.client.set_pipeline(*self._program())
                self.check(n)

    @staticmethod
    def _program():
        from fdir_base import _CONFIG, _P4INFO
        return _P4INFO, _CONFIG


class FdirSteeringV4(_Steering):
    """Every lcore's filters steer TCP and UDP replies of each residue to its port only."""
    laddr = LADDR

    def runTest(self) -> None:
        self.run_all()


class FdirSteeringV6(_Steering):
    """The same for an IPv6 local address (fdir_v6)."""
    laddr = LADDR6

    def runTest(self) -> None:
        self.run_all()


class RssSpreadsNewFlows(FdirTest):
    """Traffic to a VIP (no filter) is spread by RSS over all lcores; a flow stays put."""

    def runTest(self) -> None:
        n = 4
        self.install_layout(n)
        seen: dict[int, int] = {}
        for sport in range(40000, 40064):
            pkt = self.to_vip(sport)
            tu.send_packet(self, CLIENT_PORT, pkt)
            seen[sport] = self.expect_any_lcore(pkt, n)
        self.assertEqual(set(seen.values()), set(LCORE_PORTS[:n]),
                         f"64 flows should reach all {n} lcores, got {sorted(set(seen.values()))}")
        for sport in (40000, 40017, 40063):
            pkt = self.to_vip(sport)
            for _ in range(3):
                tu.send_packet(self, CLIENT_PORT, pkt)
                self.expect_only(pkt, seen[sport])
        # The reply of each conn comes back to the lcore RSS chose for it: that lcore binds
        # a local port it owns, and the filter for that port points at it.
        self.add_laddr(LADDR)
        for sport in (40000, 40017, 40063):
            lcore = LCORE_PORTS.index(seen[sport])
            lport = sample_ports(n, lcore)[1]
            reply = self.reply(LADDR, lport)
            tu.send_packet(self, RS1_PORT, reply)
            self.expect_only(reply, seen[sport])
        # UDP and IPv6 VIP traffic is spread too.
        udp = self.to_vip(5000, proto="udp", dport=5353)
        tu.send_packet(self, CLIENT_PORT, udp)
        self.expect_any_lcore(udp, n)
        v6 = self.to_vip(5000, vip="fd00:fd::100")
        tu.send_packet(self, CLIENT_PORT, v6)
        self.expect_any_lcore(v6, n)


class NonL4NeverMatches(FdirTest):
    """Fragments, ICMP and other non-TCP/UDP traffic to a local address never match a
    filter: with the miss policy "lcore 3" they all land on lcore 3, whatever their port."""

    def runTest(self) -> None:
        self.install_layout(4, miss="lcore", lcore=3)
        self.add_laddr(LADDR)
        base = Ether(dst=LB_MAC, src=RS1_MAC) / IP(src=RS1_IP, dst=LADDR)
        dport = 1025          # residue 1: the filter would say lcore 1
        frames = {
            "first fragment (MF)": base.copy() / TCP(sport=8080, dport=dport) / ("x" * 40),
            "later fragment": base.copy() / TCP(sport=8080, dport=dport) / ("x" * 40),
            "icmp": base.copy() / ICMP() / ("x" * 20),
            "gre": Ether(dst=LB_MAC, src=RS1_MAC) / IP(src=RS1_IP, dst=LADDR, proto=47) / ("x" * 20),
        }
        frames["first fragment (MF)"][IP].flags = "MF"
        frames["later fragment"][IP].frag = 10
        for f in frames.values():
            f = Ether(bytes(f))
            tu.send_packet(self, RS1_PORT, f)
            tu.verify_packet(self, f, LCORE_PORTS[3])
        tu.verify_no_other_packets(self)
        # An unfragmented UDP packet to the same port does match: the filter is there.
        pkt = self.reply(LADDR, dport, "udp")
        tu.send_packet(self, RS1_PORT, pkt)
        self.expect_only(pkt, LCORE_PORTS[1])
        hits = sum(e.packets or 0 for e in self.read_table("fdir_v4"))
        self.assertEqual(hits, 1, "only the unfragmented UDP packet may hit a filter")


class DeleteStopsSteering(FdirTest):
    """Deleting a local address's entries stops the steering; the miss policy applies."""

    def runTest(self) -> None:
        self.install_layout(4, miss="drop")
        entries = self.add_laddr(LADDR)
        pkt = self.reply(LADDR, 1026)          # residue 2
        tu.send_packet(self, RS1_PORT, pkt)
        self.expect_only(pkt, LCORE_PORTS[2])
        filters = [e for e in entries if e.table == "fdir_v4"]
        self.write(DELETE, filters)
        self.assertEqual(self.read_table("fdir_v4"), [])
        tu.send_packet(self, RS1_PORT, pkt)    # still LB-owned, no filter, policy drop
        tu.verify_no_other_packets(self)
        self.set_miss("lcore", 0)
        tu.send_packet(self, RS1_PORT, pkt)
        self.expect_only(pkt, LCORE_PORTS[0])
        self.set_miss("rss")
        tu.send_packet(self, RS1_PORT, pkt)
        self.expect_any_lcore(pkt, 4)


class LcoreFramesForwardedByMac(FdirTest):
    """What an lcore transmits goes out by destination MAC, never through the filters."""

    def runTest(self) -> None:
        self.install_layout(4)
        self.add_laddr(LADDR)
        # lcore 2 sends the NATed SYN to rs2, and the NATed reply to the client.
        to_rs = tu.simple_tcp_packet(eth_dst=RS2_MAC, eth_src=LB_MAC, ip_src=LADDR,
                                     ip_dst="10.0.2.2", tcp_sport=1026, tcp_dport=8080)
        tu.send_packet(self, LCORE_PORTS[2], to_rs)
        self.expect_only(to_rs, RS2_PORT)
        to_client = tu.simple_tcp_packet(eth_dst=CLIENT_MAC, eth_src=LB_MAC, ip_src=VIP,
                                         ip_dst=CLIENT_IP, tcp_sport=80, tcp_dport=40000)
        tu.send_packet(self, LCORE_PORTS[2], to_client)
        self.expect_only(to_client, CLIENT_PORT)
        # Even a frame to a local address is only L2-forwarded when an lcore sends it.
        odd = tu.simple_tcp_packet(eth_dst=RS1_MAC, eth_src=LB_MAC, ip_src=RS1_IP, ip_dst=LADDR,
                                   tcp_sport=8080, tcp_dport=1025)
        tu.send_packet(self, LCORE_PORTS[0], odd)
        self.expect_only(odd, RS1_PORT)
        unknown = tu.simple_tcp_packet(eth_dst="02:00:00:00:99:99", eth_src=LB_MAC)
        tu.send_packet(self, LCORE_PORTS[0], unknown)
        tu.verify_no_other_packets(self)


class DirectCountersCountPerEntry(FdirTest):
    """Each filter's direct counter counts its own packets (the NIC's matched-filter report)."""

    def runTest(self) -> None:
        self.install_layout(4)
        self.add_laddr(LADDR)
        sent = {0: 3, 1: 1, 3: 5}                          # lcore -> TCP packets
        for lcore, count in sent.items():
            pkt = self.reply(LADDR, 2048 + lcore)
            for _ in range(count):
                tu.send_packet(self, RS1_PORT, pkt)
                tu.verify_packet(self, pkt, LCORE_PORTS[lcore])
        tu.verify_no_other_packets(self)
        got = {}
        for e in self.read_table("fdir_v4"):
            proto = e.field("proto")
            assert proto is not None
            got[(e.param("port"), proto.value)] = e.packets
        for lcore in range(4):
            self.assertEqual(got[(LCORE_PORTS[lcore], 6)], sent.get(lcore, 0), f"lcore {lcore} tcp")
            self.assertEqual(got[(LCORE_PORTS[lcore], 17)], 0, f"lcore {lcore} udp")
        rx = self.read_counter("port_rx")
        self.assertEqual(rx[RS1_PORT][0], sum(sent.values()))


class ArpAnswersForLbAddresses(FdirTest):
    """The switch answers ARP for VIPs and local addresses with the LB MAC, nothing else."""

    def runTest(self) -> None:
        self.install_layout(2)
        self.add_laddr(LADDR)
        for target in (VIP, LADDR):
            req = tu.simple_arp_packet(eth_src=CLIENT_MAC, hw_snd=CLIENT_MAC, ip_snd=CLIENT_IP,
                                       ip_tgt=target, arp_op=1)
            tu.send_packet(self, CLIENT_PORT, req)
            rep = tu.simple_arp_packet(eth_dst=CLIENT_MAC, eth_src=LB_MAC, arp_op=2, ip_snd=target,
                                       ip_tgt=CLIENT_IP, hw_snd=LB_MAC, hw_tgt=CLIENT_MAC)
            self.expect_only(rep, CLIENT_PORT)
        other = tu.simple_arp_packet(eth_src=CLIENT_MAC, hw_snd=CLIENT_MAC, ip_snd=CLIENT_IP,
                                     ip_tgt="10.0.9.9")
        tu.send_packet(self, CLIENT_PORT, other)
        tu.verify_no_other_packets(self)


def neighbor_solicitation(target: str, multicast: bool = True, hlim: int = 255,
                          src: str = CLIENT_IP6):
    """What a Linux host sends to resolve `target`: to its solicited-node multicast group
    (address resolution) or to the address itself (unreachability detection)."""
    nsma = in6_getnsma(inet_pton(socket.AF_INET6, target))
    dst_ip = ":".join(nsma.hex()[i:i + 4] for i in range(0, 32, 4)) if multicast else target
    dst_mac = in6_getnsmac(nsma) if multicast else LB_MAC
    return (Ether(dst=dst_mac, src=CLIENT_MAC) / IPv6(src=src, dst=dst_ip, hlim=hlim)
            / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=CLIENT_MAC))


def neighbor_advertisement(target: str):
    """The answer RFC 4861 section 7.2.4 asks for: solicited, override, not a router, with
    the target link-layer address; scapy computes the ICMPv6 checksum the switch must match."""
    return (Ether(dst=CLIENT_MAC, src=LB_MAC) / IPv6(src=target, dst=CLIENT_IP6, hlim=255)
            / ICMPv6ND_NA(tgt=target, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=LB_MAC))


class NeighborAdvertisementsForLbAddresses(FdirTest):
    """The switch answers Neighbor Solicitations for IPv6 VIPs and local addresses with a
    Neighbor Advertisement carrying the LB MAC and a correct ICMPv6 checksum, as it answers
    ARP for IPv4; anything else is counted and dropped (drop_reasons 6, 7 and 1)."""

    def runTest(self) -> None:
        self.install_layout(2)
        self.add_laddr(LADDR6)
        for target in (VIP6, LADDR6):
            for multicast in (True, False):
                tu.send_packet(self, CLIENT_PORT, neighbor_solicitation(target, multicast))
                self.expect_only(neighbor_advertisement(target), CLIENT_PORT)
        other = neighbor_solicitation("fd00:fd::9:9")                     # not ours: 6
        bad_hlim = neighbor_solicitation(VIP6, hlim=64)                   # RFC 4861 7.1.1: 7
        bad_sum = neighbor_solicitation(LADDR6)
        bad_sum[ICMPv6ND_NS].cksum = 0x1234                               # bad checksum: 1
        dad = (Ether(dst=in6_getnsmac(in6_getnsma(inet_pton(socket.AF_INET6, VIP6))), src=CLIENT_MAC)
               / IPv6(src="::", dst="ff02::1:ff00:100", hlim=255) / ICMPv6ND_NS(tgt=VIP6))
        for f in (other, bad_hlim, bad_sum, dad):
            tu.send_packet(self, CLIENT_PORT, f)
        tu.verify_no_other_packets(self)
        want = {1: 1, 6: 1, 7: 1}
        deadline = time.monotonic() + 10
        while True:
            drops = self.read_counter("drop_reasons")
            got = {i: drops.get(i, (0, 0))[0] for i in want}
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(got, want, "drop_reasons: {index: packets}")
        # the address answers only while the switch owns it
        self.write(DELETE, [e for e in self.read_table("nd_responder")
                            if e.match[0].value == int.from_bytes(inet_pton(socket.AF_INET6, LADDR6), "big")])
        tu.send_packet(self, CLIENT_PORT, neighbor_solicitation(LADDR6))
        tu.verify_no_other_packets(self)


class MalformedFramesAreDropped(FdirTest):
    """Truncated IPv4/TCP, a bad IHL or a bad header checksum are never steered, are
    counted by reason, and the switch keeps working."""

    def runTest(self) -> None:
        self.install_layout(4, miss="lcore", lcore=0)
        self.add_laddr(LADDR)
        good = bytes(self.reply(LADDR, 1027))                 # residue 3
        eth = good[:14]
        bad_ihl = bytearray(good)
        bad_ihl[14] = 0x43                                    # version 4, IHL 3
        bad_csum = bytearray(good)
        bad_csum[24] ^= 0xFF
        frames = [eth + good[14:24],                          # IPv4 cut in the middle
                  good[:14 + 20 + 8],                         # TCP header cut short
                  bytes(bad_ihl), bytes(bad_csum)]
        for _ in range(20):
            for f in frames:
                tu.send_packet(self, RS1_PORT, f)
                time.sleep(0.005)     # paced: this test is about parsing, not input bursts
        tu.verify_no_other_packets(self)
        # Counters are read over P4Runtime while the target may still be draining its input.
        want = {0: 20 * 3, 1: 20}     # parser errors (truncated IPv4, truncated TCP, IHL 3); bad checksums
        deadline = time.monotonic() + 10
        while True:
            drops = self.read_counter("drop_reasons")
            got = {i: drops.get(i, (0, 0))[0] for i in want}
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(got, want, "drop_reasons: {index: packets}")
        good_pkt = self.reply(LADDR, 1027)
        tu.send_packet(self, RS1_PORT, good_pkt)
        self.expect_only(good_pkt, LCORE_PORTS[3])
