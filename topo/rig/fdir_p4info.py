"""fdir.p4's P4Info made up from controller/p4names.py (for pure tests that must not depend on
the compiled build), and a switch's whole state as comparable rows, read by a fresh controller
session."""
from __future__ import annotations

from pathlib import Path

from p4.config.v1 import p4info_pb2

from controller.p4names import ACTIONS, COUNTERS, TABLES, P4Names
from controller.p4rt_client import P4RTClient
from controller.state import read_state

TABLE_ACTIONS = {
    "port_role": ["set_wire", "set_lcore"], "lb_addr_v4": ["lb_owned", "NoAction"],
    "lb_addr_v6": ["lb_owned", "NoAction"], "fdir_v4": ["steer", "NoAction"], "fdir_v6": ["steer", "NoAction"],
    "lb_miss_policy": ["rss", "steer", "drop_miss"], "reta": ["steer", "reta_miss"],
    "l2_fwd": ["forward", "l2_miss"], "arp_responder": ["arp_answer", "arp_not_ours"],
    "nd_responder": ["nd_answer", "nd_not_ours"]}
DIRECT = ("fdir_v4", "fdir_v6", "reta", "l2_fwd")


def synthetic_p4info() -> p4info_pb2.P4Info:
    """A P4Info with fdir.p4's tables, keys, actions and counters (ids made up like p4c's)."""
    info = p4info_pb2.P4Info()
    aid = {}
    for i, (name, params) in enumerate(ACTIONS.items()):
        a = info.actions.add()
        a.preamble.id = 0x01000000 + i + 1
        a.preamble.name = name if name == "NoAction" else f"FdirIngress.{name}"
        for j, (pname, width) in enumerate(params):
            p = a.params.add()
            p.id, p.name, p.bitwidth = j + 1, pname, width
        aid[name] = a.preamble.id
    for i, (short, fields) in enumerate(TABLES.items()):
        t = info.tables.add()
        t.preamble.id = 0x02000000 + i + 1
        t.preamble.name = f"FdirIngress.{short}"
        for j, (fname, kind, width) in enumerate(fields):
            mf = t.match_fields.add()
            mf.id, mf.name, mf.bitwidth = j + 1, f"x.{fname}", width
            mf.match_type = p4info_pb2.MatchField.EXACT if kind == "exact" else p4info_pb2.MatchField.TERNARY
        for a in TABLE_ACTIONS[short]:
            t.action_refs.add().id = aid[a]
        if short in DIRECT:
            dc = info.direct_counters.add()
            dc.preamble.id = 0x13000000 + i + 1
            dc.preamble.name = f"FdirIngress.{short}_counter"
            dc.direct_table_id = t.preamble.id
    for i, full in enumerate(COUNTERS.values()):
        c = info.counters.add()
        c.preamble.id = 0x12000000 + i + 1
        c.preamble.name = full
        c.size = 512
    return info


def snapshot(addr: str, p4info_path: Path, device_id: int = 1) -> list[tuple]:
    """Everything the switch holds, as comparable tuples (key, action, params, cookie),
    including the miss-policy default entry; read by a fresh controller session."""
    names = P4Names.from_file(p4info_path)
    with P4RTClient(addr, device_id, timeout=5).connect(require_primary=False) as c:
        st = read_state(c, names)
    rows = [(repr(e.key), e.action, e.params, e.cookie) for e in st.entries]
    if st.miss_default is not None:
        rows.append(("default", st.miss_default.action, st.miss_default.params, b""))
    return sorted(rows)
