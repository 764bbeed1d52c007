"""The NIC program's P4Info names in one place, and the translation between short-named
Entry objects and P4Runtime protobuf (ids, canonical byte strings) for one P4Info.

Key fields are resolved by position in the key, so a compiler naming `std.ingress_port`
or `standard_metadata.ingress_port` makes no difference; match kinds and widths are checked.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from controller.entries import EXACT, TERNARY, Entry, Match
from controller.errors import P4InfoMismatch

CONTROL = "FdirIngress"

# table short name -> key schema [(field, kind, bitwidth)], in key order (fdir.p4)
TABLES: dict[str, list[tuple[str, str, int]]] = {
    "port_role": [("port", EXACT, 9)],
    "lb_addr_v4": [("dst_addr", EXACT, 32)],
    "lb_addr_v6": [("dst_addr", EXACT, 128)],
    "fdir_v4": [("dst_addr", TERNARY, 32), ("l4_dport", TERNARY, 16), ("proto", EXACT, 8)],
    "fdir_v6": [("dst_addr", TERNARY, 128), ("l4_dport", TERNARY, 16), ("proto", EXACT, 8)],
    "lb_miss_policy": [],
    "reta": [("idx", EXACT, 7)],
    "l2_fwd": [("dst_mac", EXACT, 48)],
    "arp_responder": [("tpa", EXACT, 32)],
    "nd_responder": [("target", EXACT, 128)],
}
# action short name -> [(param, bitwidth)]
ACTIONS: dict[str, list[tuple[str, int]]] = {
    "set_wire": [], "set_lcore": [], "lb_owned": [], "NoAction": [],
    "steer": [("port", 9)], "rss": [], "drop_miss": [], "reta_miss": [],
    "forward": [("port", 9)], "l2_miss": [], "arp_answer": [("mac", 48)], "arp_not_ours": [],
    "nd_answer": [("mac", 48)], "nd_not_ours": [],
}
COUNTERS = {"port_rx": "FdirIngress.port_rx", "port_tx": "FdirEgress.port_tx",
            "drop_reasons": "FdirIngress.drop_reasons"}
# Indexes of the drop_reasons counter (the DROP_* constants of fdir.p4)
DROP_REASONS = {0: "parser_error", 1: "bad_checksum", 2: "miss_policy", 3: "reta_miss",
                4: "l2_miss", 5: "arp_not_ours", 6: "nd_not_ours", 7: "nd_invalid"}
RETA_SIZE = 128
MAX_PORT = 511            # port_t is bit<9>; 511 is BMv2's drop port
FDIR_TABLES = ("fdir_v4", "fdir_v6")


def canonical(value: int) -> bytes:
    """P4Runtime 1.4 canonical byte string: big-endian without leading zero bytes (0 -> b"\\0")."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def load_p4info(path: str | Path) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Merge(Path(path).read_text(), info, allow_unknown_field=True)
    return info


@dataclass
class _Table:
    short: str
    id: int
    fields: list[tuple[str, str, int]]
    field_ids: list[int]
    direct_counter: bool

    def __post_init__(self) -> None:
        self.id_of = dict(zip((f[0] for f in self.fields), self.field_ids, strict=True))


