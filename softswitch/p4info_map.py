"""Binds a P4Info to a loaded Dataplane by name and converts P4Runtime entities to and from it.

All P4Runtime validation of table entries (widths, masks, priorities, action scopes) lives here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.rpc import code_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from .action_profiles import ActionProfile
from .counters import CounterArray, Meter, MeterArray, RegisterArray, ValueSet
from .errors import SoftswitchError
from .pipeline import Dataplane
from .tables import Entry, Table

MT = p4info_pb2.MatchField
_KIND = {MT.EXACT: "exact", MT.LPM: "lpm", MT.TERNARY: "ternary", MT.RANGE: "range",
         MT.OPTIONAL: "optional"}
_PROTO_KIND = {"exact": "exact", "lpm": "lpm", "ternary": "ternary", "range": "range",
               "optional": "optional"}


def bytes_to_int(data: bytes, width: int, what: str) -> int:
    """Decode a P4Runtime bytestring; any length is accepted as long as the value fits (like PI)."""
    if not data:
        raise SoftswitchError(f"{what}: empty bytestring")
    value = int.from_bytes(data, "big")
    if value >> width:
        raise SoftswitchError(f"{what}: bytestring provided does not fit within {width} bits")
    return value


def int_to_bytes(value: int, width: int | None = None) -> bytes:
    """Canonical P4Runtime bytestring: no leading zero bytes, at least one byte."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


@dataclass
class ActionInfo:
    p4_id: int
    name: str
    params: dict[int, tuple[int, int]]   # param id -> (position, bitwidth)
    param_ids: list[int]


@dataclass
class TableBinding:
    p4_id: int
    name: str
    table: Table
    fields: dict[int, tuple[int, str, int, str]]   # field id -> (position, kind, width, name)
    field_ids: list[int]
    to_json: dict[int, int]        # p4info action id -> JSON action id
    to_p4: dict[int, int]          # JSON action id -> p4info action id
    scopes: dict[int, int]         # p4info action id -> ActionRef scope
    const_default: bool
    direct_counter_id: int = 0
    direct_meter_id: int = 0


@dataclass
class CounterBinding:
    p4_id: int
    name: str
    array: CounterArray
    unit: int


@dataclass
class RegisterBinding:
    p4_id: int
    name: str
    array: RegisterArray


@dataclass
class ProfileBinding:
    p4_id: int
    name: str
    profile: ActionProfile
    table: TableBinding            # a table using it: its action id mapping serves the members
    max_group_size: int = 0


@dataclass
class MeterBinding:
    p4_id: int
    name: str
    array: MeterArray


@dataclass
class PacketMeta:
    """controller_packet_metadata of packet_in or packet_out: (id, name, bitwidth) in header order."""
    fields: list[tuple[int, str, int]] = field(default_factory=list)

    @property
    def nbits(self) -> int:
        return sum(w for _, _, w in self.fields)


