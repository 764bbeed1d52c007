"""Code generation for named calculations (hash/checksum inputs packed as BMv2 does) and checksums.

A mixin of codegen.CodeGen: emits `_calc_*` functions and verify_/update_checksums.
"""
from __future__ import annotations

from . import hashes
from .codegen_base import GenBase
from .codewriter import Writer as _Writer
from .errors import SoftswitchError, unimplemented
from .json_model import hexstr


class CalcGen(GenBase):
    # ----------------------------------------------------------- calculations
    def calculation(self, name: str) -> str:
        """Emit (once) a function computing a named calculation over the packet state."""
        fname = f"_calc_{self._ident(name)}"
        if fname in self.ns.get("__calcs__", set()):
            return fname
        self.ns.setdefault("__calcs__", set()).add(fname)
        calc = self.p.calculations.get(name)
        if calc is None:
            raise SoftswitchError(f"unknown calculation {name}")
        fn = hashes.get(calc["algo"])
        if fn is None:
            raise unimplemented(f"hash algorithm '{calc['algo']}' (calculation {name})")
        hname = self._obj("H", fn)
        # Emitted into a separate buffer so that it can be generated from inside another function.
        saved = self.w
        self.w = _Writer()
        w = self.w
        w(f"def {fname}(F):")
        w.indent += 1
        w("acc = 0")
        w("nb = 0")
        payload = False
        # BMv2's BufBuilder packs the inputs bit by bit, skipping fields of invalid headers.
        groups: list[tuple[str | None, list[str], int]] = []
        for item in calc["input"]:
            t = item["type"]
            if t == "field":
                f = self._field(item["value"])
                h = self._header(f.header)
                cond = None if h.metadata else f"F[{h.valid_slot}]"
                if f.width == 0:
                    groups.append((cond, [f"acc = (acc << F[{h.vl_slot}]) | F[{f.slot}]",
                                          f"nb += F[{h.vl_slot}]"], 0))
                else:
                    groups.append((cond, [f"acc = (acc << {f.width}) | F[{f.slot}]"], f.width))
            elif t == "hexstr":
                bw = int(item["bitwidth"])
                groups.append((None, [f"acc = (acc << {bw}) | {hexstr(item['value']) & self._mask(bw)}"],
                               bw))
            elif t == "header":
                h = self._header(item["value"])
                for f in h.fields:
                    if f.width == 0:
                        groups.append((f"F[{h.valid_slot}]",
                                       [f"acc = (acc << F[{h.vl_slot}]) | F[{f.slot}]",
                                        f"nb += F[{h.vl_slot}]"], 0))
                    else:
                        groups.append((f"F[{h.valid_slot}]", [f"acc = (acc << {f.width}) | F[{f.slot}]"],
                                       f.width))
            elif t == "payload":
                payload = True
                if "payload in a calculation" not in self.uses_state:
                    # the result depends on bytes beyond the parsed headers: no prefix-keyed caching
                    self.uses_state.append("payload in a calculation")
            else:
                raise unimplemented(f"calculation input of type {t} (calculation {name})")
        # Merge consecutive items guarded by the same validity condition.
        merged: list[tuple[str | None, list[str], int]] = []
        for cond, stmts, bits in groups:
            if merged and merged[-1][0] == cond:
                merged[-1] = (cond, merged[-1][1] + stmts, merged[-1][2] + bits)
            else:
                merged.append((cond, list(stmts), bits))
        for cond, stmts, bits in merged:
            if cond is not None:
                w(f"if {cond}:")
                w.indent += 1
            for s in stmts:
                w(s)
            if bits:
                w(f"nb += {bits}")
            if cond is not None:
                w.indent -= 1
        w("pad = (-nb) % 8")
        w("buf = (acc << pad).to_bytes((nb + pad) // 8, 'big')")
        if payload:
            w(f"buf += F[{self.PAYLOAD}]")
        w(f"return {hname}(buf)")
        w.indent -= 1
        w("")
        body = self.w.lines
        self.w = saved
        self.ns.setdefault("__calc_src__", []).extend(body)
        return fname

    @staticmethod
    def _ident(name: str) -> str:
        return "".join(c if c.isalnum() else "_" for c in name)

    # -------------------------------------------------------------- checksums
    def checksums(self) -> None:
        w = self.w
        cks = self.p.raw.get("checksums", []) or []
        for kind in ("verify", "update"):
            w(f"def {kind}_checksums(F):")
            w.indent += 1
            w("err = 0")
            for ck in cks:
                if ck.get("type", "generic") not in ("generic", "ipv4"):
                    raise unimplemented(f"checksum type {ck.get('type')}")
                if not ck.get(kind, True):
                    continue
                calc = self.calculation(ck["calculation"])
                tgt = self._field(ck["target"])
                th = self._header(tgt.header)
                conds = []
                if kind == "verify":
                    conds.append(f"F[{th.valid_slot}]")
                cond = ck.get("if_cond")
                if cond is not None:
                    conds.append(self.expr(cond))
                guard = " and ".join(conds) if conds else "True"
                w(f"if {guard}:")
                if kind == "verify":
                    w(f"    if {calc}(F) != F[{tgt.slot}]: err = 1")
                else:
                    w(f"    F[{tgt.slot}] = {calc}(F) & {self._mask(tgt.width)}")
            w("return err")
            w.indent -= 1
            w("")

