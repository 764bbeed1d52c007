"""Loads p4c's BMv2 JSON into typed objects and lays out the packet state (one slot per field).

Everything the code generator and the P4Runtime layer need to know about the program comes from here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import SoftswitchError, unimplemented

# BMv2 core parser errors, used when the JSON does not list them.
CORE_ERRORS = ["NoError", "PacketTooShort", "NoMatch", "StackOutOfBounds", "HeaderTooShort",
               "ParserTimeout", "ParserInvalidArgument"]


@dataclass
class FieldInfo:
    header: str
    name: str
    width: int            # bits; 0 for a varbit field (its width lives in the header's vl slot)
    signed: bool
    slot: int
    varbit_max: int = 0   # max bits of a varbit field


@dataclass
class HeaderInfo:
    name: str
    type_name: str
    metadata: bool
    fields: list[FieldInfo]
    valid_slot: int
    vl_slot: int | None          # slot holding the varbit field's current width, if any
    fixed_bits: int              # bits of all fixed-width fields
    max_bytes: int               # bytes when the varbit field is at its maximum
    base: int = 0                # slot of the first field: field k is base + k, validity base + len(fields)
    union: tuple[str, int] | None = None   # (union name, member index) when part of a header union

    @property
    def fixed_bytes(self) -> int:
        return self.fixed_bits // 8


@dataclass
class UnionInfo:
    """A header union: its member headers, of which at most one is valid (bm_sim/header_unions.h)."""
    name: str
    members: list[HeaderInfo]
    member_names: list[str]


@dataclass
class StackInfo:
    """A header stack or header union stack: its elements and the slot of its `next` index.

    Each element is a list of headers: one for a header stack, the union's members for a union stack.
    """
    name: str
    elements: list[list[HeaderInfo]]
    member_names: list[str]        # union member names of a union stack; [""] for a header stack
    next_slot: int
    is_union: bool = False

    @property
    def size(self) -> int:
        return len(self.elements)


@dataclass
class Program:
    raw: dict[str, Any]
    headers: dict[str, HeaderInfo]
    fields: dict[tuple[str, str], FieldInfo]
    nslots: int
    errors: dict[str, int]
    actions: dict[int, dict[str, Any]]
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)       # by name, all pipelines
    table_pipeline: dict[str, str] = field(default_factory=dict)
    calculations: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, dict[str, Any]] = field(default_factory=dict)
    registers: dict[str, dict[str, Any]] = field(default_factory=dict)
    meters: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_slots: dict[str, int] = field(default_factory=dict)
    stacks: dict[str, StackInfo] = field(default_factory=dict)
    action_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    unions: dict[str, UnionInfo] = field(default_factory=dict)

    def field_ref(self, ref: list[str]) -> FieldInfo | None:
        return self.fields.get((ref[0], ref[1]))

    def std(self, name: str) -> FieldInfo | None:
        """A standard_metadata field (honouring field_aliases), or None when the program lacks it."""
        return self.fields.get(("standard_metadata", name))


SUPPORTED_VERSION_MAJOR = 2


def load(text: str | bytes) -> Program:
    """Parse and lay out a BMv2 JSON; raise SoftswitchError naming anything unsupported."""
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SoftswitchError(f"device config is not valid BMv2 JSON: {exc}") from None
    if not isinstance(raw, dict) or "header_types" not in raw or "headers" not in raw:
        raise SoftswitchError("device config is not a BMv2 JSON (no header_types/headers)")
    meta = raw.get("__meta__", {})
    version = meta.get("version", [2, 0])
    if version and version[0] != SUPPORTED_VERSION_MAJOR:
        raise unimplemented(f"BMv2 JSON version {version}")
    for ext in raw.get("extern_instances", []) or []:
        raise unimplemented(f"extern instance {ext.get('name')} of type {ext.get('type')}")

    types = {t["name"]: t for t in raw["header_types"]}
    headers: dict[str, HeaderInfo] = {}
    fields: dict[tuple[str, str], FieldInfo] = {}
    slot = 0
    for h in raw["headers"]:
        htype = types.get(h["header_type"])
        if htype is None:
            raise SoftswitchError(f"header {h['name']} has unknown type {h['header_type']}")
        finfos = []
        base = slot
        fixed = 0
        varbit_max = 0
        has_vl = False
        for f in htype["fields"]:
            fname, width = f[0], f[1]
            signed = bool(f[2]) if len(f) > 2 else False
            if fname == "$valid$":
                continue  # older p4c lists the hidden validity bit; we keep validity in its own slot
            if width == "*":
                has_vl = True
                max_len = htype.get("max_length")
                if max_len is None:
                    raise SoftswitchError(f"varbit header type {htype['name']} has no max_length")
                vmax = max_len * 8 - sum(x[1] for x in htype["fields"] if x[1] != "*" and x[0] != "$valid$")
                varbit_max = vmax
                info = FieldInfo(h["name"], fname, 0, False, slot, varbit_max=vmax)
            else:
                info = FieldInfo(h["name"], fname, int(width), signed, slot)
                fixed += int(width)
            finfos.append(info)
            fields[(h["name"], fname)] = info
            slot += 1
        valid_slot = slot
        slot += 1
        vl_slot = None
        if has_vl:
            vl_slot = slot
            slot += 1
        if not h.get("metadata") and (fixed + varbit_max) % 8:
            raise SoftswitchError(f"header {h['name']} is not a whole number of bytes")
        hinfo = HeaderInfo(h["name"], htype["name"], bool(h.get("metadata")), finfos, valid_slot,
                           vl_slot, fixed, (fixed + varbit_max + 7) // 8, base)
        headers[h["name"]] = hinfo
        fields[(h["name"], "$valid$")] = FieldInfo(h["name"], "$valid$", 1, False, valid_slot)

    # field_aliases map names simple_switch expects to the program's own fields.
    for alias, target in raw.get("field_aliases", []) or []:
        hdr, _, fname = alias.partition(".")
        tgt = fields.get((target[0], target[1]))
        if tgt is not None:
            fields.setdefault((hdr, fname), tgt)

    by_id = {h["id"]: headers[h["name"]] for h in raw["headers"]}
    utypes = {t["name"]: [m[0] for m in t.get("headers", [])] for t in raw.get("header_union_types", []) or []}
    unions_by_id: dict[int, UnionInfo] = {}
    unions: dict[str, UnionInfo] = {}
    for u in raw.get("header_unions", []) or []:
        members = [by_id[i] for i in u["header_ids"]]
        names = utypes.get(u.get("union_type", ""), [])
        if len(names) != len(members):
            names = [m.name.rsplit(".", 1)[-1] for m in members]
        uinfo = UnionInfo(u["name"], members, names)
        for i, member in enumerate(members):
            member.union = (u["name"], i)
        unions[u["name"]] = uinfo
        unions_by_id[u["id"]] = uinfo
    stacks: dict[str, StackInfo] = {}
    for st in raw.get("header_stacks", []) or []:
        elems = [[by_id[i]] for i in st["header_ids"]]
        stacks[st["name"]] = StackInfo(st["name"], elems, [""], slot)
        slot += 1
    for st in raw.get("header_union_stacks", []) or []:
        ulist = [unions_by_id[i] for i in st["header_union_ids"]]
        names = ulist[0].member_names if ulist else []
        stacks[st["name"]] = StackInfo(st["name"], [u.members for u in ulist], names, slot, True)
        slot += 1

    errors = {name: val for name, val in raw.get("errors", []) or []}
    next_err = max(errors.values(), default=-1) + 1
    for core in CORE_ERRORS:
        if core not in errors:
            errors[core] = next_err
            next_err += 1

    actions = {a["id"]: a for a in raw.get("actions", [])}
    prog = Program(raw=raw, headers=headers, fields=fields, nslots=slot, errors=errors, actions=actions,
                   stacks=stacks, unions=unions)
    for p in raw.get("pipelines", []):
        for t in p.get("tables", []):
            prog.tables[t["name"]] = t
            prog.table_pipeline[t["name"]] = p["name"]
        for ap in p.get("action_profiles", []) or []:
            prog.action_profiles[ap["name"]] = ap
    prog.calculations = {c["name"]: c for c in raw.get("calculations", []) or []}
    prog.counters = {c["name"]: c for c in raw.get("counter_arrays", []) or []}
    prog.registers = {r["name"]: r for r in raw.get("register_arrays", []) or []}
    prog.meters = {m["name"]: m for m in raw.get("meter_arrays", []) or []}
    # Hidden per-packet slots used by generated code (not part of the P4 program).
    # $special: set by clone/resubmit/recirculate/digest/truncate, so the common path tests one slot.
    for extra in ("$plen", "$trace", "$payload", "$exit", "$special", "$clone", "$clone_fl",
                  "$resubmit", "$recirc", "$digest", "$trunc"):
        prog.extra_slots[extra] = prog.nslots
        prog.nslots += 1
    return prog


def hexstr(value: str) -> int:
    """A BMv2 hexstr ('0x0a', '-0x1') as an int."""
    value = value.strip()
    if value.startswith("-"):
        return -int(value[1:], 16)
    return int(value, 16)
