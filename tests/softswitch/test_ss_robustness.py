"""Thousands of random and truncated frames leave softswitch running, and every one is counted.

fdir.p4 counts each received frame in port_rx and parser failures in drop_reasons[0].
"""
from __future__ import annotations

import random
import time

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from ss_helpers import HostPort, P4RTClient, Target, VethSet

pytestmark = pytest.mark.root


def _frames(rng: random.Random) -> list[bytes]:
    valid = [
        bytes(Ether(dst="02:00:00:00:00:aa") / IP(dst="10.0.0.100", options=b"\x01" * 8) / TCP() / b"p"),
        bytes(Ether() / IPv6(dst="2001:db8::1") / UDP() / b"p"),
        bytes(Ether() / ARP(pdst="10.0.0.1")),
        bytes(Ether() / IP(dst="10.0.0.100", frag=3) / UDP()),
    ]
    frames = []
    for f in valid:                                   # every truncation of each valid frame
        frames += [f[:n] for n in range(14, len(f))]
    for _ in range(2500):                             # random bytes, random lengths
        n = rng.randint(14, 200)
        head = rng.choice([b"", b"\x02\x00\x00\x00\x00\xaa" + bytes(6) + b"\x08\x00",
                           bytes(12) + b"\x86\xdd", bytes(12) + b"\x08\x06"])
        frames.append((head + rng.randbytes(n))[:max(n, 14)])
    for _ in range(300):                              # IPv4 with nonsense IHL / lengths
        ihl = rng.randint(0, 15)
        frames.append(bytes(12) + b"\x08\x00" + bytes([0x40 | ihl]) + rng.randbytes(rng.randint(0, 80)))
    return frames


def test_random_and_truncated_frames_are_counted(fdir_program):
    veths = VethSet(2)
    target = Target("softswitch", veths)
    host = HostPort(veths.host[1])
    try:
        c = P4RTClient(target.addr)
        c.set_pipeline(*fdir_program)
        c.insert("l2_fwd", {"hdr.ethernet.dst_addr": 0x0200000000BB}, "forward", {"port": 2})
        frames = _frames(random.Random(1234))
        for i in range(0, len(frames), 200):
            for f in frames[i:i + 200]:
                host.send(f)
            time.sleep(0.02)
        deadline = time.monotonic() + 30
        while c.counter("port_rx", 1)[0] < len(frames) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.alive()
        assert c.counter("port_rx", 1)[0] == len(frames)
        assert c.counter("drop_reasons", 0)[0] > 500          # parser errors were counted
        # ...and the switch still forwards.
        good = bytes(Ether(dst="02:00:00:00:00:bb") / IP() / UDP() / b"ok")
        out = HostPort(veths.host[2])
        host.send(good)
        assert good in out.recv_all(1.0)
        out.close()
        c.close()
    finally:
        host.close()
        target.stop()
        veths.close()


def _pcap_frames(path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"                      # little-endian pcap magic
    frames, off = [], 24
    while off < len(data):
        incl = int.from_bytes(data[off + 8:off + 12], "little")
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def test_pcap_per_port_and_direction(fdir_program, tmp_path):
    veths = VethSet(2)
    target = Target("softswitch", veths, extra=["--pcap", str(tmp_path)])
    host = HostPort(veths.host[1])
    try:
        c = P4RTClient(target.addr)
        c.set_pipeline(*fdir_program)
        c.insert("l2_fwd", {"hdr.ethernet.dst_addr": 0x0200000000BB}, "forward", {"port": 2})
        good = bytes(Ether(dst="02:00:00:00:00:bb") / IP() / UDP() / b"pcap")
        host.send(good)
        deadline = time.monotonic() + 10
        out_file = tmp_path / f"{veths.sw[2]}_out.pcap"
        while time.monotonic() < deadline and (not out_file.exists() or not _pcap_frames(out_file)):
            time.sleep(0.05)
        assert _pcap_frames(tmp_path / f"{veths.sw[1]}_in.pcap") == [good]
        assert _pcap_frames(out_file) == [good]
        assert _pcap_frames(tmp_path / f"{veths.sw[2]}_in.pcap") == []
        c.close()
    finally:
        host.close()
        target.stop()
        veths.close()