class Binding:
    """Everything P4Runtime needs to address the dataplane by P4Info ids."""

    def __init__(self, p4info: p4info_pb2.P4Info, dp: Dataplane) -> None:
        self.p4info = p4info
        self.dp = dp
        self.actions: dict[int, ActionInfo] = {}
        for a in p4info.actions:
            params = {p.id: (i, p.bitwidth) for i, p in enumerate(a.params)}
            self.actions[a.preamble.id] = ActionInfo(a.preamble.id, a.preamble.name, params,
                                                     [p.id for p in a.params])
        self.tables: dict[int, TableBinding] = {}
        # Objects the P4Info names but the BMv2 JSON lacks (p4c optimises away e.g. a table no
        # control applies). BMv2/PI accept such a config; only writes to them fail.
        self.absent: dict[int, str] = {}
        for t in p4info.tables:
            table = dp.tables.get(t.preamble.name)
            if table is None:
                self.absent[t.preamble.id] = f"table {t.preamble.name}"
                continue
            if len(t.match_fields) != len(table.keys):
                raise SoftswitchError(f"table {t.preamble.name}: P4Info has {len(t.match_fields)} match "
                                      f"fields, the device config {len(table.keys)}")
            fields = {}
            for i, mf in enumerate(t.match_fields):
                kind = _KIND.get(mf.match_type)
                if kind is None:
                    raise SoftswitchError(f"table {t.preamble.name}: unsupported match type of {mf.name}",
                                          code_pb2.UNIMPLEMENTED)
                fields[mf.id] = (i, kind, mf.bitwidth, mf.name)
            json_ids = dict(zip(table.action_names, table.action_ids, strict=False))
            to_json, to_p4, scopes = {}, {}, {}
            for ref in t.action_refs:
                info = self.actions.get(ref.id)
                if info is None or info.name not in json_ids:
                    name = info.name if info else ref.id
                    raise SoftswitchError(f"table {t.preamble.name}: action {name} is not in the device config")
                to_json[ref.id] = json_ids[info.name]
                to_p4[json_ids[info.name]] = ref.id
                scopes[ref.id] = ref.scope
            if t.implementation_id and table.profile is None:
                raise SoftswitchError(f"table {t.preamble.name}: the P4Info gives it an action profile, "
                                      "the device config does not")
            self.tables[t.preamble.id] = TableBinding(t.preamble.id, t.preamble.name, table, fields,
                                                      [mf.id for mf in t.match_fields], to_json, to_p4,
                                                      scopes, t.const_default_action_id != 0 or
                                                      table.default_const)
        self.table_by_name = {tb.name: tb for tb in self.tables.values()}
        self.profiles: dict[int, ProfileBinding] = {}
        for ap in p4info.action_profiles:
            prof = dp.action_profiles.get(ap.preamble.name)
            if prof is None:
                self.absent[ap.preamble.id] = f"action profile {ap.preamble.name}"
                continue
            users = [self.tables[tid] for tid in ap.table_ids if tid in self.tables]
            if not users:
                raise SoftswitchError(f"action profile {ap.preamble.name}: no table of the device config uses it")
            if ap.size:
                prof.max_size = ap.size
            self.profiles[ap.preamble.id] = ProfileBinding(ap.preamble.id, ap.preamble.name, prof, users[0],
                                                           ap.max_group_size)
        self.counters: dict[int, CounterBinding] = {}
        for c in p4info.counters:
            arr = dp.counter_arrays.get(c.preamble.name)
            if arr is None:
                self.absent[c.preamble.id] = f"counter {c.preamble.name}"
                continue
            self.counters[c.preamble.id] = CounterBinding(c.preamble.id, c.preamble.name, arr, c.spec.unit)
        self.direct_counters: dict[int, TableBinding] = {}
        self.direct_units: dict[int, int] = {}
        for dc in p4info.direct_counters:
            tb = self.tables.get(dc.direct_table_id)
            if tb is None:
                if dc.direct_table_id in self.absent:
                    continue
                raise SoftswitchError(f"direct counter {dc.preamble.name}: unknown table")
            tb.direct_counter_id = dc.preamble.id
            self.direct_counters[dc.preamble.id] = tb
            self.direct_units[dc.preamble.id] = dc.spec.unit
        self.registers: dict[int, RegisterBinding] = {}
        for r in p4info.registers:
            reg = dp.register_arrays.get(r.preamble.name)
            if reg is None:
                self.absent[r.preamble.id] = f"register {r.preamble.name}"
                continue
            self.registers[r.preamble.id] = RegisterBinding(r.preamble.id, r.preamble.name, reg)
        self.meters: dict[int, MeterBinding] = {}
        for m in p4info.meters:
            marr = dp.meter_arrays.get(m.preamble.name)
            if marr is None:
                self.absent[m.preamble.id] = f"meter {m.preamble.name}"
                continue
            self.meters[m.preamble.id] = MeterBinding(m.preamble.id, m.preamble.name, marr)
        self.direct_meters: dict[int, TableBinding] = {}
        for dm in p4info.direct_meters:
            tb = self.tables.get(dm.direct_table_id)
            if tb is None:
                if dm.direct_table_id in self.absent:
                    continue
                raise SoftswitchError(f"direct meter {dm.preamble.name}: unknown table")
            tb.direct_meter_id = dm.preamble.id
            self.direct_meters[dm.preamble.id] = tb
        self.value_sets: dict[int, tuple[p4info_pb2.ValueSet, ValueSet]] = {}
        for vsi in p4info.value_sets:
            vs = dp.value_sets.get(vsi.preamble.name)
            if vs is None:
                self.absent[vsi.preamble.id] = f"value set {vsi.preamble.name}"
                continue
            vs.widths = [m.bitwidth for m in vsi.match]
            if vsi.size:
                vs.size = vsi.size
            self.value_sets[vsi.preamble.id] = (vsi, vs)
        # digest id -> (BMv2 learn list id, data is a struct); learn lists are named after the type
        self.digests: dict[int, tuple[int, bool]] = {}
        learn = {ll["name"]: ll["id"] for ll in dp.prog.raw.get("learn_lists", []) or []}
        for d in p4info.digests:
            lid = learn.get(d.preamble.name)
            if lid is None:
                short = d.preamble.name.rsplit(".", 1)[-1]
                lid = next((i for n, i in learn.items() if n.rsplit(".", 1)[-1] == short), None)
            if lid is None and len(learn) == 1 and len(p4info.digests) == 1:
                lid = next(iter(learn.values()))
            if lid is None:
                self.absent[d.preamble.id] = f"digest {d.preamble.name}"
                continue
            self.digests[d.preamble.id] = (lid, d.type_spec.HasField("struct"))
        self.packet_in = PacketMeta()
        self.packet_out = PacketMeta()
        for cpm in p4info.controller_packet_metadata:
            meta = PacketMeta([(m.id, m.name, m.bitwidth) for m in cpm.metadata])
            if cpm.preamble.name == "packet_in":
                self.packet_in = meta
            elif cpm.preamble.name == "packet_out":
                self.packet_out = meta

    # ----------------------------------------------------------- table entries
    def table(self, table_id: int) -> TableBinding:
        tb = self.tables.get(table_id)
        if tb is None:
            if table_id in self.absent:
                raise SoftswitchError(f"{self.absent[table_id]} is not in the device config (the compiler "
                                      "optimised it away)", code_pb2.NOT_FOUND)
            raise SoftswitchError(f"unknown table id {table_id}")
        return tb

    def parse_indirect(self, tb: TableBinding, ta: p4runtime_pb2.TableAction) -> tuple[str, Any]:
        """A table entry's action in an action profile table: ("member"|"group", id) or
        ("oneshot", [(json action id, params, weight)]) for an action_profile_action_set."""
        kind = ta.WhichOneof("type")
        prof = tb.table.profile
        if kind == "action":
            raise SoftswitchError(f"table {tb.name} has an action profile: give a member, a group or an "
                                  "action set, not an action")
        if kind == "action_profile_member_id":
            if ta.action_profile_member_id not in prof.members:
                raise SoftswitchError(f"table {tb.name}: member {ta.action_profile_member_id} does not exist",
                                      code_pb2.NOT_FOUND)
            return ("member", ta.action_profile_member_id)
        if kind == "action_profile_group_id":
            if not prof.with_selector:
                raise SoftswitchError(f"table {tb.name}: its action profile has no selector, so no groups")
            if ta.action_profile_group_id not in prof.groups:
                raise SoftswitchError(f"table {tb.name}: group {ta.action_profile_group_id} does not exist",
                                      code_pb2.NOT_FOUND)
            return ("group", ta.action_profile_group_id)
        if kind == "action_profile_action_set":
            if not prof.with_selector:
                raise SoftswitchError(f"table {tb.name}: one-shot action sets need an action selector")
            acts = []
            for apa in ta.action_profile_action_set.action_profile_actions:
                aid, params = self.parse_action(tb, p4runtime_pb2.TableAction(action=apa.action), default=False)
                acts.append((aid, params, apa.weight or 1))
            if not acts:
                raise SoftswitchError(f"table {tb.name}: empty action_profile_action_set")
            return ("oneshot", acts)
        raise SoftswitchError("'action' field must be set")

    def profile(self, profile_id: int) -> ProfileBinding:
        pb = self.profiles.get(profile_id)
        if pb is None:
            if profile_id in self.absent:
                raise SoftswitchError(f"{self.absent[profile_id]} is not in the device config", code_pb2.NOT_FOUND)
            raise SoftswitchError(f"unknown action profile id {profile_id}")
        return pb

    def parse_action(self, tb: TableBinding, ta: p4runtime_pb2.TableAction,
                     default: bool) -> tuple[int, list[int]]:
        kind = ta.WhichOneof("type")
        if kind is None:
            raise SoftswitchError("'action' field must be set")
        if kind != "action":
            raise SoftswitchError(f"table {tb.name} has no action profile: {kind} is not allowed")
        act = ta.action
        if act.action_id not in self.actions:
            raise SoftswitchError(f"unknown action id {act.action_id}")
        if act.action_id not in tb.to_json:
            raise SoftswitchError(f"invalid action for table {tb.name}")
        scope = tb.scopes[act.action_id]
        if default and scope == p4info_pb2.ActionRef.TABLE_ONLY:
            raise SoftswitchError("cannot use TABLE_ONLY action as default action", code_pb2.PERMISSION_DENIED)
        if not default and scope == p4info_pb2.ActionRef.DEFAULT_ONLY:
            raise SoftswitchError("cannot use DEFAULT_ONLY action in a table entry",
                                  code_pb2.PERMISSION_DENIED)
        info = self.actions[act.action_id]
        values = [0] * len(info.param_ids)
        seen = set()
        for p in act.params:
            spec = info.params.get(p.param_id)
            if spec is None:
                raise SoftswitchError(f"unknown parameter id {p.param_id} for action {info.name}")
            if p.param_id in seen:
                raise SoftswitchError(f"duplicate parameter id {p.param_id} for action {info.name}")
            seen.add(p.param_id)
            values[spec[0]] = bytes_to_int(p.value, spec[1], f"action {info.name} parameter {p.param_id}")
        if len(seen) != len(info.param_ids):
            raise SoftswitchError(f"action {info.name} expects {len(info.param_ids)} parameters, "
                                  f"got {len(seen)}")
        return tb.to_json[act.action_id], values

    def parse_match(self, tb: TableBinding, te: p4runtime_pb2.TableEntry) -> tuple[tuple[int, int], ...]:
        matches: list[tuple[int, int] | None] = [None] * len(tb.field_ids)
        for fm in te.match:
            spec = tb.fields.get(fm.field_id)
            if spec is None:
                raise SoftswitchError(f"table {tb.name}: unknown match field id {fm.field_id}")
            pos, kind, width, fname = spec
            if matches[pos] is not None:
                raise SoftswitchError(f"table {tb.name}: duplicate match field {fname}")
            which = fm.WhichOneof("field_match_type")
            if which != kind:
                raise SoftswitchError(f"table {tb.name}: field {fname} is {kind}, not {which}")
            full = (1 << width) - 1
            what = f"table {tb.name} field {fname}"
            if kind == "exact":
                matches[pos] = (bytes_to_int(fm.exact.value, width, what), full)
            elif kind == "optional":
                matches[pos] = (bytes_to_int(fm.optional.value, width, what), full)
            elif kind == "ternary":
                v = bytes_to_int(fm.ternary.value, width, what)
                m = bytes_to_int(fm.ternary.mask, width, what + " mask")
                if m == 0:
                    raise SoftswitchError(f"{what}: a ternary don't-care must be omitted, not sent with mask 0")
                if v & ~m:
                    raise SoftswitchError(f"{what}: value has bits set outside the mask")
                matches[pos] = (v, m)
            elif kind == "lpm":
                plen = fm.lpm.prefix_len
                v = bytes_to_int(fm.lpm.value, width, what)
                if plen < 0 or plen > width:
                    raise SoftswitchError(f"{what}: prefix length {plen} is outside 0..{width}")
                if plen == 0:
                    raise SoftswitchError(f"{what}: a /0 prefix must be omitted")
                m = full >> (width - plen) << (width - plen)
                if v & ~m:
                    raise SoftswitchError(f"{what}: value has bits set beyond the prefix length {plen}")
                matches[pos] = (v, m)
            elif kind == "range":
                lo = bytes_to_int(fm.range.low, width, what + " low")
                hi = bytes_to_int(fm.range.high, width, what + " high")
                if lo > hi:
                    raise SoftswitchError(f"{what}: range low {lo} is above high {hi}")
                if lo == 0 and hi == full:
                    raise SoftswitchError(f"{what}: a full range is a don't-care and must be omitted")
                matches[pos] = (lo, hi)
        out: list[tuple[int, int]] = []
        for pos, given in enumerate(matches):
            if given is None:
                fid = tb.field_ids[pos]
                _, kind, width, fname = tb.fields[fid]
                if kind == "exact":
                    raise SoftswitchError(f"table {tb.name}: exact match field {fname} is missing")
                given = (0, (1 << width) - 1) if kind == "range" else (0, 0)
            out.append(given)
        return tuple(out)

    def entry_from_proto(self, te: p4runtime_pb2.TableEntry, need_action: bool = True) -> tuple[TableBinding, Entry]:
        tb = self.table(te.table_id)
        matches = self.parse_match(tb, te)
        if tb.table.has_priority:
            if te.priority <= 0:
                raise SoftswitchError(f"table {tb.name}: entries of a ternary/range/optional table "
                                      "need a priority > 0")
        elif te.priority != 0:
            raise SoftswitchError(f"table {tb.name}: non-zero priority for a table without "
                                  "ternary/range/optional fields")
        if te.priority >= 1 << 31:
            raise SoftswitchError(f"table {tb.name}: priority {te.priority} is out of range")
        ref = None
        if te.HasField("action") and tb.table.profile is not None:
            action_id = -1
            params: list[int] = []
            ref = self.parse_indirect(tb, te.action)
        elif te.HasField("action"):
            action_id, params = self.parse_action(tb, te.action, default=False)
        elif need_action:
            raise SoftswitchError("'action' field must be set")
        else:
            action_id, params = -1, []
        entry = Entry(matches, te.priority, action_id, params, cookie=te.metadata)
        entry.ref = ref
        if te.idle_timeout_ns:
            if not tb.table.support_timeout:
                raise SoftswitchError(f"table {tb.name} does not support idle timeout "
                                      f"(idle_timeout_ns {te.idle_timeout_ns})")
            if te.idle_timeout_ns < 0:
                raise SoftswitchError(f"table {tb.name}: negative idle_timeout_ns")
            entry.idle_timeout_ns = te.idle_timeout_ns
        if te.HasField("meter_config"):
            if tb.table.direct_meter is None:
                raise SoftswitchError(f"table {tb.name} has no direct meter for meter_config")
            from .counters import Meter
            entry.meter = Meter()
            apply_meter_config(entry.meter, te.meter_config, f"table {tb.name} meter_config")
        return tb, entry

    def entry_to_proto(self, tb: TableBinding, e: Entry, with_counter: bool) -> p4runtime_pb2.TableEntry:
        te = p4runtime_pb2.TableEntry(table_id=tb.p4_id, priority=e.priority, metadata=e.cookie)
        for fid in tb.field_ids:
            pos, kind, width, _ = tb.fields[fid]
            a, b = e.matches[pos]
            full = (1 << width) - 1
            if kind == "exact":
                te.match.add(field_id=fid).exact.value = int_to_bytes(a)
            elif kind == "optional":
                if b:
                    te.match.add(field_id=fid).optional.value = int_to_bytes(a)
            elif kind == "ternary":
                if b:
                    fm = te.match.add(field_id=fid)
                    fm.ternary.value = int_to_bytes(a)
                    fm.ternary.mask = int_to_bytes(b)
            elif kind == "lpm":
                if b:
                    fm = te.match.add(field_id=fid)
                    fm.lpm.value = int_to_bytes(a)
                    fm.lpm.prefix_len = bin(b).count("1")
            elif kind == "range":
                if not (a == 0 and b == full):
                    fm = te.match.add(field_id=fid)
                    fm.range.low = int_to_bytes(a)
                    fm.range.high = int_to_bytes(b)
        if e.ref is not None:
            kind, ident = e.ref
            g = tb.table.profile.groups.get(ident) if kind == "group" else None
            if kind == "member":
                te.action.action_profile_member_id = ident
            elif g is not None and g.one_shot:
                for mid, weight in g.members:
                    m = tb.table.profile.members[mid]
                    apa = te.action.action_profile_action_set.action_profile_actions.add(weight=weight)
                    holder = p4runtime_pb2.TableAction()
                    self._action_to_proto(tb, m.action_id, m.params, holder)
                    apa.action.CopyFrom(holder.action)
            else:
                te.action.action_profile_group_id = ident
        else:
            self._action_to_proto(tb, e.action_id, e.params, te.action)
        if e.idle_timeout_ns:
            te.idle_timeout_ns = e.idle_timeout_ns
        if with_counter and e.counter is not None:
            te.counter_data.packet_count = e.counter[0]
            te.counter_data.byte_count = e.counter[1]
        return te

    def _action_to_proto(self, tb: TableBinding, json_action: int, params: list[int],
                         ta: p4runtime_pb2.TableAction) -> None:
        p4_id = tb.to_p4.get(json_action)
        if p4_id is None:
            # A default action the P4Info does not list (p4c's NoAction on some tables).
            p4_id = next((a.p4_id for a in self.actions.values()
                          if a.name == self.dp.prog.actions[json_action]["name"]), 0)
        ta.action.action_id = p4_id
        info = self.actions.get(p4_id)
        if info is not None:
            for pid, value in zip(info.param_ids, params, strict=False):
                ta.action.params.add(param_id=pid, value=int_to_bytes(value))

    def default_to_proto(self, tb: TableBinding, with_counter: bool) -> p4runtime_pb2.TableEntry:
        te = p4runtime_pb2.TableEntry(table_id=tb.p4_id, is_default_action=True)
        self._action_to_proto(tb, tb.table.default_action_id, tb.table.default_params, te.action)
        if with_counter and tb.table.with_counters:
            te.counter_data.SetInParent()
        return te

    # ------------------------------------------------------------- data plane
    def counter(self, counter_id: int) -> CounterBinding:
        cb = self.counters.get(counter_id)
        if cb is None:
            raise SoftswitchError(f"unknown counter id {counter_id}")
        return cb

    def register(self, register_id: int) -> RegisterBinding:
        rb = self.registers.get(register_id)
        if rb is None:
            raise SoftswitchError(f"unknown register id {register_id}")
        return rb

    def meter(self, meter_id: int) -> MeterBinding:
        mb = self.meters.get(meter_id)
        if mb is None:
            if meter_id in self.absent:
                raise SoftswitchError(f"{self.absent[meter_id]} is not in the device config", code_pb2.NOT_FOUND)
            raise SoftswitchError(f"unknown meter id {meter_id}")
        return mb

    def direct_meter_table(self, meter_or_table_id: int) -> TableBinding:
        tb = self.direct_meters.get(meter_or_table_id) or self.tables.get(meter_or_table_id)
        if tb is None or tb.table.direct_meter is None:
            raise SoftswitchError(f"table {meter_or_table_id} has no direct meter")
        return tb

    def direct_table(self, counter_or_table_id: int) -> TableBinding:
        tb = self.direct_counters.get(counter_or_table_id) or self.tables.get(counter_or_table_id)
        if tb is None or not tb.table.with_counters:
            raise SoftswitchError(f"table {counter_or_table_id} has no direct counter")
        return tb


