"""Code generation for header references: plain headers, stack elements (constant or run-time index,
`last`), header unions and union stacks; validity changes with union semantics; push/pop/assign.

A mixin of codegen.CodeGen. Semantics follow BMv2 built with P4_16 stacks (its default):
bm_sim/stacks.cpp (StackP4_16), headers.cpp, header_unions.h and core/primitives.cpp.
A header's slots are contiguous (fields, then validity, then the varbit length), so an element picked
at run time is addressed as `base + k`; an index past the stack reads and writes a scratch header.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .codegen_base import GenBase
from .errors import SoftswitchError, unimplemented
from .json_model import HeaderInfo, StackInfo, hexstr


@dataclass
class HRef:
    """A header as generated code sees it."""
    tmpl: HeaderInfo                 # layout (a header of the same type)
    base: str                        # code evaluating to the slot of field 0
    static: HeaderInfo | None = None
    siblings: list[str] = field(default_factory=list)   # validity-slot codes of other union members

    def slot(self, k: int) -> str:
        if self.static is not None:
            return str(self.static.base + k)
        return f"{self.base} + {k}" if k else self.base

    @property
    def valid(self) -> str:
        if self.static is not None:
            return str(self.static.valid_slot)
        return f"{self.base} + {len(self.tmpl.fields)}"

    @property
    def vl(self) -> str | None:
        if self.tmpl.vl_slot is None:
            return None
        if self.static is not None:
            return str(self.static.vl_slot)
        return f"{self.base} + {len(self.tmpl.fields) + 1}"


class HeaderGen(GenBase):
    # ------------------------------------------------------------- lookups
    def _stack(self, name: str) -> StackInfo:
        st = self.p.stacks.get(name)
        if st is None:
            raise SoftswitchError(f"unknown header stack {name}")
        return st

    def _static_href(self, h: HeaderInfo) -> HRef:
        sib: list[str] = []
        if h.union is not None:
            u = self.p.unions[h.union[0]]
            sib = [str(m.valid_slot) for m in u.members if m is not h]
        return HRef(h, str(h.base), h, sib)

    def _scratch(self, h: HeaderInfo) -> int:
        """Slots standing in for an element past the end of a stack (one region per header type)."""
        key = f"$scratch:{h.type_name}"
        if key not in self.p.extra_slots:
            self.p.extra_slots[key] = self.p.nslots
            self.p.nslots += len(h.fields) + 2
        return self.p.extra_slots[key]

    def _elem_base(self, st: StackInfo, member: int, idx_code: str) -> str:
        """Code for the base slot of element `idx_code` (member `member` of a union stack)."""
        hs = [e[member] for e in st.elements]
        table = {i: h.base for i, h in enumerate(hs)}
        name = self._obj("SB", table)
        return f"{name}.get({idx_code}, {self._scratch(hs[0])})"

    def _elem_href(self, st: StackInfo, member: int, idx_code: str) -> HRef:
        tmpl = st.elements[0][member]
        if idx_code.lstrip("-").isdigit():
            i = int(idx_code)
            if 0 <= i < st.size:
                return self._static_href(st.elements[i][member])
        sib = []
        for j in range(len(st.member_names)):
            if j != member:
                other = st.elements[0][j]
                sib.append(f"{self._elem_base(st, j, idx_code)} + {len(other.fields)}")
        return HRef(tmpl, self._elem_base(st, member, idx_code), None, sib)

    def href(self, node: dict[str, Any]) -> HRef:
        """Resolve a header-valued JSON node (header, stack element, union member)."""
        t: Any = node.get("type")
        v: Any = node.get("value")
        if t == "header":
            h = self.p.headers.get(v)
            if h is None:
                raise SoftswitchError(f"unknown header {v}")
            return self._static_href(h)
        if t == "expression":
            if "op" not in v:
                return self.href(v)
            op = v["op"]
            if op == "dereference_header_stack":
                st = self._stack(v["left"]["value"])
                return self._elem_href(st, 0, self.expr(v["right"]))
            if op == "access_union_header":
                left = v["left"]
                idx = int(v["right"])
                if left.get("type") == "header_union":
                    u = self.p.unions.get(left["value"])
                    if u is None:
                        raise SoftswitchError(f"unknown header union {left['value']}")
                    return self._static_href(u.members[idx])
                lv = left["value"] if left.get("type") == "expression" else left
                if lv.get("op") == "dereference_union_stack":
                    st = self._stack(lv["left"]["value"])
                    return self._elem_href(st, idx, self.expr(lv["right"]))
            raise unimplemented(f"header expression '{op}'")
        raise unimplemented(f"header reference of type {t}")

    def union_members(self, node: dict[str, Any]) -> list[HRef]:
        """The member headers of a union-valued node (header_union or a union stack element)."""
        t: Any = node.get("type")
        v: Any = node.get("value")
        if t == "header_union":
            u = self.p.unions.get(v)
            if u is None:
                raise SoftswitchError(f"unknown header union {v}")
            return [self._static_href(m) for m in u.members]
        if t == "expression":
            if "op" not in v:
                return self.union_members(v)
            if v["op"] == "dereference_union_stack":
                st = self._stack(v["left"]["value"])
                idx = self.expr(v["right"])
                return [self._elem_href(st, j, idx) for j in range(len(st.member_names))]
        raise unimplemented(f"header union reference of type {t}")

    def is_header_node(self, node: Any) -> bool:
        if not isinstance(node, dict):
            return False
        t = node.get("type")
        if t == "header":
            return True
        if t == "expression":
            v = node["value"]
            return "op" in v and v["op"] in ("dereference_header_stack", "access_union_header")
        return False

    def is_union_node(self, node: Any) -> bool:
        if not isinstance(node, dict):
            return False
        t = node.get("type")
        if t == "header_union":
            return True
        if t == "expression":
            v = node["value"]
            return "op" in v and v["op"] == "dereference_union_stack"
        return False

    def lvalue(self, node: dict[str, Any]) -> tuple[str, int, bool, str]:
        """(slot code, width, signed, name) of a field-valued node."""
        t: Any = node.get("type")
        v: Any = node.get("value")
        if t == "field":
            if isinstance(v[0], dict):   # a run-time stack element's field (e.g. its $valid$)
                hr = self.href({"type": "expression", "value": v[0]})
                return self._href_field(hr, v[1])
            f = self._field(v)
            return str(f.slot), f.width, f.signed, f"{f.header}.{f.name}"
        if t == "stack_field":
            st = self._stack(v[0])
            hr = self._elem_href(st, 0, f"F[{st.next_slot}] - 1")
            return self._href_field(hr, v[1])
        if t == "union_stack_field":
            st = self._stack(v[0])
            member = st.member_names.index(v[1])
            hr = self._elem_href(st, member, f"F[{st.next_slot}] - 1")
            return self._href_field(hr, v[2])
        if t == "expression" and "op" not in v:     # p4c wraps expressions once more
            return self.lvalue(v)
        if t == "expression" and v.get("op") == "access_field":
            hr = self.href(v["left"])
            k = int(v["right"])
            f = hr.tmpl.fields[k]
            return hr.slot(k), f.width, f.signed, f"{hr.tmpl.name}.{f.name}"
        raise unimplemented(f"assignment target of type {t}")

    def _href_field(self, hr: HRef, fname: str) -> tuple[str, int, bool, str]:
        if fname == "$valid$":
            return hr.valid, 1, False, f"{hr.tmpl.name}.$valid$"
        for k, f in enumerate(hr.tmpl.fields):
            if f.name == fname:
                return hr.slot(k), f.width, f.signed, f"{hr.tmpl.name}.{fname}"
        raise SoftswitchError(f"header type {hr.tmpl.type_name} has no field {fname}")

    # ------------------------------------------------------------ mutation
    def set_valid(self, hr: HRef) -> None:
        """mark_valid: also invalidates the other members of its union (header_unions.h)."""
        self.w(f"F[{hr.valid}] = 1")
        for s in hr.siblings:
            self.w(f"F[{s}] = 0")

    def add_header(self, hr: HRef) -> None:
        """setValid (BMv2 add_header): zero the fields of an invalid header, then mark it valid."""
        w = self.w
        w(f"if not F[{hr.valid}]:")
        w.indent += 1
        for k in range(len(hr.tmpl.fields)):
            w(f"F[{hr.slot(k)}] = 0")
        self.set_valid(hr)
        w.indent -= 1

    def copy_header(self, dst: HRef, src: HRef) -> None:
        """assign_header: an invalid source invalidates the destination, else copy and mark valid."""
        w = self.w
        if dst.tmpl.type_name != src.tmpl.type_name:
            raise SoftswitchError(f"assignment between header types {dst.tmpl.type_name} and "
                                  f"{src.tmpl.type_name}")
        if dst.static is not None and dst.static is src.static:
            return
        w(f"if F[{src.valid}]:")
        w.indent += 1
        for k in range(len(dst.tmpl.fields)):
            w(f"F[{dst.slot(k)}] = F[{src.slot(k)}]")
        if dst.vl is not None and src.vl is not None:
            w(f"F[{dst.vl}] = F[{src.vl}]")
        self.set_valid(dst)
        w.indent -= 1
        w("else:")
        w(f"    F[{dst.valid}] = 0")

    def _swap(self, a: HeaderInfo, b: HeaderInfo) -> None:
        """swap_values of two headers of one type (fields, validity, varbit length)."""
        pairs = [(fa.slot, fb.slot) for fa, fb in zip(a.fields, b.fields, strict=False)]
        pairs.append((a.valid_slot, b.valid_slot))
        if a.vl_slot is not None and b.vl_slot is not None:
            pairs.append((a.vl_slot, b.vl_slot))
        left = ", ".join(f"F[{x}]" for x, _ in pairs)
        right = ", ".join(f"F[{y}]" for _, y in pairs)
        self.w(f"{left}, {right} = {right}, {left}")

    def push_pop(self, op: str, st_name: str, count_node: dict[str, Any]) -> None:
        """push_front/pop_front with P4_16 semantics (StackP4_16 in bm_sim/stacks.cpp)."""
        st = self._stack(st_name)
        if count_node.get("type") != "hexstr":
            raise unimplemented(f"{op} with a run-time count")
        num = hexstr(count_node["value"])
        if num <= 0:
            return
        size = st.size
        w = self.w
        nx = st.next_slot
        members = range(len(st.member_names))
        if op == "push":
            w(f"F[{nx}] = min({size}, F[{nx}] + {num})")
            for i in range(size - 1, num - 1, -1):
                for m in members:
                    self._swap(st.elements[i][m], st.elements[i - num][m])
            for i in range(min(size, num)):
                for m in members:
                    w(f"F[{st.elements[i][m].valid_slot}] = 0")
        else:
            w(f"F[{nx}] = F[{nx}] - min(F[{nx}], {num})")
            i = 0
            if num < size:
                for i in range(size - num):
                    for m in members:
                        self._swap(st.elements[i][m], st.elements[i + num][m])
                i = size - num
            for j in range(i, size):
                for m in members:
                    w(f"F[{st.elements[j][m].valid_slot}] = 0")

    def assign_stack(self, dst_name: str, src_name: str) -> None:
        """assign_header_stack / assign_union_stack: `next` and every element."""
        dst, src = self._stack(dst_name), self._stack(src_name)
        if dst.size != src.size:
            raise SoftswitchError(f"assignment between stacks {dst_name} and {src_name} of different sizes")
        self.w(f"F[{dst.next_slot}] = F[{src.next_slot}]")
        for de, se in zip(dst.elements, src.elements, strict=False):
            for dh, sh in zip(de, se, strict=False):
                self.copy_header(self._static_href(dh), self._static_href(sh))

    def header_equal(self, left: HRef, right: HRef) -> str:
        """Header::cmp: same type, both valid, all fields equal."""
        if left.tmpl.type_name != right.tmpl.type_name:
            return "False"
        parts = [f"F[{left.valid}]", f"F[{right.valid}]"]
        parts += [f"F[{left.slot(k)}] == F[{right.slot(k)}]" for k in range(len(left.tmpl.fields))]
        return "(" + " and ".join(parts) + ")"

    def union_equal(self, left: list[HRef], right: list[HRef]) -> str:
        """HeaderUnion::cmp: both valid with the same valid member, and that member equal."""
        alts = [self.header_equal(a, b) for a, b in zip(left, right, strict=False)]
        return "(" + " or ".join(alts) + ")" if alts else "False"
