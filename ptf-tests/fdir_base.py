"""The PTF base test of fdirlab: connect to the target as primary over P4Runtime, push
p4src/build fresh for every test (a clean slate), and install a lab-like layout.

Ports: 0..7 are lcore ports (lcore i on port i), 8..11 wire ports: a client on 8, real
servers on 9 and 10. Runs unchanged on softswitch and on BMv2 (`make ptf TARGET=bmv2`).
"""
from __future__ import annotations

import os
from typing import Any

import ptf
import ptf.testutils as tu
from p4.v1 import p4runtime_pb2
from ptf.base_tests import BaseTest

import p4src
from controller import rules
from controller.entries import Entry
from controller.p4names import P4Names
from controller.p4rt_client import P4RTClient, load_device_config, load_p4info_text
from fdirlab.lab_config import MissPolicy

LCORE_PORTS = tuple(range(8))
WIRE_PORTS = (8, 9, 10, 11)
CLIENT_PORT, RS1_PORT, RS2_PORT = 8, 9, 10

LB_MAC = "02:fd:00:00:00:01"
CLIENT_MAC = "02:fd:02:00:00:01"
RS1_MAC = "02:fd:03:00:00:01"
RS2_MAC = "02:fd:03:00:00:02"
CLIENT_IP, RS1_IP = "10.0.1.1", "10.0.2.1"
VIP, LADDR = "10.0.0.100", "10.0.0.200"
CLIENT_IP6, RS1_IP6 = "fd00:fd::1:1", "fd00:fd::2:1"
VIP6, LADDR6 = "fd00:fd::100", "fd00:fd::200"

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE

_P4INFO: Any = None
_CONFIG = b""


class FdirTest(BaseTest):
    """Per test: fresh pipeline, then `install_layout(n)` puts n lcores in place."""

    def setUp(self) -> None:
        global _P4INFO, _CONFIG
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()
        log_dir = ptf.config.get("log_dir")
        if log_dir:
            # One pcap per test beside its log (ptf leaves starting it to the base test).
            self.dataplane.start_pcap(os.path.join(log_dir, f"{self.id()}.pcap"))
        params = tu.test_params_get()
        if _P4INFO is None:
            _P4INFO = load_p4info_text(p4src.P4INFO)
            _CONFIG = load_device_config(p4src.BMV2_JSON)
        self.names = P4Names(_P4INFO)
        self.client = P4RTClient(params["grpc_addr"], int(params.get("device_id", 1)), timeout=10).connect()
        self.client.set_pipeline(_P4INFO, _CONFIG)
        self.layout: rules.Layout | None = None

    def tearDown(self) -> None:
        self.client.close()
        if ptf.config.get("log_dir"):
            self.dataplane.stop_pcap()
        BaseTest.tearDown(self)

    # --- control plane ---------------------------------------------------------------
    def write(self, typ: int, entries: list[Entry]) -> None:
        self.client.write([(typ, self.names.encode(e)) for e in entries])

    def install_layout(self, n: int, miss: str = "rss", lcore: int | None = None) -> rules.Layout:
        self.layout = rules.Layout(
            lcore_ports=LCORE_PORTS[:n], wire_ports=WIRE_PORTS, lb_mac=LB_MAC,
            miss=MissPolicy(miss, lcore), vips=(VIP, VIP6),
            l2=((CLIENT_MAC, CLIENT_PORT), (RS1_MAC, RS1_PORT), (RS2_MAC, RS2_PORT)))
        self.write(INSERT, rules.base_entries(self.layout))
        self.set_miss(miss, lcore)
        return self.layout

    def _layout(self) -> rules.Layout:
        assert self.layout is not None, "install_layout() first"
        return self.layout

    def set_miss(self, kind: str, lcore: int | None = None) -> None:
        layout = rules.Layout(lcore_ports=self._layout().lcore_ports, miss=MissPolicy(kind, lcore))
        self.write(MODIFY, [rules.miss_entry(layout)])

    def add_laddr(self, addr: str) -> list[Entry]:
        entries = rules.laddr_entries(self._layout(), addr)
        self.write(INSERT, entries)
        return entries

    def read_table(self, table: str) -> list[Entry]:
        ent = self.names.read_request_entity(table, counters=True)
        return [self.names.decode(te) for te in self.client.read_table_entries([ent])]

    def read_counter(self, name: str) -> dict[int, tuple[int, int]]:
        cid = [c.preamble.id for c in _P4INFO.counters if c.preamble.name.endswith("." + name)][0]
        return self.client.read_counter(cid)

    # --- packets ---------------------------------------------------------------------
    @staticmethod
    def reply(laddr: str, dport: int, proto: str = "tcp", sport: int = 8080):
        """A real server's reply to a local address, as it enters wire port RS1_PORT."""
        v6 = ":" in laddr
        kw = dict(eth_dst=LB_MAC, eth_src=RS1_MAC)
        if v6:
            kw.update(ipv6_src=RS1_IP6, ipv6_dst=laddr)
            if proto == "tcp":
                return tu.simple_tcpv6_packet(tcp_sport=sport, tcp_dport=dport, tcp_flags="SA", **kw)
            return tu.simple_udpv6_packet(udp_sport=sport, udp_dport=dport, **kw)
        kw.update(ip_src=RS1_IP, ip_dst=laddr)
        if proto == "tcp":
            return tu.simple_tcp_packet(tcp_sport=sport, tcp_dport=dport, tcp_flags="SA", **kw)
        return tu.simple_udp_packet(udp_sport=sport, udp_dport=dport, **kw)

    @staticmethod
    def to_vip(sport: int, vip: str = VIP, dport: int = 80, proto: str = "tcp"):
        kw = dict(eth_dst=LB_MAC, eth_src=CLIENT_MAC)
        if ":" in vip:
            kw.update(ipv6_src=CLIENT_IP6, ipv6_dst=vip)
            return (tu.simple_tcpv6_packet(tcp_sport=sport, tcp_dport=dport, **kw) if proto == "tcp"
                    else tu.simple_udpv6_packet(udp_sport=sport, udp_dport=dport, **kw))
        kw.update(ip_src=CLIENT_IP, ip_dst=vip)
        return (tu.simple_tcp_packet(tcp_sport=sport, tcp_dport=dport, **kw) if proto == "tcp"
                else tu.simple_udp_packet(udp_sport=sport, udp_dport=dport, **kw))

    def expect_only(self, pkt, port: int) -> None:
        tu.verify_packet(self, pkt, port)
        tu.verify_no_other_packets(self)

    def expect_any_lcore(self, pkt, n: int) -> int:
        """The packet comes out on exactly one lcore port (RSS decides which); returns it."""
        idx, _ = tu.verify_packet_any_port(self, pkt, list(LCORE_PORTS[:n]))
        return LCORE_PORTS[idx]
