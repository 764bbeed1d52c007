"""ss_replication.p4: multicast groups and clone sessions over P4Runtime (PacketReplicationEngineEntry),
I2E/E2E clones, resubmit and recirculate with preserved fields, truncate, priority -- in-process and
on targets alike. Expected values follow simple_switch.cpp (metadata reset then the field list).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import grpc
import pytest
from conftest import RIG_PARAMS, make_rig, program
from p4.v1 import p4runtime_pb2

from softswitch.errors import SoftswitchError

UNICAST, MCAST, CLONE_I, CLONE_E, RESUB, RECIRC, TRUNC, PRIO = range(1, 9)
PAYLOAD = bytes(range(40))
HDR = bytes.fromhex("0200000000aa" "0200000000bb" "88b6")


@dataclass
class Rep:
    op: int
    arg: int = 0
    ig_type: int = 0
    eg_type: int = 0
    passes: int = 0
    kept: int = 0
    rid: int = 0
    eport: int = 0
    in_port: int = 0
    plen: int = 0

    def pack(self) -> bytes:
        return struct.pack("!BBBBBBHHBBH", self.op, self.arg, self.ig_type, self.eg_type, self.passes,
                           self.kept, self.rid, self.eport, self.in_port, 0, self.plen)


FRAME_LEN = len(HDR) + 14 + len(PAYLOAD)


def frame(op: int, arg: int = 0) -> bytes:
    return HDR + Rep(op, arg).pack() + PAYLOAD


def out(op: int, arg: int, **kw: int) -> bytes:
    return HDR + Rep(op, arg, **kw).pack() + PAYLOAD


@pytest.fixture(scope="module")
def rep_program():
    return program("ss_replication")


@pytest.fixture(scope="module", params=RIG_PARAMS)
def rig(request):
    return make_rig(request, 3)


def pre_entity(kind: str, ident: int, replicas: list[tuple[int, int]]) -> p4runtime_pb2.Entity:
    e = p4runtime_pb2.Entity()
    if kind == "group":
        g = e.packet_replication_engine_entry.multicast_group_entry
        g.multicast_group_id = ident
    else:
        g = e.packet_replication_engine_entry.clone_session_entry
        g.session_id = ident
    for port, inst in replicas:
        g.replicas.add(egress_port=port, instance=inst)
    return e


def sorted_out(rig) -> dict[int, list[bytes]]:
    return {p: sorted(fs) for p, fs in rig.outputs().items()}


def test_unicast_reports_what_egress_saw(rig, rep_program):
    rig.load(rep_program)
    rig.send(1, frame(UNICAST, 3))
    assert rig.outputs() == {3: [out(UNICAST, 3, passes=1, eport=3, in_port=1, plen=FRAME_LEN)]}


def test_multicast_group_replicas_carry_egress_rid(rig, rep_program):
    c = rig.load(rep_program)
    c.write(("INSERT", pre_entity("group", 1, [(2, 10), (3, 20), (3, 21)])))
    rig.send(1, frame(MCAST, 1))
    want = {2: [out(MCAST, 1, eg_type=5, passes=1, rid=10, eport=2, in_port=1, plen=FRAME_LEN)],
            3: sorted([out(MCAST, 1, eg_type=5, passes=1, rid=r, eport=3, in_port=1, plen=FRAME_LEN)
                       for r in (20, 21)])}
    assert sorted_out(rig) == want
    rig.send(1, frame(MCAST, 9))                      # no such group: nothing leaves
    assert rig.nothing_out()
    ent = p4runtime_pb2.Entity()
    ent.packet_replication_engine_entry.multicast_group_entry.multicast_group_id = 1
    got = c.read(ent)
    reps = got[0].packet_replication_engine_entry.multicast_group_entry.replicas
    assert sorted((r.egress_port or int.from_bytes(r.port, "big"), r.instance) for r in reps) == \
        [(2, 10), (3, 20), (3, 21)]
    c.write(("MODIFY", pre_entity("group", 1, [(3, 7)])))
    rig.send(1, frame(MCAST, 1))
    assert rig.outputs() == {3: [out(MCAST, 1, eg_type=5, passes=1, rid=7, eport=3, in_port=1,
                                     plen=FRAME_LEN)]}
    c.write(("DELETE", pre_entity("group", 1, [])))
    rig.send(1, frame(MCAST, 1))
    assert rig.nothing_out()


def test_ingress_clone_is_the_received_packet_with_the_field_list(rig, rep_program):
    c = rig.load(rep_program)
    c.write(("INSERT", pre_entity("clone", 5, [(3, 0)])))
    rig.send(1, frame(CLONE_I, 5))
    want = {2: [out(CLONE_I, 5, passes=1, eport=2, kept=0x5A | 0x11, in_port=1, plen=FRAME_LEN)],
            3: [out(CLONE_I, 5, eg_type=1, passes=1, eport=3, kept=0x5A)]}
    assert sorted_out(rig) == want


def test_egress_clone_copies_the_egress_result(rig, rep_program):
    c = rig.load(rep_program)
    # a session id no other test uses: BMv2 keeps PRE state across pipeline pushes
    c.write(("INSERT", pre_entity("clone", 7, [(3, 0)])))
    rig.send(1, frame(CLONE_E, 7))
    want = {2: [out(CLONE_E, 7, passes=1, eport=2, in_port=1, plen=FRAME_LEN)],
            3: [out(CLONE_E, 7, eg_type=2, passes=2, eport=3, kept=0x33, in_port=1, plen=FRAME_LEN)]}
    assert sorted_out(rig) == want


def test_clone_to_a_missing_session_only_forwards(rig, rep_program):
    rig.load(rep_program)
    rig.send(1, frame(CLONE_I, 6))
    assert rig.outputs() == {2: [out(CLONE_I, 6, passes=1, eport=2, kept=0x5B, in_port=1, plen=FRAME_LEN)]}


def test_resubmit_and_recirculate_keep_the_field_list(rig, rep_program):
    rig.load(rep_program)
    rig.send(1, frame(RESUB))
    # second ingress pass: metadata reset (ingress_port too), then the field list
    assert rig.outputs() == {2: [out(RESUB, 0, ig_type=6, passes=1, eport=2, kept=0x77, in_port=0,
                                     plen=FRAME_LEN)]}
    rig.send(1, frame(RECIRC))
    assert rig.outputs() == {2: [out(RECIRC, 0, ig_type=4, passes=2, eport=2, kept=0x44, in_port=0,
                                     plen=FRAME_LEN)]}


def test_truncate_and_priority(rig, rep_program):
    rig.load(rep_program)
    rig.send(1, frame(TRUNC, 20))
    full = out(TRUNC, 20, passes=1, eport=2, in_port=1, plen=FRAME_LEN)
    assert rig.outputs() == {2: [full[:20]]}
    rig.send(1, frame(PRIO, 0))
    assert list(rig.outputs()) == [2]
    rig.send(1, frame(PRIO, 1))                       # one queue per port: priority 1 is dropped
    assert rig.nothing_out()


def test_pre_entry_errors(rig, rep_program):
    c = rig.load(rep_program)
    c.write(("INSERT", pre_entity("group", 2, [(1, 0)])))
    for kind, ent in (("INSERT", pre_entity("group", 2, [(1, 0)])),     # exists
                      ("MODIFY", pre_entity("group", 3, [(1, 0)])),     # missing
                      ("INSERT", pre_entity("group", 4, [(1, 0), (1, 0)])),   # duplicate replica
                      ("INSERT", pre_entity("clone", 0, [(1, 0)]))):    # id 0
        with pytest.raises((grpc.RpcError, SoftswitchError)):     # over gRPC, or in-process
            c.write((kind, ent))
