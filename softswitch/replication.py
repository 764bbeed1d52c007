"""The packet replication engine: multicast groups and clone (mirroring) sessions.

As simple_switch's PRE (bm_sim/simple_pre.cpp) sees them once PI has written P4Runtime's
PacketReplicationEngineEntry (P4Runtime spec §9.5): a group or session is a list of replicas
(egress port, instance); each copy carries its instance as standard_metadata.egress_rid.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2

from .errors import SoftswitchError

MAX_PORT = 511


@dataclass
class CloneSession:
    replicas: list[tuple[int, int]]          # (egress port, instance) in write order
    class_of_service: int = 0
    packet_length_bytes: int = 0             # 0: the whole packet, else truncate copies to this


@dataclass
class PRE:
    groups: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    clones: dict[int, CloneSession] = field(default_factory=dict)

    def replicas(self, mgid: int) -> list[tuple[int, int]]:
        return self.groups.get(mgid, [])


def _replicas(what: str, reps: list[p4runtime_pb2.Replica]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    seen = set()
    for r in reps:
        which = r.WhichOneof("port_kind") if hasattr(r, "WhichOneof") else None
        if which == "port":
            port = int.from_bytes(r.port, "big") if r.port else 0
        else:
            port = r.egress_port
        if port > MAX_PORT:
            raise SoftswitchError(f"{what}: egress port {port} is out of range 0..{MAX_PORT}")
        key = (port, r.instance)
        if key in seen:
            raise SoftswitchError(f"{what}: duplicate replica (port {port}, instance {r.instance})")
        seen.add(key)
        out.append(key)
    return out


def write(pre: PRE, utype: int, entry: p4runtime_pb2.PacketReplicationEngineEntry) -> None:
    """Apply one PacketReplicationEngineEntry update; raise SoftswitchError naming what is wrong."""
    U = p4runtime_pb2.Update
    kind = entry.WhichOneof("type")
    if kind == "multicast_group_entry":
        mg = entry.multicast_group_entry
        gid = mg.multicast_group_id
        if gid == 0:
            raise SoftswitchError("multicast group id 0 is invalid")
        what = f"multicast group {gid}"
        table: dict = pre.groups
        value: object = None if utype == U.DELETE else _replicas(what, list(mg.replicas))
    elif kind == "clone_session_entry":
        cs = entry.clone_session_entry
        gid = cs.session_id
        if gid == 0:
            raise SoftswitchError("clone session id 0 is invalid")
        what = f"clone session {gid}"
        table = pre.clones
        value = None if utype == U.DELETE else CloneSession(_replicas(what, list(cs.replicas)),
                                                            cs.class_of_service, cs.packet_length_bytes)
    else:
        raise SoftswitchError("packet replication engine entry has no type")
    if utype == U.INSERT:
        if gid in table:
            raise SoftswitchError(f"{what} already exists", code_pb2.ALREADY_EXISTS)
        table[gid] = value
    elif utype == U.MODIFY:
        if gid not in table:
            raise SoftswitchError(f"{what} does not exist", code_pb2.NOT_FOUND)
        table[gid] = value
    elif utype == U.DELETE:
        if gid not in table:
            raise SoftswitchError(f"{what} does not exist", code_pb2.NOT_FOUND)
        del table[gid]
    else:
        raise SoftswitchError(f"update type {utype} is not valid")


def read(pre: PRE, entry: p4runtime_pb2.PacketReplicationEngineEntry) -> list[p4runtime_pb2.Entity]:
    """Entities matching a read request (id 0: all of that kind)."""
    out = []
    kind = entry.WhichOneof("type")
    if kind == "multicast_group_entry":
        want = entry.multicast_group_entry.multicast_group_id
        for gid in sorted(pre.groups):
            if want and gid != want:
                continue
            e = p4runtime_pb2.Entity()
            m = e.packet_replication_engine_entry.multicast_group_entry
            m.multicast_group_id = gid
            for port, inst in pre.groups[gid]:
                m.replicas.add(egress_port=port, instance=inst)
            out.append(e)
        if want and not out:
            raise SoftswitchError(f"multicast group {want} does not exist", code_pb2.NOT_FOUND)
    elif kind == "clone_session_entry":
        want = entry.clone_session_entry.session_id
        for sid in sorted(pre.clones):
            if want and sid != want:
                continue
            cs = pre.clones[sid]
            e = p4runtime_pb2.Entity()
            c = e.packet_replication_engine_entry.clone_session_entry
            c.session_id = sid
            c.class_of_service = cs.class_of_service
            c.packet_length_bytes = cs.packet_length_bytes
            for port, inst in cs.replicas:
                c.replicas.add(egress_port=port, instance=inst)
            out.append(e)
        if want and not out:
            raise SoftswitchError(f"clone session {want} does not exist", code_pb2.NOT_FOUND)
    else:
        raise SoftswitchError("packet replication engine entry has no type")
    return out
