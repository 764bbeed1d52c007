"""Generates Python source for a program: expressions, actions, controls (tables, conditionals).

Done once per SetForwardingPipelineConfig so that no JSON tree is walked per packet; the parser,
deparser and calculations come from the codegen_parser and codegen_calc mixins.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .codegen_calc import CalcGen
from .codegen_headers import HeaderGen
from .codegen_parser import ParserGen
from .codewriter import Writer as _Writer
from .errors import SoftswitchError, unimplemented
from .json_model import FieldInfo, HeaderInfo, Program, hexstr

log = logging.getLogger("softswitch.codegen")

DROP_PORT = 511  # simple_switch's default drop port for a 9-bit egress_spec


class ParserError(Exception):
    """Raised by generated parser code; carries the error code and the bytes parsed so far."""

    def __init__(self, code: int, off: int) -> None:
        super().__init__(code)
        self.code = code
        self.off = off


class ExitPipeline(Exception):
    """Raised by the `exit` primitive: ends the current control."""


def _tcm(value: int, width: int) -> int:
    """two_comp_mod: the signed value of `value` in `width` bits."""
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) else value


def _sat(value: int, width: int) -> int:
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return lo if value < lo else hi if value > hi else value


def _usat(value: int, width: int) -> int:
    hi = (1 << width) - 1
    return 0 if value < 0 else hi if value > hi else value


def _lookahead(pkt: bytes, n: int, off: int, bit_off: int, width: int, too_short: int) -> int:
    start_bit = off * 8 + bit_off
    end_bit = start_bit + width
    if end_bit > n * 8:
        raise ParserError(too_short, off)
    first, last = start_bit // 8, (end_bit + 7) // 8
    chunk = int.from_bytes(pkt[first:last], "big")
    return (chunk >> (last * 8 - end_bit)) & ((1 << width) - 1)


@dataclass
class Compiled:
    """The generated callables for one program."""
    source: str
    parse: Callable[[bytes, list], tuple[int, int]]
    verify_checksums: Callable[[list], int]
    update_checksums: Callable[[list], None]
    deparse: Callable[[list], bytes]
    pipelines: dict[str, Any]                 # pipeline name -> first node (or None)
    actions: dict[int, Callable]              # action id -> fn(F, P)
    next_maps: dict[str, dict[Any, Any]] = field(default_factory=dict)
    uses_state: list[str] = field(default_factory=list)  # why results may not be cached
    reads_packet_length: bool = False
    writes_priority: bool = False
    reads_time: bool = False
    max_parse_bytes: int | None = None        # None: unbounded (loops)
    selectors: dict[str, Callable] = field(default_factory=dict)   # action profile -> hash fn


class CodeGen(ParserGen, CalcGen, HeaderGen):
    """Translates a Program into Python source and executes it in a private namespace."""

    def __init__(self, prog: Program, tables: dict[str, Any], counters: dict[str, list],
                 registers: dict[str, list], meters: dict[str, Any] | None = None) -> None:
        self.p = prog
        self.meters = meters or {}
        self.vsets: dict[str, Any] = {}
        self.tables = tables
        self.counters = counters
        self.registers = registers
        self.w = _Writer()
        self.ns: dict[str, Any] = {
            "ParserError": ParserError, "ExitPipeline": ExitPipeline, "_tcm": _tcm, "_sat": _sat,
            "_usat": _usat, "_lookahead": _lookahead, "_random": random.randint, "_log": log,
            "_now": time.monotonic,
        }
        self.names: dict[int, str] = {}
        self.uses_state: list[str] = []
        self.reads_plen = False
        self.writes_priority = False
        self.reads_time = False
        self.err = prog.errors
        self.PLEN = prog.extra_slots["$plen"]
        self.TRACE = prog.extra_slots["$trace"]
        self.PAYLOAD = prog.extra_slots["$payload"]

    # ---------------------------------------------------------------- helpers
    def _obj(self, prefix: str, obj: Any) -> str:
        """Bind a Python object into the namespace and return its name."""
        key = id(obj)
        if key not in self.names:
            name = f"_{prefix}{len(self.names)}"
            self.names[key] = name
            self.ns[name] = obj
        return self.names[key]

    def _field(self, ref: list[str]) -> FieldInfo:
        f = self.p.field_ref(ref)
        if f is None:
            raise SoftswitchError(f"unknown field {'.'.join(ref)}")
        if f.header == "standard_metadata" and f.name == "packet_length":
            self.reads_plen = True
        if f.header == "standard_metadata" and ("timestamp" in f.name or f.name in (
                "deq_timedelta", "enq_qdepth", "deq_qdepth")):
            self.uses_state.append(f"reads {f.name}")
            self.reads_time = True
        return f

    def _header(self, name: str) -> HeaderInfo:
        h = self.p.headers.get(name)
        if h is None:
            raise SoftswitchError(f"unknown header {name}")
        return h

    @staticmethod
    def _mask(width: int) -> int:
        return (1 << width) - 1

    # ------------------------------------------------------------ expressions
    def expr(self, node: Any, parser: bool = False) -> str:
        if node is None:
            raise SoftswitchError("missing operand in expression")
        t = node.get("type")
        v = node.get("value")
        if t in ("field", "stack_field", "union_stack_field"):
            slot, width, signed, name = self.lvalue(node)
            # a varbit field reads as its value (BMv2 compares varbit Data by value)
            if signed:
                return f"_tcm(F[{slot}], {width})"
            return f"F[{slot}]"
        if t == "hexstr":
            return str(hexstr(v))
        if t == "bool":
            return "True" if v else "False"
        if t in ("runtime_data", "local"):
            return f"P[{int(v)}]"
        if t == "expression":
            if "op" not in v:  # action parameters wrap expressions once more
                return self.expr(v, parser)
            return self._op(v, parser)
        if t == "lookahead":
            if not parser:
                raise SoftswitchError("lookahead outside a parser")
            return (f"_lookahead(pkt, n, off, {int(v[0])}, {int(v[1])}, "
                    f"{self.err['PacketTooShort']})")
        if t == "register":
            reg = self._register(v[0])
            idx = self.expr(v[1], parser)
            return f"{reg}[{idx}]"
        if t == "header":
            return f"F[{self.href(node).valid}]"
        raise unimplemented(f"expression operand of type {t}")

    def _op(self, e: dict[str, Any], parser: bool) -> str:
        op = e["op"]
        left: Any = e.get("left")
        right: Any = e.get("right")
        binops = {"+": "+", "-": "-", "*": "*", "<<": "<<", ">>": ">>", "==": "==", "!=": "!=",
                  ">": ">", ">=": ">=", "<": "<", "<=": "<=", "&": "&", "|": "|", "^": "^",
                  "/": "//", "%": "%"}
        if op in ("==", "!=") and self.is_header_node(left):
            eq = self.header_equal(self.href(left), self.href(right))
            return eq if op == "==" else f"(not {eq})"
        if op in ("==", "!=") and self.is_union_node(left):
            eq = self.union_equal(self.union_members(left), self.union_members(right))
            return eq if op == "==" else f"(not {eq})"
        if op == "access_field":
            slot, width, signed, _ = self.lvalue({"type": "expression", "value": e})
            return f"_tcm(F[{slot}], {width})" if signed else f"F[{slot}]"
        if op == "last_stack_index":
            return f"(F[{self._stack(right['value']).next_slot}] - 1)"
        if op == "size_stack":
            return f"F[{self._stack(right['value']).next_slot}]"
        if op == "valid_union":
            members = self.union_members(right)
            return "(" + " or ".join(f"F[{m.valid}] == 1" for m in members) + ")" if members else "False"
        if op in binops:
            if left is None and op == "-":
                return f"(-{self.expr(right, parser)})"
            return f"({self.expr(left, parser)} {binops[op]} {self.expr(right, parser)})"
        if op == "and":
            return f"({self.expr(left, parser)} and {self.expr(right, parser)})"
        if op == "or":
            return f"({self.expr(left, parser)} or {self.expr(right, parser)})"
        if op == "not":
            return f"(not {self.expr(right, parser)})"
        if op == "~":
            return f"(~{self.expr(right, parser)})"
        if op == "d2b":
            return f"({self.expr(right, parser)} != 0)"
        if op == "b2d":
            return f"(1 if {self.expr(right, parser)} else 0)"
        if op == "valid":
            return f"(F[{self.href(right).valid}] == 1)"
        if op == "?":
            return (f"({self.expr(left, parser)} if {self.expr(e['cond'], parser)} "
                    f"else {self.expr(right, parser)})")
        if op == "two_comp_mod":
            return f"_tcm({self.expr(left, parser)}, {self.expr(right, parser)})"
        if op == "sat_cast":
            return f"_sat({self.expr(left, parser)}, {self.expr(right, parser)})"
        if op == "usat_cast":
            return f"_usat({self.expr(left, parser)}, {self.expr(right, parser)})"
        raise unimplemented(f"expression operator '{op}'")

    def _register(self, name: str) -> str:
        if name not in self.registers:
            raise SoftswitchError(f"unknown register array {name}")
        if "register state" not in self.uses_state:
            self.uses_state.append("register state")
        return self._obj("R", self.registers[name])

    # ----------------------------------------------------------- assignments
    def _assign(self, dst: dict[str, Any], src_code: str) -> None:
        slot, width, _, name = self.lvalue(dst)
        if name.endswith(".$valid$"):
            raise SoftswitchError(f"assignment to read-only {name}")
        prio = self.p.std("priority")
        if prio is not None and slot == str(prio.slot):
            self.writes_priority = True
        self.w(f"F[{slot}] = ({src_code}) & {self._mask(width)}")

    def _assign_any(self, dst: dict[str, Any], src: dict[str, Any], E: Callable[[Any], str]) -> None:
        """assign/modify_field: a field, a header, a union or a stack, by the destination's kind."""
        t = dst.get("type")
        if t in ("header_stack", "header_union_stack"):
            self.assign_stack(dst["value"], src["value"])
        elif self.is_union_node(dst):
            for d, s_ in zip(self.union_members(dst), self.union_members(src), strict=False):
                self.copy_header(d, s_)
        elif self.is_header_node(dst):
            self.copy_header(self.href(dst), self.href(src))
        else:
            self._assign(dst, E(src))

    def _count(self, counter: str, idx_code: str) -> None:
        cells = self.counters.get(counter)
        if cells is None:
            raise SoftswitchError(f"unknown counter array {counter}")
        name = self._obj("C", cells)
        w = self.w
        w(f"_i = {idx_code}")
        w(f"if _i < {len(cells)}:")
        w.indent += 1
        w(f"_c = {name}[_i]")
        w("_c[0] += 1")
        w(f"_c[1] += F[{self.PLEN}]")
        w(f"if F[{self.TRACE}] is not None: F[{self.TRACE}].append(_c)")
        w.indent -= 1

    def primitive(self, prim: dict[str, Any], where: str, parser: bool = False) -> None:
        """Emit the statement(s) for one primitive call."""
        op = prim["op"]
        ps = prim.get("parameters", [])
        w = self.w
        E = lambda node: self.expr(node, parser)  # noqa: E731
        if op in ("assign", "modify_field"):
            self._assign_any(ps[0], ps[1], E)
        elif op == "assign_VL":
            d, s = self._field(ps[0]["value"]), self._field(ps[1]["value"])
            dh, sh = self._header(d.header), self._header(s.header)
            w(f"F[{d.slot}] = F[{s.slot}]")
            w(f"F[{dh.vl_slot}] = F[{sh.vl_slot}]")
        elif op in ("assign_header", "copy_header"):
            self.copy_header(self.href(ps[0]), self.href(ps[1]))
        elif op in ("assign_union", "assign_header_stack", "assign_union_stack"):
            self._assign_any(ps[0], ps[1], E)
        elif op in ("push", "pop"):
            self.push_pop(op, ps[0]["value"], ps[1])
        elif op in ("add_header", "add_header_fast"):
            self.add_header(self.href(ps[0]))
        elif op == "remove_header":
            w(f"F[{self.href(ps[0]).valid}] = 0")
        elif op in ("mark_to_drop", "drop"):
            es = self.p.std("egress_spec")
            if es is not None:
                w(f"F[{es.slot}] = {DROP_PORT}")
            mg = self.p.std("mcast_grp") or self.p.field_ref(["intrinsic_metadata", "mcast_grp"])
            if mg is not None:
                w(f"F[{mg.slot}] = 0")
        elif op == "count":
            self._count(ps[0]["value"], E(ps[1]))
        elif op == "modify_field_with_hash_based_offset":
            calc = self.calculation(ps[2]["value"])
            w(f"_sz = {E(ps[3])}")
            self._assign(ps[0], f"({calc}(F) % (_sz or 1)) + {E(ps[1])}")
        elif op == "register_read":
            reg = self.registers.get(ps[1]["value"])
            if reg is None:
                raise SoftswitchError(f"unknown register array {ps[1]['value']}")
            name = self._register(ps[1]["value"])
            w(f"_i = {E(ps[2])}")
            self._assign(ps[0], f"{name}[_i] if _i < {len(reg)} else 0")
        elif op == "register_write":
            name = self._register(ps[0]["value"])
            reg = self.registers[ps[0]["value"]]
            width = self.p.registers[ps[0]["value"]]["bitwidth"]
            w(f"_i = {E(ps[1])}")
            w(f"if _i < {len(reg)}: {name}[_i] = ({E(ps[2])}) & {self._mask(width)}")
        elif op == "modify_field_rng_uniform":
            if "random" not in self.uses_state:
                self.uses_state.append("random")
            self._assign(ps[0], f"_random({E(ps[1])}, {E(ps[2])})")
        elif op in ("add_to_field", "subtract_from_field"):
            f = self._field(ps[0]["value"])
            sign = "+" if op == "add_to_field" else "-"
            self._assign(ps[0], f"F[{f.slot}] {sign} {E(ps[1])}")
        elif op in ("add", "subtract", "bit_and", "bit_or", "bit_xor", "shift_left", "shift_right"):
            sym = {"add": "+", "subtract": "-", "bit_and": "&", "bit_or": "|", "bit_xor": "^",
                   "shift_left": "<<", "shift_right": ">>"}[op]
            self._assign(ps[0], f"{E(ps[1])} {sym} {E(ps[2])}")
        elif op in ("clone_ingress_pkt_to_egress", "clone_egress_pkt_to_egress"):
            # simple_switch primitives.cpp: the session id with a valid bit, and the field list
            x = self.p.extra_slots
            w(f"F[{x['$clone']}] = (({E(ps[0])}) & 0x7FFF) | 0x8000")
            w(f"F[{x['$clone_fl']}] = {E(ps[1]) if len(ps) > 1 else 0}")
            w(f"F[{x['$special']}] = 1")
        elif op in ("resubmit", "recirculate"):
            x = self.p.extra_slots
            w(f"F[{x['$resubmit' if op == 'resubmit' else '$recirc']}] = {E(ps[0]) if ps else 0}")
            w(f"F[{x['$special']}] = 1")
        elif op == "generate_digest":
            x = self.p.extra_slots
            w(f"F[{x['$digest']}] = {E(ps[1])}")
            w(f"F[{x['$special']}] = 1")
        elif op == "truncate":
            x = self.p.extra_slots
            w(f"_n = {E(ps[0])}")
            w(f"F[{x['$trunc']}] = _n if F[{x['$trunc']}] is None else min(_n, F[{x['$trunc']}])")
            w(f"F[{x['$special']}] = 1")
        elif op == "execute_meter":
            ma = self.meters.get(ps[0]["value"])
            if ma is None:
                raise SoftswitchError(f"unknown meter array {ps[0]['value']}")
            if "meters" not in self.uses_state:
                self.uses_state.append("meters")
            name = self._obj("M", ma.cells)
            amount = "1" if ma.packets else f"F[{self.PLEN}]"
            w(f"_i = {E(ps[1])}")
            # BMv2: an index past the array updates nothing, not even the destination
            w(f"if _i < {len(ma.cells)}:")
            w.indent += 1
            self._assign(ps[2], f"{name}[_i].execute({amount})")
            w.indent -= 1
        elif op == "exit":
            w("raise ExitPipeline()")
        elif op in ("no_op", "log_msg"):
            w("pass")
        elif op in ("assert", "assume"):
            msg = repr(f"{op} failed in {where}")  # repr: names from the JSON never become code
            w(f"if not ({E(ps[0])}): _log.error({msg})")
        else:
            raise unimplemented(f"primitive '{op}' (in {where})")

    # ---------------------------------------------------------------- actions
    def action(self, a: dict[str, Any]) -> str:
        name = f"_a{a['id']}"
        prims = a.get("primitives", [])
        w = self.w
        w(f"def {name}(F, P):")
        w.indent += 1
        jumps = any(p["op"] in ("_jump", "_jump_if_zero") for p in prims)
        if not prims:
            w("pass")
        elif not jumps:
            for prim in prims:
                self.primitive(prim, f"action {a['name']}")
        else:
            # p4c lowers if/else inside actions to jumps: run the body as a small state machine.
            w("pc = 0")
            w(f"while pc < {len(prims)}:")
            w.indent += 1
            for i, prim in enumerate(prims):
                w(f"if pc == {i}:")
                w.indent += 1
                if prim["op"] == "_jump":
                    w(f"pc = {self.expr(prim['parameters'][0])}")
                    w("continue")
                elif prim["op"] == "_jump_if_zero":
                    w(f"if not ({self.expr(prim['parameters'][0])}):")
                    w(f"    pc = {self.expr(prim['parameters'][1])}")
                    w("    continue")
                    w(f"pc = {i + 1}")
                else:
                    self.primitive(prim, f"action {a['name']}")
                    w(f"pc = {i + 1}")
                w.indent -= 1
            w.indent -= 1
        w.indent -= 1
        w("")
        return name

    # --------------------------------------------------------------- controls
    def pipeline(self, pl: dict[str, Any], next_maps: dict[str, dict]) -> str:
        w = self.w
        nodes: dict[str, str] = {}
        for t in pl.get("tables", []):
            nodes[t["name"]] = f"_t{t['id']}"
        for c in pl.get("conditionals", []):
            nodes[c["name"]] = f"_c{c['id']}"
        for ac in pl.get("action_calls", []) or []:
            nodes[ac["name"]] = f"_ac{ac['id']}"
        ref = lambda name: "None" if name is None else nodes[name]  # noqa: E731

        for c in pl.get("conditionals", []):
            w(f"def _c{c['id']}(F):")
            w(f"    return {ref(c.get('true_next'))} if {self.expr(c['expression'])} "
              f"else {ref(c.get('false_next'))}")
            w("")
        for ac in pl.get("action_calls", []) or []:
            w(f"def _ac{ac['id']}(F):")
            w(f"    _a{ac['action_id']}(F, ())")
            w(f"    return {ref(ac.get('next_node'))}")
            w("")
        for t in pl.get("tables", []):
            table = self.tables[t["name"]]
            tname = self._obj("T", table)
            keyparts = []
            for k in t.get("key", []):
                if k["match_type"] == "valid":
                    hname = k["target"] if isinstance(k["target"], str) else k["target"][0]
                    keyparts.append(f"F[{self._header(hname).valid_slot}]")
                    continue
                f = self._field(k["target"])
                code = f"F[{f.slot}]"
                if k.get("mask"):
                    code = f"({code} & {hexstr(k['mask'])})"
                keyparts.append(code)
            nt = t.get("next_tables", {})
            hitmiss = "__HIT__" in nt or "__MISS__" in nt
            nxname = f"_NX{t['id']}"
            if hitmiss:
                hit_next, miss_next = ref(nt.get("__HIT__")), ref(nt.get("__MISS__"))
            else:
                next_maps[nxname] = {aid: nodes.get(nt.get(aname)) if nt.get(aname) else None
                                     for aid, aname in zip(t["action_ids"], t["actions"], strict=False)}
            w(f"def _t{t['id']}(F):")
            w.indent += 1
            if keyparts:
                key = f"({', '.join(keyparts)},)"
                if table.all_exact:
                    w(f"e = {tname}.exact.get({key})")
                else:
                    w(f"e = {tname}.lookup({key})")
                w("if e is None:")
                w.indent += 1
            w(f"{tname}.default_fn(F, {tname}.default_params)")
            w(f"return {miss_next if hitmiss else f'{nxname}[{tname}.default_action_id]'}")
            if keyparts:
                w.indent -= 1
                if table.profile is not None:
                    w(f"a = {tname}.profile.pick(e.ref, F)")
                    w("if a is None:")
                    w(f"    {tname}.default_fn(F, {tname}.default_params)")
                    w(f"    return {miss_next if hitmiss else f'{nxname}[{tname}.default_action_id]'}")
                if table.support_timeout:
                    if "idle timeout" not in self.uses_state:
                        self.uses_state.append("idle timeout")
                    w("e.last_hit = _now()")
                    w("e.aged = False")
                if table.with_counters:
                    w("c = e.counter")
                    w("c[0] += 1")
                    w(f"c[1] += F[{self.PLEN}]")
                    w(f"if F[{self.TRACE}] is not None: F[{self.TRACE}].append(c)")
                if table.direct_meter is not None:
                    ma = self.meters[table.direct_meter]
                    if "meters" not in self.uses_state:
                        self.uses_state.append("meters")
                    if ma.result:
                        amount = "1" if ma.packets else f"F[{self.PLEN}]"
                        slot, width, _, _ = self.lvalue({"type": "field", "value": ma.result})
                        w(f"F[{slot}] = e.meter.execute({amount})")
                h = "a" if table.profile is not None else "e"
                w(f"{h}.fn(F, {h}.params)")
                w(f"return {hit_next if hitmiss else f'{nxname}[{h}.action_id]'}")
            w.indent -= 1
            w("")
        return ref(pl.get("init_table"))

    # ------------------------------------------------------------------ build
    def build(self) -> Compiled:
        raw = self.p.raw
        parsers = raw.get("parsers", [])
        if len(parsers) != 1:
            raise unimplemented(f"{len(parsers)} parsers (v1model has exactly one)")
        for a in raw.get("actions", []):
            self.action(a)
        self.parser(parsers[0])
        self.checksums()
        deps = raw.get("deparsers", [])
        if len(deps) > 1:
            raise unimplemented(f"{len(deps)} deparsers")
        self.deparser(deps[0] if deps else None)
        next_maps: dict[str, dict] = {}
        inits = {}
        sel_names = {}
        for cname in list(self.p.calculations):
            if cname.startswith("$selector:"):
                sel_names[cname.split(":", 1)[1]] = self.calculation(cname)
        for pl in raw.get("pipelines", []):
            inits[pl["name"]] = self.pipeline(pl, next_maps)
        lines = self.w.lines + self.ns.pop("__calc_src__", [])
        self.ns.pop("__calcs__", None)
        source = "\n".join(lines) + "\n"
        try:
            code = compile(source, "<softswitch-generated>", "exec")
        except SyntaxError as exc:  # a generator bug, not a user error; say where
            raise SoftswitchError(f"internal code generation error: {exc}") from None
        exec(code, self.ns)  # our own generated source
        for name, mapping in next_maps.items():
            self.ns[name] = {aid: (self.ns[n] if n else None) for aid, n in mapping.items()}
        pipelines = {name: (self.ns[init] if init != "None" else None) for name, init in inits.items()}
        actions = {a["id"]: self.ns[f"_a{a['id']}"] for a in raw.get("actions", [])}
        return Compiled(source=source, parse=self.ns["parse"], verify_checksums=self.ns["verify_checksums"],
                        update_checksums=self.ns["update_checksums"], deparse=self.ns["deparse"],
                        pipelines=pipelines, actions=actions, uses_state=self.uses_state,
                        reads_packet_length=self.reads_plen, writes_priority=self.writes_priority,
                        reads_time=self.reads_time,
                        max_parse_bytes=self.max_parse_bytes(parsers[0]),
                        selectors={ap: self.ns[fn] for ap, fn in sel_names.items()})
