"""A reply frame to a local address really lands on the lcore its filter names, and
`fdirctl show fdir` counts it on that entry (veth pairs, needs root)."""
from __future__ import annotations

import os
import select
import socket
import subprocess
import time

import pytest
from ctl_helpers import Fdirctl, SwitchProc

pytestmark = pytest.mark.root
LB_MAC = "02:fd:00:00:00:01"


class Veths:
    def __init__(self, n: int) -> None:
        tag = f"fc{os.getpid() % 100000}"
        self.pairs = [(f"{tag}s{i}", f"{tag}h{i}") for i in range(n)]
        try:
            for sw, host in self.pairs:
                subprocess.run(["ip", "link", "add", sw, "type", "veth", "peer", "name", host], check=True)
                for dev in (sw, host):
                    subprocess.run(["ip", "link", "set", dev, "up"], check=True)
                    subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"], check=False)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for sw, _ in self.pairs:
            subprocess.run(["ip", "link", "del", sw], check=False, capture_output=True)


def _frame(dst_ip: str, dport: int, proto: str) -> bytes:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    l4 = TCP(sport=8080, dport=dport) if proto == "tcp" else UDP(sport=5353, dport=dport)
    return bytes(Ether(dst=LB_MAC, src="02:fd:03:00:00:01") / IP(src="10.0.2.1", dst=dst_ip) / l4 / (b"x" * 10))


def _receive(socks: dict[int, socket.socket], payload: bytes, timeout: float = 3.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select(list(socks.values()), [], [], max(0.0, deadline - time.monotonic()))
        for s in r:
            data = s.recv(4096)
            if data[12:] == payload[12:]:
                return next(p for p, x in socks.items() if x is s)
    return None


@pytest.mark.parametrize("target", ["softswitch", "bmv2"])
def test_reply_lands_on_the_owning_lcore_and_is_counted(target, program, capsys, tmp_path):
    import shutil
    if target == "bmv2" and shutil.which("simple_switch_grpc") is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH")
    v = Veths(5)                              # ports 1..4: lcores 0..3, port 5: the wire (a server)
    sw = None
    socks: dict[int, socket.socket] = {}
    try:
        sw = SwitchProc(target, ifaces=[(i + 1, p[0]) for i, p in enumerate(v.pairs)], log_dir=tmp_path)
        ctl = Fdirctl(sw, program, capsys)
        assert ctl("init", "--lcores", "4", "--lcore-ports", "1,2,3,4", "--wire-ports", "5")[0] == 0
        assert ctl("laddr", "add", "10.0.0.200")[0] == 0
        for i, (_, host) in enumerate(v.pairs):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
            s.bind((host, 0))
            socks[i + 1] = s
        wire = socks.pop(5)
        time.sleep(0.5)
        for dport, proto, lcore in [(1026, "tcp", 2), (1027, "udp", 3), (2048, "tcp", 0)]:
            f = _frame("10.0.0.200", dport, proto)
            wire.send(f)
            assert _receive(socks, f) == lcore + 1, (dport, proto)
        code, res, _ = ctl("show", "fdir")
        hits = {(r["port_value"], r["proto"]): r["packets"] for r in res["entries"]}
        assert hits[(2, "tcp")] == 1 and hits[(3, "udp")] == 1 and hits[(0, "tcp")] == 1
        assert sum(hits.values()) == 3
    finally:
        for s in list(socks.values()):
            s.close()
        if sw is not None:
            sw.stop()
        v.close()
