"""STF control-plane commands as P4Runtime entities, for one program's P4Info. Pure.

Names are resolved the way backends/bmv2/bmv2stf.py resolves them against the BMv2 JSON: a
table or action by its full name, else by a unique suffix; a key field by its name, else
`NAME$`, `NAME.$valid$`, a suffix `.NAME`; `a$0.b` means `a[0].b`.

Values (P4Runtime spec §8.4: canonical byte strings, masked-off bits zero):
- exact: the number; a key field the STF line leaves out is 0 (as bmv2stf.py does);
- ternary: `0x****0101` is value 0x0101, mask 0x0000FFFF: each written hex (binary) digit is
  4 (1) mask bits, `*` digits 0 -- so a short constant masks only its low digits, as in
  bmv2stf.py's makeMask; a decimal number is an exact (all-ones) mask; left out: don't care;
- lpm: `V/LEN`, or `V` with a prefix of 4 bits per written hex digit (bmv2stf.py makeLpm;
  decimal: the whole field); left out or /0: don't care;
- range: a number is [V, V]; optional: the value; left out: don't care.

Priorities: BMv2's CLI ranks a smaller number first, so bmv2stf.py writes `10000 - p` for STF
priority p: a larger STF priority wins. P4Runtime ranks a larger number first (spec §9.1), the
same order as STF, and needs priority >= 1: P4Runtime priority = STF priority + 1. (Checked
against ternary2-bmv2.stf, whose entries overlap.) Tables with a ternary, range or optional
field need one; an `add` without it gets 1.

Multicast and clone sessions follow simple_switch_CLI: mc_node_create gets node handles 0, 1, 2,...
in order; a group's replicas are (port, rid) of every port of every node associated with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from stf.errors import StfMappingError
from stf.parser import (
    ActionCall,
    Add,
    McGroupCreate,
    McNodeAssociate,
    McNodeCreate,
    McNodeUpdate,
    MirroringAdd,
    MirroringAddMc,
    MirroringDelete,
    SetDefault,
)

MF = p4info_pb2.MatchField
INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE
_PRIORITY_KINDS = (MF.TERNARY, MF.RANGE, MF.OPTIONAL)


def canonical(value: int) -> bytes:
    """P4Runtime canonical byte string: big-endian, no leading zero bytes (0 -> b"\\x00")."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def parse_value(text: str) -> tuple[int, int | None, int]:
    """(value, mask or None when no digit is `*`, bits written) of an STF number.

    `0x1*` -> (0x10, 0xF0, 8); `0b1*0` -> (0b100, 0b101, 3); `42` -> (42, None, 0)."""
    low = text.lower()
    if low.startswith(("0x", "0b")):
        bits_per_digit = 4 if low[1] == "x" else 1
        digits = low[2:]
        top = "f" if bits_per_digit == 4 else "1"
        base = 16 if bits_per_digit == 4 else 2
        value = int(digits.replace("*", "0"), base)
        mask = int("".join("0" if d == "*" else top for d in digits), base)
        return value, (mask if "*" in digits else None), len(digits) * bits_per_digit
    if not text.isdigit():
        raise StfMappingError(f"{text!r} is not a number")
    return int(text), None, 0


def _fit(value: int, width: int, what: str) -> int:
    if width and value >> width:
        raise StfMappingError(f"{what}: value {value:#x} does not fit in {width} bits")
    return value


def _suffix_pick(name: str, candidates: dict[str, int], what: str) -> int:
    if name in candidates:
        return candidates[name]
    hits = {n: i for n, i in candidates.items() if n.endswith("." + name)} or {
        n: i for n, i in candidates.items() if n.endswith(name)
    }
    if len(set(hits.values())) == 1:
        return next(iter(hits.values()))
    if hits:
        raise StfMappingError(f"{what} {name!r} is ambiguous: {', '.join(sorted(hits))}")
    raise StfMappingError(f"no {what} {name!r} in the P4Info")


@dataclass
class Replication:
    """simple_switch_CLI's multicast state: nodes (rid, ports) and groups of node handles."""

    nodes: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    groups: dict[int, list[int]] = field(default_factory=dict)
    written: set[int] = field(default_factory=set)  # groups the target already has
    dirty: set[int] = field(default_factory=set)  # groups to (re)write before the next frame

    def replicas(self, group: int) -> list[tuple[int, int]]:
        return [
            (port, self.nodes[n][0])
            for n in self.groups.get(group, [])
            for port in self.nodes[n][1]
        ]