class P4Names:
    """Ids and encoders for one P4Info; raises P4InfoMismatch if the program differs."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        self.p4info = p4info
        self.tables: dict[str, _Table] = {}
        self.tables_by_id: dict[int, _Table] = {}
        self.actions: dict[str, int] = {}
        self.action_names: dict[int, str] = {}
        self.params: dict[str, list[tuple[str, int, int]]] = {}    # action -> [(name, id, width)]
        self.param_ids: dict[str, dict[str, int]] = {}
        self.counters: dict[str, int] = {}
        direct = {dc.direct_table_id for dc in p4info.direct_counters}
        by_name = {t.preamble.name: t for t in p4info.tables}
        for short, schema in TABLES.items():
            t = by_name.get(f"{CONTROL}.{short}") or next(
                (t for n, t in by_name.items() if n.split(".")[-1] == short), None)
            if t is None:
                raise P4InfoMismatch(f"P4Info has no table {CONTROL}.{short}: not the fdir.p4 program")
            if len(t.match_fields) != len(schema):
                raise P4InfoMismatch(f"P4Info table {t.preamble.name} has {len(t.match_fields)} key fields, "
                                     f"expected {len(schema)}")
            ids = []
            for mf, (_fname, kind, width) in zip(t.match_fields, schema, strict=True):
                got = p4info_pb2.MatchField.MatchType.Name(mf.match_type).lower()
                if got != kind or mf.bitwidth != width:
                    raise P4InfoMismatch(f"P4Info key {t.preamble.name}/{mf.name} is {got} bit<{mf.bitwidth}>, "
                                         f"expected {kind} bit<{width}>")
                ids.append(mf.id)
            tab = _Table(short, t.preamble.id, schema, ids, t.preamble.id in direct)
            self.tables[short] = tab
            self.tables_by_id[tab.id] = tab
        acts = {a.preamble.name: a for a in p4info.actions}
        for short, params in ACTIONS.items():
            a = acts.get(f"{CONTROL}.{short}") or acts.get(short) or next(
                (a for n, a in acts.items() if n.split(".")[-1] == short), None)
            if a is None:
                raise P4InfoMismatch(f"P4Info has no action {CONTROL}.{short}")
            got = {p.name: (p.id, p.bitwidth) for p in a.params}
            plist = []
            for pname, width in params:
                if pname not in got or got[pname][1] != width:
                    raise P4InfoMismatch(f"P4Info action {a.preamble.name} lacks param {pname} bit<{width}>")
                plist.append((pname, got[pname][0], width))
            self.actions[short] = a.preamble.id
            self.action_names[a.preamble.id] = short
            self.params[short] = plist
            self.param_ids[short] = {p[0]: p[1] for p in plist}
        cnt = {c.preamble.name: c.preamble.id for c in p4info.counters}
        for short, full in COUNTERS.items():
            if full not in cnt:
                raise P4InfoMismatch(f"P4Info has no counter {full}")
            self.counters[short] = cnt[full]

    @classmethod
    def from_file(cls, path: str | Path) -> P4Names:
        return cls(load_p4info(path))

    def schema(self, table: str) -> list[tuple[str, str, int]]:
        return self.tables[table].fields

    # --- Entry <-> protobuf ----------------------------------------------------------
    def encode(self, e: Entry, te: p4runtime_pb2.TableEntry | None = None) -> p4runtime_pb2.TableEntry:
        """The TableEntry for `e`; filled into `te` when given (a WriteRequest's own entry:
        building in place saves a copy, which costs as much as building with pure-Python protobuf)."""
        tab = self.tables[e.table]
        if te is None:
            te = p4runtime_pb2.TableEntry()
        te.table_id = tab.id
        if e.default:
            te.is_default_action = True
        else:
            ids = tab.id_of
            for m in e.match:
                fm = te.match.add()
                fm.field_id = ids[m.field]
                if m.mask is None:
                    fm.exact.value = canonical(m.value)
                else:
                    t = fm.ternary
                    t.value = canonical(m.value)
                    t.mask = canonical(m.mask)
            if e.priority:
                te.priority = e.priority
        act = te.action.action
        act.action_id = self.actions[e.action]
        if e.params:
            pids = self.param_ids[e.action]
            for k, v in e.params:
                p = act.params.add()
                p.param_id = pids[k]
                p.value = canonical(v)
        if e.cookie:
            te.metadata = e.cookie
        return te

    def decode(self, te: p4runtime_pb2.TableEntry) -> Entry:
        tab = self.tables_by_id.get(te.table_id)
        if tab is None:
            raise P4InfoMismatch(f"switch returned an entry of unknown table id {te.table_id}")
        names = dict(zip(tab.field_ids, tab.fields, strict=True))
        ms = []
        for fm in te.match:
            fname, kind, _ = names[fm.field_id]
            if fm.HasField("exact"):
                ms.append(Match(fname, int.from_bytes(fm.exact.value, "big")))
            elif fm.HasField("ternary"):
                mask = int.from_bytes(fm.ternary.mask, "big")
                if mask:
                    ms.append(Match(fname, int.from_bytes(fm.ternary.value, "big") & mask, mask))
        order = {f[0]: i for i, f in enumerate(tab.fields)}
        ms.sort(key=lambda m: order[m.field])
        action = "NoAction"
        params: tuple[tuple[str, int], ...] = ()
        if te.action.HasField("action"):
            a = te.action.action
            action = self.action_names.get(a.action_id, f"#{a.action_id}")
            pnames = {p[1]: p[0] for p in self.params.get(action, [])}
            params = tuple(sorted((pnames.get(p.param_id, f"#{p.param_id}"), int.from_bytes(p.value, "big"))
                                  for p in a.params))
        packets = byts = None
        if te.HasField("counter_data"):
            packets, byts = te.counter_data.packet_count, te.counter_data.byte_count
        return Entry(tab.short, tuple(ms), action, params, te.priority, bytes(te.metadata),
                     te.is_default_action, packets, byts)

    def read_request_entity(self, table: str, counters: bool = True) -> p4runtime_pb2.Entity:
        """A wildcard read of one table, asking for direct counters where it has them."""
        tab = self.tables[table]
        ent = p4runtime_pb2.Entity()
        ent.table_entry.table_id = tab.id
        if counters and tab.direct_counter:
            ent.table_entry.counter_data.SetInParent()
        return ent
