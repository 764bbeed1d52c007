"""ss_features.p4: lpm, range, ternary+optional, const entries, hashes, registers, arithmetic, exit,
setInvalid, checksum update, lookahead, egress drop, PacketIn/PacketOut -- in-process and on targets.
"""
from __future__ import annotations

import pytest
from ss_probe import DST, Probe, expected_hashes, frame, inet_csum, probe_of

DEFAULT_OUT = 2          # ingress sends every probe to port 2 unless told otherwise


def only(rig, port: int) -> bytes:
    out = rig.outputs()
    assert list(out) == [port], out
    assert len(out[port]) == 1
    return out[port][0]


def test_lpm_longest_prefix_and_direct_counter(features_rig, features_program):
    c = features_rig.load(features_program)
    c.insert("t_lpm", {"hdr.probe.b": (0x0A000000, 8)}, "fwd_lpm", {"port": 1})
    c.insert("t_lpm", {"hdr.probe.b": (0x0A010000, 16)}, "fwd_lpm", {"port": 3})
    features_rig.send(1, frame(Probe(op=1, b=0x0A010203)))
    only(features_rig, 3)
    features_rig.send(3, frame(Probe(op=1, b=0x0A020304)))
    only(features_rig, 1)
    features_rig.send(1, frame(Probe(op=1, b=0x0B000000)))     # miss: NoAction keeps port 2
    only(features_rig, DEFAULT_OUT)
    counts = sorted(pk for _, pk, _ in c.direct_counters("t_lpm"))
    assert counts == [1, 1]


def test_range_and_priority(features_rig, features_program):
    c = features_rig.load(features_program)
    c.insert("t_range", {"hdr.probe.a": (100, 200), "hdr.probe.flags": 1}, "fwd", {"port": 1}, priority=10)
    c.insert("t_range", {"hdr.probe.a": (150, 300), "hdr.probe.flags": 1}, "fwd", {"port": 3}, priority=20)
    for a, want in ((120, 1), (160, 3), (250, 3), (301, DEFAULT_OUT), (99, DEFAULT_OUT)):
        features_rig.send(1, frame(Probe(op=2, flags=1, a=a)))
        only(features_rig, want)
    features_rig.send(1, frame(Probe(op=2, flags=2, a=120)))    # exact field differs
    only(features_rig, DEFAULT_OUT)


def test_ternary_optional_priorities(features_rig, features_program):
    c = features_rig.load(features_program)
    c.insert("t_tern", {"hdr.probe.c": (0x00000002, 0x00000003)}, "fwd", {"port": 1}, priority=5)
    c.insert("t_tern", {"hdr.probe.c": (0x0A000000, 0xFF000000), "hdr.probe.flags": 7}, "fwd",
             {"port": 3}, priority=9)
    c.insert("t_tern", {"hdr.probe.c": (0x0A000000, 0xFF000000)}, "set_a", {"v": 0x1234}, priority=1)
    features_rig.send(1, frame(Probe(op=3, c=0x0A000002, flags=7)))   # all match: priority 9 wins
    only(features_rig, 3)
    features_rig.send(1, frame(Probe(op=3, c=0x0A000002, flags=6)))   # optional misses: prio 5
    only(features_rig, 1)
    features_rig.send(1, frame(Probe(op=3, c=0x0A000001, flags=6)))   # only the prio-1 entry
    assert probe_of(only(features_rig, DEFAULT_OUT)).a == 0x1234


def test_const_entries(features_rig, features_program):
    features_rig.load(features_program)
    features_rig.send(1, frame(Probe(op=4, flags=0x78)))
    assert probe_of(only(features_rig, DEFAULT_OUT)).a == 0x7878
    features_rig.send(1, frame(Probe(op=4, flags=0x79, a=5)))
    assert probe_of(only(features_rig, DEFAULT_OUT)).a == 5


@pytest.mark.parametrize("a,flags,b,c", [(0x1234, 0x0F, 0xDEADBEEF, 0x01020304), (0, 0, 0, 0),
                                          (0xFFFF, 0xFA, 0xFFFFFFFF, 0x80000001)])
def test_hash_algorithms_bit_exact(features_rig, features_program, a, flags, b, c):
    features_rig.load(features_program)
    p = Probe(op=5, a=a, flags=flags, b=b, c=c)
    features_rig.send(1, frame(p))
    got = probe_of(only(features_rig, DEFAULT_OUT))
    for name, want in expected_hashes(p).items():
        assert getattr(got, name) == want, name


def test_registers_read_then_write(features_rig, features_program):
    features_rig.load(features_program)
    features_rig.send(1, frame(Probe(op=6, flags=3, c=111)))
    assert probe_of(only(features_rig, DEFAULT_OUT)).reg_val == 0
    features_rig.send(1, frame(Probe(op=6, flags=3, c=222)))
    assert probe_of(only(features_rig, DEFAULT_OUT)).reg_val == 111
    features_rig.send(1, frame(Probe(op=6, flags=4, c=333)))            # another cell
    assert probe_of(only(features_rig, DEFAULT_OUT)).reg_val == 0


