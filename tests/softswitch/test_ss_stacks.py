"""ss_stacks.p4: header stacks (next, last, lastIndex, push_front/pop_front, run-time index,
StackOutOfBounds, stack assignment) and header unions -- in-process and on targets alike.
"""
from __future__ import annotations

import struct

import pytest
from conftest import RIG_PARAMS, make_rig, program

ETH_DST = 0x02000000AA00
IPV4 = bytes.fromhex("45000020000100004011" "0000" "0a000001" "0a000002")   # ttl 0x40
PAYLOAD = b"payload!"


@pytest.fixture(scope="module")
def stacks_program():
    return program("ss_stacks")


@pytest.fixture(scope="module", params=RIG_PARAMS)
def rig(request):
    return make_rig(request, 3)


def eth(op: int, etype: int, dst: int = ETH_DST) -> bytes:
    return dst.to_bytes(6, "big") + bytes.fromhex("0200000000") + bytes([op]) + struct.pack("!H", etype)


def tag(vid: int, etype: int, pcp: int = 0) -> bytes:
    return struct.pack("!HH", (pcp << 13) | vid, etype)


def frame(op: int, vids: list[int], l3: bytes = IPV4, outer: int = 0x8100) -> bytes:
    """Ethernet, then one tag per vid (the last one announcing IPv4), then l3 and a payload."""
    if not vids:
        return eth(op, 0x0800 if l3 == IPV4 else 0x86DD) + l3 + PAYLOAD
    out = eth(op, outer)
    for i, vid in enumerate(vids):
        out += tag(vid, 0x8100 if i + 1 < len(vids) else 0x0800)
    return out + l3 + PAYLOAD


def marks(depth: int, last: int, ip: bool, three: bool) -> int:
    """The destination MAC ingress writes: [31:24] vlan[2] valid, [23:16] union valid, depth, last."""
    return (ETH_DST & ~0xFFFFFFFF) | (3 << 24 if three else 0) | (1 << 16 if ip else 0) | (depth << 8) | last


def ipv4_ttl_minus_one() -> bytes:
    b = bytearray(IPV4)
    b[8] -= 1
    return bytes(b)


def only(rig, port: int) -> bytes:
    out = rig.outputs()
    assert list(out) == [port], out
    assert len(out[port]) == 1
    return out[port][0]


def test_untagged_and_two_tags_parse(rig, stacks_program):
    rig.load(stacks_program)
    rig.send(1, frame(0, []))
    assert only(rig, 2) == eth(0, 0x0800, marks(0, 0, True, False)) + ipv4_ttl_minus_one() + PAYLOAD
    rig.send(1, frame(0, [5, 100], outer=0x88A8))
    want = eth(0, 0x88A8, marks(2, 1, True, False)) + tag(5, 0x8100) + tag(100, 0x0800)
    assert only(rig, 2) == want + ipv4_ttl_minus_one() + PAYLOAD
    rig.send(1, frame(0, [1, 2, 3]))
    want = eth(0, 0x8100, marks(3, 2, True, True)) + tag(1, 0x8100) + tag(2, 0x8100) + tag(3, 0x0800)
    assert only(rig, 2) == want + ipv4_ttl_minus_one() + PAYLOAD


def test_stack_out_of_bounds_is_a_parser_error(rig, stacks_program):
    rig.load(stacks_program)
    f = frame(0, [1, 2, 3, 4])
    rig.send(1, f)
    assert only(rig, 3) == f            # error path: out port 3, the bytes as they came


def test_push_front_and_pop_front(rig, stacks_program):
    c = rig.load(stacks_program)
    c.insert("t_vlan", {"op": 0x11}, "push_tag", {"vid": 0x123})
    c.insert("t_vlan", {"op": 0x12}, "pop_tag")
    rig.send(1, frame(0x11, [100]))
    want = eth(0x11, 0x8100, marks(1, 0, True, False)) + tag(0x123, 0x8100) + tag(100, 0x0800)
    assert only(rig, 2) == want + ipv4_ttl_minus_one() + PAYLOAD
    rig.send(1, frame(0x11, [7, 8, 9]))     # full stack: the last tag falls off
    want = eth(0x11, 0x8100, marks(3, 2, True, True)) + tag(0x123, 0x8100) + tag(7, 0x8100) + tag(8, 0x8100)
    assert only(rig, 2) == want + ipv4_ttl_minus_one() + PAYLOAD
    rig.send(1, frame(0x12, [5, 100]))
    want = eth(0x12, 0x8100, marks(2, 1, True, False)) + tag(100, 0x0800)
    assert only(rig, 2) == want + ipv4_ttl_minus_one() + PAYLOAD


def test_runtime_index_and_stack_copy(rig, stacks_program):
    c = rig.load(stacks_program)
    c.insert("t_vlan", {"op": 0x13}, "set_vid_at", {"idx": 1, "vid": 0x777})
    c.insert("t_vlan", {"op": 0x15}, "copy_stack")
    rig.send(1, frame(0x13, [5, 100]))
    want = eth(0x13, 0x8100, marks(2, 1, True, False)) + tag(5, 0x8100) + tag(0x777, 0x0800)
    assert only(rig, 2) == want + ipv4_ttl_minus_one() + PAYLOAD
    rig.send(1, frame(0x15, [5, 100]))
    want = eth(0x15, 0x8100, marks(2, 1, True, False)) + tag(1, 0x8100) + tag(100, 0x0800)
    assert only(rig, 2) == want + ipv4_ttl_minus_one() + PAYLOAD


def test_header_union_members(rig, stacks_program):
    c = rig.load(stacks_program)
    c.insert("t_vlan", {"op": 0x14}, "to_v6")
    rig.send(1, frame(0x14, []))            # v4 extracted; to_v6 makes v6 valid and v4 invalid
    v6 = struct.pack("!IHBB", 0x60000000, 0, 59, 0x40 - 1) + (0x0A000001).to_bytes(16, "big") \
        + (0x0A000002).to_bytes(16, "big")
    assert only(rig, 2) == eth(0x14, 0x86DD, marks(0, 0, True, False)) + v6 + PAYLOAD
    ipv6 = struct.pack("!IHBB", 0x60000000, 8, 17, 9) + bytes(15) + b"\x01" + bytes(15) + b"\x02"
    rig.send(1, frame(0, [], l3=ipv6))
    want = bytearray(ipv6)
    want[7] = 8
    assert only(rig, 2) == eth(0, 0x86DD, marks(0, 0, True, False)) + bytes(want) + PAYLOAD
    rig.send(1, eth(0, 0x9000) + PAYLOAD)   # neither member: the union is invalid
    assert only(rig, 2) == eth(0, 0x9000, marks(0, 0, False, False)) + PAYLOAD
