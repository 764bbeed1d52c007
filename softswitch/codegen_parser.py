"""Code generation for the parser (extract, varbit, select, lookahead, verify) and the deparser.

A mixin of codegen.CodeGen: emits one function per parse state, `parse` and `deparse`.
"""
from __future__ import annotations

from typing import Any

from .codegen_headers import HeaderGen, HRef
from .errors import SoftswitchError, unimplemented
from .json_model import hexstr


class ParserGen(HeaderGen):     # it parses into the headers HeaderGen resolves
    # ----------------------------------------------------------------- parser
    def _extract(self, hr: HRef) -> None:
        w = self.w
        h = hr.tmpl
        if h.vl_slot is not None:
            raise SoftswitchError(f"header {h.name} has a varbit field: extract it with a length")
        nbytes = h.fixed_bits // 8
        w(f"if n - off < {nbytes}: raise ParserError({self.err['PacketTooShort']}, off)")
        if hr.static is None:
            w(f"b = {hr.base}")
            hr = HRef(h, "b", None, hr.siblings)
        w(f"v = int.from_bytes(pkt[off:off + {nbytes}], 'big')")
        rem = h.fixed_bits
        for k, f in enumerate(h.fields):
            rem -= f.width
            if rem:
                w(f"F[{hr.slot(k)}] = (v >> {rem}) & {self._mask(f.width)}" if rem + f.width < h.fixed_bits
                  else f"F[{hr.slot(k)}] = v >> {rem}")
            else:
                w(f"F[{hr.slot(k)}] = v & {self._mask(f.width)}")
        self.set_valid(hr)
        w(f"off += {nbytes}")

    def _extract_vl(self, hr: HRef, nbits_code: str) -> None:
        w = self.w
        h = hr.tmpl
        if h.vl_slot is None:
            raise SoftswitchError(f"extract with a length into {h.name}, which has no varbit field")
        w(f"nbits = {nbits_code}")
        w(f"if nbits % 8: raise ParserError({self.err['ParserInvalidArgument']}, off)")
        w(f"tot = {h.fixed_bits // 8} + nbits // 8")
        w(f"if n - off < tot: raise ParserError({self.err['PacketTooShort']}, off)")
        w(f"if tot > {h.max_bytes}: raise ParserError({self.err['HeaderTooShort']}, off)")
        if hr.static is None:
            w(f"b = {hr.base}")
            hr = HRef(h, "b", None, hr.siblings)
        w("v = int.from_bytes(pkt[off:off + tot], 'big')")
        w("rem = tot * 8")
        for k, f in enumerate(h.fields):
            if f.width == 0:
                w("rem -= nbits")
                w(f"F[{hr.slot(k)}] = (v >> rem) & ((1 << nbits) - 1)")
            else:
                w(f"rem -= {f.width}")
                w(f"F[{hr.slot(k)}] = (v >> rem) & {self._mask(f.width)}")
        w(f"F[{hr.vl}] = nbits")
        self.set_valid(hr)
        w("off += tot")

    def _extract_target(self, param: dict[str, Any], where: str) -> tuple[HRef, int | None]:
        """The header an extract writes, and the `next` slot to bump for a stack."""
        t, v = param["type"], param["value"]
        if t == "regular":
            return self.href({"type": "header", "value": v}), None
        if t == "stack":
            st = self._stack(v)
            member = 0
        elif t == "union_stack":
            st = self._stack(v[0])
            member = st.member_names.index(v[1])
        else:
            raise unimplemented(f"extract into a {t} ({where})")
        self.w(f"if F[{st.next_slot}] >= {st.size}: raise ParserError({self.err['StackOutOfBounds']}, off)")
        return self._elem_href(st, member, f"F[{st.next_slot}]"), st.next_slot

    def parser(self, parser: dict[str, Any]) -> str:
        states = {s["name"]: s for s in parser["parse_states"]}
        fn = lambda name: "None" if name is None else f"_ps{states[name]['id']}"  # noqa: E731
        w = self.w
        for s in parser["parse_states"]:
            w(f"def _ps{s['id']}(pkt, n, off, F):")
            w.indent += 1
            where = f"parser state {s['name']}"
            for op in s.get("parser_ops", []):
                kind = op["op"]
                ps = op.get("parameters", [])
                if kind in ("extract", "extract_VL"):
                    hr, next_slot = self._extract_target(ps[0], where)
                    if kind == "extract":
                        self._extract(hr)
                    else:
                        self._extract_vl(hr, self.expr(ps[1], parser=True))
                    if next_slot is not None:
                        w(f"F[{next_slot}] += 1")
                elif kind == "set":
                    self._assign(ps[0], self.expr(ps[1], parser=True))
                elif kind == "verify":
                    w(f"if not ({self.expr(ps[0], parser=True)}): "
                      f"raise ParserError({self.expr(ps[1], parser=True)}, off)")
                elif kind in ("advance", "shift"):
                    if kind == "shift":
                        w(f"_b = {int(ps[0]['value'])} * 8")
                    else:
                        w(f"_b = {self.expr(ps[0], parser=True)}")
                    w(f"if _b % 8: raise ParserError({self.err['ParserInvalidArgument']}, off)")
                    w(f"if n - off < _b // 8: raise ParserError({self.err['PacketTooShort']}, off)")
                    w("off += _b // 8")
                elif kind == "primitive":
                    self.primitive(ps[0], where, parser=True)
                else:
                    raise unimplemented(f"parser operation '{kind}' ({where})")
            key = s.get("transition_key", [])
            trans = s.get("transitions", [])
            has_vset = any(t.get("type") == "parse_vset" for t in trans)
            if key:
                parts = []
                codes: list[tuple[str, int]] = []
                shift = 0
                for k in reversed(key):
                    if k["type"] in ("field", "stack_field", "union_stack_field"):
                        slot, width, _, _ = self.lvalue(k)
                        code = f"F[{slot}]"
                    elif k["type"] == "lookahead":
                        code, width = self.expr(k, parser=True), int(k["value"][1])
                    else:
                        raise unimplemented(f"transition key of type {k['type']} ({where})")
                    parts.append(f"({code} << {shift})" if shift else code)
                    codes.append((code, width))
                    shift += (width + 7) // 8 * 8
                w(f"k = {' | '.join(reversed(parts))}")
                if has_vset:
                    # a value set matches the key fields packed without padding (BMv2 "compressed")
                    cparts, cshift = [], 0
                    for code, width in codes:
                        cparts.append(f"({code} << {cshift})" if cshift else code)
                        cshift += width
                    w(f"kc = {' | '.join(reversed(cparts))}")
            default = "None"
            for t in trans:
                ttype = t.get("type", "hexstr")
                if ttype == "default" or t.get("value") == "default":
                    default = fn(t.get("next_state"))
                    break
                if ttype == "parse_vset":
                    vs = self.vsets.get(t["value"])
                    if vs is None:
                        raise SoftswitchError(f"unknown parser value set {t['value']} ({where})")
                    name = self._obj("VS", vs)
                    kc = f"(kc & {hexstr(t['mask'])})" if t.get("mask") is not None else "kc"
                    w(f"if {name}.match({kc}): return {fn(t.get('next_state'))}, off")
                    continue
                if ttype != "hexstr":
                    raise unimplemented(f"parser transition of type {ttype} ({where})")
                val = hexstr(t["value"])
                if t.get("mask") is not None:
                    mask = hexstr(t["mask"])
                    w(f"if (k & {mask}) == {val & mask}: return {fn(t.get('next_state'))}, off")
                else:
                    w(f"if k == {val}: return {fn(t.get('next_state'))}, off")
            w(f"return {default}, off")
            w.indent -= 1
            w("")
        init = fn(parser["init_state"])
        noerr = self.err["NoError"]
        w("def parse(pkt, F):")
        w.indent += 1
        w("n = len(pkt)")
        w("off = 0")
        w(f"st = {init}")
        w("try:")
        w("    while st is not None:")
        w("        st, off = st(pkt, n, off, F)")
        w("except ParserError as e:")
        w("    return e.off, e.code")
        w(f"return off, {noerr}")
        w.indent -= 1
        w("")
        return "parse"

    def max_parse_bytes(self, parser: dict[str, Any]) -> int | None:
        """Longest prefix the parser can read (None if a state can repeat)."""
        states = {s["name"]: s for s in parser["parse_states"]}

        def cost(s: dict[str, Any]) -> int:
            total = 0
            for op in s.get("parser_ops", []):
                if op["op"] in ("extract", "extract_VL"):
                    par = op["parameters"][0]
                    if par["type"] == "regular":
                        total += self._header(par["value"]).max_bytes
                    else:
                        name = par["value"] if par["type"] == "stack" else par["value"][0]
                        total += max(h.max_bytes for e in self._stack(name).elements for h in e)
                elif op["op"] in ("advance", "shift"):
                    return 1 << 30  # data-dependent skip: treat as unbounded
            la = 0
            for k in s.get("transition_key", []) + [p for op in s.get("parser_ops", [])
                                                    for p in op.get("parameters", [])[1:2]]:
                if isinstance(k, dict) and k.get("type") == "lookahead":
                    la = max(la, (int(k["value"][0]) + int(k["value"][1]) + 7) // 8)
            return total + la

        memo: dict[str, int] = {}

        def longest(name: str | None, stack: tuple[str, ...]) -> int:
            if name is None:
                return 0
            if name in stack:
                return 1 << 30
            if name in memo:
                return memo[name]
            s = states[name]
            nxt = [t.get("next_state") for t in s.get("transitions", [])] or [None]
            best = cost(s) + max(longest(x, stack + (name,)) for x in nxt)
            memo[name] = best
            return best

        result = longest(parser["init_state"], ())
        return None if result >= 1 << 30 else result

    # --------------------------------------------------------------- deparser
    def deparser(self, dep: dict[str, Any] | None) -> None:
        w = self.w
        w("def deparse(F):")
        w.indent += 1
        w("out = []")
        for hname in (dep or {}).get("order", []):
            h = self._header(hname)
            w(f"if F[{h.valid_slot}]:")
            w.indent += 1
            if h.vl_slot is None:
                parts = []
                rem = h.fixed_bits
                for f in h.fields:
                    rem -= f.width
                    parts.append(f"(F[{f.slot}] << {rem})" if rem else f"F[{f.slot}]")
                w(f"out.append(({' | '.join(parts)}).to_bytes({h.fixed_bits // 8}, 'big'))")
            else:
                w("acc = 0")
                for f in h.fields:
                    if f.width == 0:
                        w(f"acc = (acc << F[{h.vl_slot}]) | F[{f.slot}]")
                    else:
                        w(f"acc = (acc << {f.width}) | F[{f.slot}]")
                w(f"out.append(acc.to_bytes(({h.fixed_bits} + F[{h.vl_slot}]) // 8, 'big'))")
            w.indent -= 1
        w("return b''.join(out)")
        w.indent -= 1
        w("")