def test_arithmetic_wraps_and_if_else(features_rig, features_program):
    features_rig.load(features_program)
    features_rig.send(1, frame(Probe(op=7, a=0, b=0xFFFFFFF0, c=0x20)))
    got = probe_of(only(features_rig, DEFAULT_OUT))
    assert got.arith == 0x10
    assert got.a == 0xFFFF
    assert got.h_ident == (0xFFFFFFF0 << 4) & 0xFFFFFFFF
    assert got.h_crc32 == 0xFFFFFFF0 >> 3
    assert got.h_crc16 == 0x0000
    assert got.flags == 1
    features_rig.send(1, frame(Probe(op=7, b=1, c=2)))
    assert probe_of(only(features_rig, DEFAULT_OUT)).flags == 2


def test_exit_stops_the_control(features_rig, features_program):
    features_rig.load(features_program)
    features_rig.send(1, frame(Probe(op=8, a=7)))
    assert probe_of(only(features_rig, 3)).a == 7


def test_set_invalid_removes_header_and_payload_follows(features_rig, features_program):
    features_rig.load(features_program)
    features_rig.send(1, frame(Probe(op=10), payload=b"tail-bytes"))
    out = only(features_rig, DEFAULT_OUT)
    assert out[12:14] == b"\x88\xb5" and out[14:] == b"tail-bytes"


def test_checksum_update(features_rig, features_program):
    features_rig.load(features_program)
    p = Probe(op=11, a=0x4500, b=0x00730000, c=0x4000C0A8)
    features_rig.send(1, frame(p))
    got = probe_of(only(features_rig, DEFAULT_OUT))
    want = inet_csum(p.a.to_bytes(2, "big") + p.b.to_bytes(4, "big") + p.c.to_bytes(4, "big"))
    assert got.h_csum16 == want


def test_drops_in_ingress_and_egress_and_counter(features_rig, features_program):
    c = features_rig.load(features_program)
    features_rig.send(1, frame(Probe(op=12)))
    features_rig.send(1, frame(Probe(op=13)))
    assert features_rig.nothing_out()
    assert c.counter("op_counter", 12)[0] == 1
    assert c.counter("op_counter", 13)[0] == 1


def test_lookahead_peek_and_reject(features_rig, features_program):
    c = features_rig.load(features_program)
    features_rig.send(1, frame(Probe(op=0, flags=0x5A)))
    assert probe_of(only(features_rig, DEFAULT_OUT)).peek == 0x5A
    # First byte 0xee: the parser rejects before extracting the probe, so t_exact decides.
    c.insert("t_exact", {"hdr.eth.dst": int.from_bytes(DST, "big")}, "fwd", {"port": 3})
    features_rig.send(1, frame(Probe(op=0xEE)))
    only(features_rig, 3)


def test_repeated_frames_and_table_change(features_rig, features_program):
    """Identical frames give identical results and counts; a table change takes effect at once."""
    c = features_rig.load(features_program)
    f = frame(Probe(op=1, b=0x0A000001))
    for _ in range(3):
        features_rig.send(1, f)
        only(features_rig, DEFAULT_OUT)
    c.insert("t_lpm", {"hdr.probe.b": (0x0A000000, 8)}, "fwd_lpm", {"port": 3})
    features_rig.send(1, f)
    only(features_rig, 3)
    assert c.counter("op_counter", 1) == (4, 4 * len(f))
    assert [pk for _, pk, _ in c.direct_counters("t_lpm")] == [1]


def test_packet_out_and_packet_in(features_rig, features_program):
    c = features_rig.load(features_program)
    meta_out = next(m for m in c.p4info.controller_packet_metadata if m.preamble.name == "packet_out")
    port_id = next(f.id for f in meta_out.metadata if f.name == "egress_port")
    payload = frame(Probe(op=0), dst=b"\x02" * 6)
    features_rig.packet_out(payload, {port_id: b"\x03"})        # out of port 3, header stripped
    assert features_rig.outputs() == {3: [payload]}
    features_rig.send(1, frame(Probe(op=9, a=0x4242)))            # to the CPU port: a PacketIn
    ins = features_rig.packet_ins()
    assert len(ins) == 1
    meta_in = next(m for m in c.p4info.controller_packet_metadata if m.preamble.name == "packet_in")
    in_id = next(f.id for f in meta_in.metadata if f.name == "ingress_port")
    md = {m.metadata_id: int.from_bytes(m.value, "big") for m in ins[0].metadata}
    assert md[in_id] == 1
    assert probe_of(ins[0].payload).a == 0x4242
