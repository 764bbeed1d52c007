"""Mininet node classes of the lab: the P4 switch as a Mininet switch whose ports are the
P4 ports, and the commands that run inside hosts (workers, real servers, host set-up)."""
from __future__ import annotations

import sys
from pathlib import Path

from mininet.node import Switch

from topo.runstate import RunRecord
from topo.switch import SwitchProcess

PYTHON = sys.executable


class P4Switch(Switch):
    """The NIC: a switch process in the root namespace bound to `s1-ethN` as P4 port N."""

    def __init__(self, name: str, target: str = "softswitch", grpc_addr: str = "127.0.0.1:9559",
                 device_id: int = 1, log_path: str = "/tmp/fdirlab/switch.log",
                 pcap_dir: str | None = None, record: RunRecord | None = None, **params) -> None:
        params["inNamespace"] = False     # the switch process lives in the root namespace
        super().__init__(name, **params)
        self.process = SwitchProcess(target, {}, grpc_addr=grpc_addr, device_id=device_id,
                                     log_path=Path(log_path),
                                     pcap_dir=Path(pcap_dir) if pcap_dir else None,
                                     record=record)

    def start(self, controllers) -> None:  # no OpenFlow controllers here
        self.process.ports = {self.ports[i]: i.name for i in self.intfList() if i.name != "lo"}
        for intf in self.process.ports.values():
            # No IPv6 chatter from the root namespace's side of the links.
            self.cmd(f"sysctl -q -w net.ipv6.conf.{intf}.disable_ipv6=1")
        self.process.start()

    def stop(self, deleteIntfs: bool = True) -> None:
        self.process.stop()
        super().stop(deleteIntfs)


def prepare_host(host, ip6: str | None = None, prefix6: int = 64) -> None:
    """Host interface set-up: software checksums (a veth hands raw sockets frames with
    unfinished checksums otherwise) and the IPv6 address. No static neighbour entries: the
    NIC answers Neighbor Solicitations for the load balancer's IPv6 addresses (fdir.p4
    nd_responder), so an address added while the lab runs is reachable at once."""
    intf = host.defaultIntf().name
    host.cmd(f"ethtool -K {intf} tx off rx off >/dev/null 2>&1")
    if ip6:
        host.cmd(f"ip -6 addr add {ip6}/{prefix6} dev {intf} nodad")
    else:
        host.cmd(f"sysctl -q -w net.ipv6.conf.{intf}.disable_ipv6=1")
