"""Frame I/O on real veths: 802.1Q/802.1ad tags reach the program and leave as they came (the kernel
strips a received tag into PACKET_AUXDATA; softswitch puts it back as libpcap does for BMv2), and
frames up to the interface's MTU pass whole. Same assertions on softswitch and BMv2.
"""
from __future__ import annotations

import struct
import subprocess

import pytest
from conftest import Rig
from ss_helpers import TARGETS, skip_if_absent

DST = 0x02000000AA01
SRC = bytes.fromhex("0200000000bb")

pytestmark = pytest.mark.root


@pytest.fixture(scope="module", params=TARGETS)
def rig(request) -> Rig:
    skip_if_absent(request.param)
    r = Rig(request.param, 3)
    request.addfinalizer(r.close)
    return r


def _eth(*tags: tuple[int, int], etype: int = 0x0800, payload: bytes = b"\x45" + bytes(45)) -> bytes:
    out = DST.to_bytes(6, "big") + SRC
    for tpid, tci in tags:
        out += struct.pack("!HH", tpid, tci)
    return out + struct.pack("!H", etype) + payload


@pytest.mark.parametrize("tags", [
    ((0x8100, 0x0064),),                       # one 802.1Q tag, VID 100
    ((0x8100, 0xE00A),),                       # priority 7, VID 10
    ((0x88A8, 0x0005), (0x8100, 0x0064)),      # QinQ: 802.1ad outer, 802.1Q inner
    ((0x8100, 0x0000),),                       # priority-tagged (VID 0)
])
def test_vlan_tags_kept(rig, features_program, tags):
    c = rig.load(features_program)
    c.insert("t_exact", {"hdr.eth.dst": DST}, "fwd", {"port": 2})
    frame = _eth(*tags)
    rig.send(1, frame)
    out = rig.outputs()
    assert out == {2: [frame]}


def test_jumbo_frame_passes_whole(rig, features_program):
    for name in (rig.veths.sw[1], rig.veths.host[1], rig.veths.sw[2], rig.veths.host[2]):
        subprocess.run(["ip", "link", "set", name, "mtu", "9000"], check=True)
    try:
        c = rig.load(features_program)
        c.insert("t_exact", {"hdr.eth.dst": DST}, "fwd", {"port": 2})
        frame = _eth(payload=bytes(range(256)) * 35)          # 8,974 bytes
        rig.send(1, frame)
        out = rig.outputs()
        assert out == {2: [frame]}
    finally:
        for name in (rig.veths.sw[1], rig.veths.host[1], rig.veths.sw[2], rig.veths.host[2]):
            subprocess.run(["ip", "link", "set", name, "mtu", "1500"], check=True)


def test_largest_frame_a_veth_carries(features_program):
    """MTU 65535: a 65,549-byte frame (more than a 64 KiB receive buffer) passes whole (softswitch)."""
    r = Rig("softswitch", 2)
    try:
        for name in (*r.veths.sw.values(), *r.veths.host.values()):
            subprocess.run(["ip", "link", "set", name, "mtu", "65535"], check=True)
        c = r.load(features_program)
        c.insert("t_exact", {"hdr.eth.dst": DST}, "fwd", {"port": 2})
        frame = _eth(payload=bytes(i & 0xFF for i in range(65549 - 14)))
        assert len(frame) == 65549
        r.send(1, frame)
        assert r.outputs() == {2: [frame]}
    finally:
        r.close()