def counter_data(cell: list[int], unit: int) -> p4runtime_pb2.CounterData:
    """CounterData as PI fills it: only the fields the counter's unit counts."""
    cd = p4runtime_pb2.CounterData()
    if unit in (p4info_pb2.CounterSpec.BYTES, p4info_pb2.CounterSpec.BOTH, p4info_pb2.CounterSpec.UNSPECIFIED):
        cd.byte_count = cell[1]
    if unit in (p4info_pb2.CounterSpec.PACKETS, p4info_pb2.CounterSpec.BOTH,
                p4info_pb2.CounterSpec.UNSPECIFIED):
        cd.packet_count = cell[0]
    return cd



def apply_meter_config(meter: Meter, cfg: p4runtime_pb2.MeterConfig, what: str) -> None:
    """MeterConfig (P4Runtime spec §9.4.2: rates per second, bursts) onto a meter; PI's checks."""
    if cfg.cir < 0 or cfg.pir < 0 or cfg.cburst < 0 or cfg.pburst < 0:
        raise SoftswitchError(f"{what}: negative rate or burst")
    if cfg.pir < cfg.cir:
        raise SoftswitchError(f"{what}: pir {cfg.pir} is below cir {cfg.cir}")
    meter.configure(cfg.cir, cfg.cburst, cfg.pir, cfg.pburst)