class P4RuntimeMap:
    """Resolves STF names against one P4Info and builds the P4Runtime entities."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        self.p4info = p4info
        self.tables = {t.preamble.name: t for t in p4info.tables}
        self.table_ids: dict[str, int] = {}
        for t in p4info.tables:
            self.table_ids[t.preamble.name] = t.preamble.id
            if t.preamble.alias:
                self.table_ids.setdefault(t.preamble.alias, t.preamble.id)
        self.tables_by_id = {t.preamble.id: t for t in p4info.tables}
        self.actions_by_id = {a.preamble.id: a for a in p4info.actions}
        self.mc = Replication()

    # --- names --------------------------------------------------------------------------
    def table(self, name: str) -> p4info_pb2.Table:
        return self.tables_by_id[_suffix_pick(name, self.table_ids, "table")]

    def action(self, table: p4info_pb2.Table, name: str) -> p4info_pb2.Action:
        cands: dict[str, int] = {}
        for ref in table.action_refs:
            a = self.actions_by_id.get(ref.id)
            if a is None:
                continue
            cands[a.preamble.name] = a.preamble.id
            if a.preamble.alias:
                cands.setdefault(a.preamble.alias, a.preamble.id)
        try:
            return self.actions_by_id[_suffix_pick(name, cands, "action")]
        except StfMappingError as exc:
            raise StfMappingError(f"table {table.preamble.name}: {exc}") from None

    @staticmethod
    def match_field(table: p4info_pb2.Table, name: str) -> p4info_pb2.MatchField:
        fields = {f.name: f for f in table.match_fields}
        if "$" in name and name not in fields:
            # bmv2stf.py: `a$0.b` -> `a[0].b` (the first `$N` only)
            head, _, tail = name.partition("$")
            digits = "".join(c for c in tail[:4] if c.isdigit())
            if digits and tail.startswith(digits):
                name = f"{head}[{digits}]{tail[len(digits) :]}"
        cands = [name, name + "$", name + ".$valid$"]
        if name.endswith(".valid"):
            cands.append(name[:-5] + "$valid$")
        for cand in cands:
            if cand in fields:
                return fields[cand]
        hits = [
            f
            for n, f in fields.items()
            if any(n.endswith("." + c) for c in cands)
            or (name == "valid" and n.endswith(".$valid$"))
        ]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise StfMappingError(
                f"table {table.preamble.name}: key field {name!r} is ambiguous: "
                f"{', '.join(f.name for f in hits)}"
            )
        raise StfMappingError(
            f"table {table.preamble.name}: no key field {name!r} "
            f"(fields: {', '.join(fields) or 'none'})"
        )

    def action_call(
        self, table: p4info_pb2.Table, call: ActionCall, into: p4runtime_pb2.Action
    ) -> None:
        action = self.action(table, call.name)
        into.action_id = action.preamble.id
        params = {p.name: p for p in action.params}
        given = dict(call.args)
        for name in given:
            if name not in params:
                raise StfMappingError(
                    f"action {action.preamble.name}: no parameter {name!r} "
                    f"(parameters: {', '.join(params) or 'none'})"
                )
        for p in action.params:
            if p.name not in given:
                raise StfMappingError(
                    f"action {action.preamble.name}: parameter {p.name!r} not given"
                )
            value, mask, _ = parse_value(given[p.name])
            if mask is not None:
                raise StfMappingError(
                    f"action {action.preamble.name}: parameter {p.name} "
                    f"= {given[p.name]!r} has don't-care digits"
                )
            out = into.params.add()
            out.param_id = p.id
            out.value = canonical(_fit(value, p.bitwidth, f"parameter {p.name}"))

    # --- table entries ------------------------------------------------------------------
    def table_entry(self, cmd: Add) -> p4runtime_pb2.TableEntry:
        table = self.table(cmd.table)
        entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
        given: dict[int, tuple[str, int | None]] = {}
        for m in cmd.matches:
            f = self.match_field(table, m.field)
            if f.id in given:
                raise StfMappingError(f"key field {f.name} given twice")
            given[f.id] = (m.value, m.prefix_len)
        for f in table.match_fields:
            if f.id in given:
                text, plen = given[f.id]
                self._match(f, text, plen, entry)
            elif f.match_type == MF.EXACT:
                fm = entry.match.add(field_id=f.id)  # bmv2stf.py: a left-out exact field is 0
                fm.exact.value = canonical(0)
        if any(f.match_type in _PRIORITY_KINDS for f in table.match_fields):
            entry.priority = (cmd.priority if cmd.priority is not None else 0) + 1
        self.action_call(table, cmd.action, entry.action.action)
        return entry

    def _match(
        self, f: p4info_pb2.MatchField, text: str, plen: int | None, entry: p4runtime_pb2.TableEntry
    ) -> None:
        width = f.bitwidth
        what = f"key field {f.name}"
        value, mask, written = parse_value(text)
        full = (1 << width) - 1
        kind = f.match_type
        if kind == MF.EXACT:
            if mask is not None or plen is not None:
                raise StfMappingError(f"{what} is exact, {text!r} is not a plain number")
            entry.match.add(field_id=f.id).exact.value = canonical(_fit(value, width, what))
        elif kind == MF.TERNARY:
            if plen is not None:
                raise StfMappingError(f"{what} is ternary, {text}/{plen} is a prefix")
            if mask is None:
                mask = ((1 << written) - 1) if written else full
            mask &= full
            _fit(value, width, what)
            if mask:
                fm = entry.match.add(field_id=f.id)
                fm.ternary.value = canonical(value & mask)
                fm.ternary.mask = canonical(mask)
        elif kind == MF.LPM:
            if plen is None:
                if mask is not None:
                    # `0x0a01****`: the prefix is the written digits before the first `*`
                    per = 4 if text.lower().startswith("0x") else 1
                    digits = text[2:]
                    plen = (len(digits) - digits.count("*")) * per
                else:
                    plen = written or width
            if plen > width:
                raise StfMappingError(
                    f"{what}: prefix /{plen} is longer than the field ({width} bits)"
                )
            _fit(value, width, what)
            if plen:
                pmask = full ^ ((1 << (width - plen)) - 1)
                fm = entry.match.add(field_id=f.id)
                fm.lpm.value = canonical(value & pmask)
                fm.lpm.prefix_len = plen
        elif kind == MF.RANGE:
            if mask is not None or plen is not None:
                raise StfMappingError(f"{what} is a range, {text!r} is not a plain number")
            fm = entry.match.add(field_id=f.id)
            fm.range.low = fm.range.high = canonical(_fit(value, width, what))
        elif kind == MF.OPTIONAL:
            if mask is not None or plen is not None:
                raise StfMappingError(f"{what} is optional, {text!r} is not a plain number")
            entry.match.add(field_id=f.id).optional.value = canonical(_fit(value, width, what))
        else:
            raise StfMappingError(f"{what}: match kind {MF.MatchType.Name(kind)} is not supported")

    def default_entry(self, cmd: SetDefault) -> p4runtime_pb2.TableEntry:
        table = self.table(cmd.table)
        entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id, is_default_action=True)
        self.action_call(table, cmd.action, entry.action.action)
        return entry

    # --- packet replication ---------------------------------------------------------------
    def replication(self, cmd: object) -> list[tuple[int, p4runtime_pb2.Entity]]:
        """Clone-session updates to write now; multicast commands only mark groups dirty
        (`pending_groups` writes them before the next frame, once their nodes are in)."""
        mc = self.mc
        if isinstance(cmd, McNodeCreate):
            mc.nodes.append((cmd.rid, cmd.ports))
        elif isinstance(cmd, McNodeUpdate):
            if not 0 <= cmd.node < len(mc.nodes):
                raise StfMappingError(f"mc_node_update: no node {cmd.node}")
            mc.nodes[cmd.node] = (mc.nodes[cmd.node][0], cmd.ports)
            mc.dirty.update(g for g, ns in mc.groups.items() if cmd.node in ns)
        elif isinstance(cmd, McGroupCreate):
            if cmd.group in mc.groups:
                raise StfMappingError(f"mc_mgrp_create: group {cmd.group} exists already")
            mc.groups[cmd.group] = []
            mc.dirty.add(cmd.group)
        elif isinstance(cmd, McNodeAssociate):
            if cmd.group not in mc.groups:
                raise StfMappingError(
                    f"mc_node_associate: no group {cmd.group} (mc_mgrp_create it first)"
                )
            if not 0 <= cmd.node < len(mc.nodes):
                raise StfMappingError(f"mc_node_associate: no node {cmd.node}")
            mc.groups[cmd.group].append(cmd.node)
            mc.dirty.add(cmd.group)
        elif isinstance(cmd, MirroringAdd):
            return [(INSERT, self._clone_session(cmd.session, [(cmd.port, 0)]))]
        elif isinstance(cmd, MirroringAddMc):
            # P4Runtime has no "clone to a group": the session gets the group's replicas.
            if cmd.group not in mc.groups:
                raise StfMappingError(f"mirroring_add_mc: no multicast group {cmd.group}")
            return [(INSERT, self._clone_session(cmd.session, mc.replicas(cmd.group)))]
        elif isinstance(cmd, MirroringDelete):
            return [(DELETE, self._clone_session(cmd.session, []))]
        return []

    @staticmethod
    def _clone_session(session: int, replicas: list[tuple[int, int]]) -> p4runtime_pb2.Entity:
        ent = p4runtime_pb2.Entity()
        cs = ent.packet_replication_engine_entry.clone_session_entry
        cs.session_id = session
        for port, instance in replicas:
            cs.replicas.add(egress_port=port, instance=instance)
        return ent

    def pending_groups(self) -> list[tuple[int, p4runtime_pb2.Entity]]:
        """INSERT (first time) or MODIFY of every group changed since the last call."""
        mc = self.mc
        out = []
        for g in sorted(mc.dirty):
            ent = p4runtime_pb2.Entity()
            mg = ent.packet_replication_engine_entry.multicast_group_entry
            mg.multicast_group_id = g
            for port, rid in mc.replicas(g):
                mg.replicas.add(egress_port=port, instance=rid)
            out.append((MODIFY if g in mc.written else INSERT, ent))
            mc.written.add(g)
        mc.dirty.clear()
        return out