def meter_config(meter: Meter) -> p4runtime_pb2.MeterConfig | None:
    if meter.config is None:
        return None
    cir, cburst, pir, pburst = meter.config
    return p4runtime_pb2.MeterConfig(cir=cir, cburst=cburst, pir=pir, pburst=pburst)


def value_set_members(info: p4info_pb2.ValueSet, vs: ValueSet,
                      entry: p4runtime_pb2.ValueSetEntry) -> list[tuple[int, int]]:
    """ValueSetEntry members as (value, mask) over the packed key (P4Runtime spec §9.7)."""
    fields = {m.id: (i, m) for i, m in enumerate(info.match)}
    out = []
    for member in entry.members:
        value = mask = 0
        per: list[tuple[int, int] | None] = [None] * len(info.match)
        for fm in member.match:
            if fm.field_id not in fields:
                raise SoftswitchError(f"value set {info.preamble.name}: unknown match field id {fm.field_id}")
            pos, m = fields[fm.field_id]
            full = (1 << m.bitwidth) - 1
            what = f"value set {info.preamble.name} field {m.name}"
            kind = fm.WhichOneof("field_match_type")
            if kind == "exact":
                per[pos] = (bytes_to_int(fm.exact.value, m.bitwidth, what), full)
            elif kind == "ternary":
                v = bytes_to_int(fm.ternary.value, m.bitwidth, what)
                mk = bytes_to_int(fm.ternary.mask, m.bitwidth, what + " mask")
                per[pos] = (v & mk, mk)
            elif kind == "lpm":
                plen = fm.lpm.prefix_len
                mk = full >> (m.bitwidth - plen) << (m.bitwidth - plen) if plen else 0
                per[pos] = (bytes_to_int(fm.lpm.value, m.bitwidth, what) & mk, mk)
            else:
                raise SoftswitchError(f"{what}: match kind {kind} is not supported in a value set")
        for pos, m in enumerate(info.match):
            given = per[pos]
            v, mk = given if given is not None else (0, 0)
            value = (value << m.bitwidth) | v
            mask = (mask << m.bitwidth) | mk
        out.append((value, mask))
    if len(out) > vs.size:
        raise SoftswitchError(f"value set {info.preamble.name}: {len(out)} members, at most {vs.size}",
                              code_pb2.RESOURCE_EXHAUSTED)
    return out


def value_set_entry(info: p4info_pb2.ValueSet, vs: ValueSet) -> p4runtime_pb2.ValueSetEntry:
    e = p4runtime_pb2.ValueSetEntry(value_set_id=info.preamble.id)
    for value, mask in vs.members:
        mem = e.members.add()
        shift = sum(m.bitwidth for m in info.match)
        for m in info.match:
            shift -= m.bitwidth
            full = (1 << m.bitwidth) - 1
            v, mk = (value >> shift) & full, (mask >> shift) & full
            if mk == 0:
                continue
            fm = mem.match.add(field_id=m.id)
            if mk == full:
                fm.exact.value = int_to_bytes(v)
            else:
                fm.ternary.value = int_to_bytes(v)
                fm.ternary.mask = int_to_bytes(mk)
    return e
