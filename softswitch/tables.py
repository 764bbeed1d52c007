"""Match-action tables: entry storage, validation-free lookup structures, default entries.

Exact tables are one dict; the others hash on each distinct mask (flow-director entries share one).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.rpc import code_pb2

from .errors import SoftswitchError
from .json_model import Program, hexstr

MATCH_KINDS = ("exact", "lpm", "ternary", "range", "optional", "valid")


@dataclass
class KeyField:
    name: str
    kind: str
    width: int

    @property
    def full(self) -> int:
        return (1 << self.width) - 1


@dataclass(eq=False)
class Entry:
    """One installed entry. `matches` holds (value, mask) per field, or (lo, hi) for range fields."""
    matches: tuple[tuple[int, int], ...]
    priority: int                   # P4Runtime priority (0 for exact/lpm tables)
    action_id: int
    params: list[int]
    fn: Callable[..., Any] | None = None
    counter: list[int] | None = None
    meter: Any = None               # counters.Meter of a direct meter
    ref: tuple[str, int] | None = None   # ("member"|"group", id) in an action profile table
    idle_timeout_ns: int = 0        # P4Runtime TableEntry.idle_timeout_ns (0: never ages)
    last_hit: float = 0.0           # time.monotonic() of the last hit (or of the insert)
    aged: bool = False              # notified as idle; cleared by the next hit
    cookie: bytes = b""             # P4Runtime TableEntry.metadata, returned on Read
    is_const: bool = False
    eff: int = 0                    # effective priority: higher wins
    ranges: tuple[tuple[int, int, int], ...] | None = None

    def ident(self) -> tuple[Any, ...]:
        return (self.matches, self.priority)


@dataclass
class _Group:
    masks: tuple[int, ...]
    buckets: dict[tuple[int, ...], list[Entry]] = field(default_factory=dict)
    count: int = 0
    maxp: int = -1


class Table:
    """A table of the loaded program with its entries and default action."""

    def __init__(self, spec: dict[str, Any], prog: Program) -> None:
        self.name: str = spec["name"]
        self.json_id: int = spec["id"]
        if spec.get("type", "simple") not in ("simple", "indirect", "indirect_ws"):
            raise SoftswitchError(f"table {self.name}: implementation '{spec.get('type')}' "
                                  "is not supported", code_pb2.UNIMPLEMENTED)
        # an action profile/selector table: entries name a member or group (ActionProfile)
        self.profile_name: str | None = spec.get("action_profile") if spec.get("type") != "simple" \
            and spec.get("type") else None
        self.profile: Any = None
        self.support_timeout: bool = bool(spec.get("support_timeout"))
        self.keys: list[KeyField] = []
        for k in spec.get("key", []):
            kind = k["match_type"]
            if kind not in MATCH_KINDS:
                raise SoftswitchError(f"table {self.name}: match kind '{kind}' is not supported",
                                      code_pb2.UNIMPLEMENTED)
            if kind == "valid":
                width = 1
            else:
                f = prog.field_ref(k["target"])
                if f is None:
                    raise SoftswitchError(f"table {self.name}: unknown key field {k['target']}")
                width = f.width
            self.keys.append(KeyField(k.get("name") or ".".join(k["target"]), kind, width))
        self.size: int = int(spec.get("max_size", 1024))
        self.with_counters: bool = bool(spec.get("with_counters"))
        self.direct_meter: str | None = spec.get("direct_meters") or None
        self.action_names: list[str] = list(spec.get("actions", []))
        if "action_ids" in spec:
            self.action_ids: list[int] = list(spec["action_ids"])
        else:  # older compilers (p4c-bm) name the actions only
            by_name: dict[str, int] = {}
            for aid, a in sorted(prog.actions.items()):
                by_name.setdefault(a["name"], aid)
            self.action_ids = [by_name[n] for n in self.action_names]
        spec["action_ids"] = self.action_ids
        self.all_exact = all(k.kind in ("exact", "valid") for k in self.keys)
        self.has_priority = any(k.kind in ("ternary", "range", "optional") for k in self.keys)
        self.lpm_index = next((i for i, k in enumerate(self.keys) if k.kind == "lpm"), None)
        self.range_idx = tuple(i for i, k in enumerate(self.keys) if k.kind == "range")
        self.entries: dict[tuple[Any, ...], Entry] = {}
        self.exact: dict[tuple[int, ...], Entry] = {}
        self._groups: dict[tuple[int, ...], _Group] = {}
        self._order: list[tuple[tuple[int, ...], dict, int]] = []
        de = spec.get("default_entry") or {}
        self.default_action_id: int = de.get("action_id", self.action_ids[0] if self.action_ids else -1)
        self.default_params: list[int] = [hexstr(x) for x in de.get("action_data", [])]
        self.default_const: bool = bool(de.get("action_const"))
        self.initial_default = (self.default_action_id, list(self.default_params))
        self.default_fn: Callable[..., Any] = lambda F, P: None
        self.is_const = bool(spec.get("entries"))
        self.action_fns: dict[int, Callable[..., Any]] = {}
        self._const_specs = spec.get("entries") or []

    # ------------------------------------------------------------------ setup
    def bind(self, action_fns: dict[int, Callable[..., Any]]) -> None:
        """Attach generated action functions and load const entries from the JSON."""
        self.action_fns = action_fns
        self.default_fn = action_fns.get(self.default_action_id, lambda F, P: None)
        for spec in self._const_specs:
            matches = []
            for kf, mk in zip(self.keys, spec["match_key"], strict=False):
                kind = mk["match_type"]
                if kind in ("exact", "valid"):
                    v = hexstr(mk["key"]) if kind == "exact" else int(bool(mk["key"]))
                    matches.append((v, kf.full))
                elif kind == "lpm":
                    plen = int(mk["prefix_length"])
                    mask = (kf.full >> (kf.width - plen) << (kf.width - plen)) if plen else 0
                    matches.append((hexstr(mk["key"]) & mask, mask))
                elif kind in ("ternary", "optional"):
                    m = hexstr(mk["mask"]) if "mask" in mk else kf.full
                    matches.append((hexstr(mk["key"]) & m, m))
                elif kind == "range":
                    matches.append((hexstr(mk["start"]), hexstr(mk["end"])))
            ae = spec["action_entry"]
            # BMv2: a lower JSON priority value is a higher priority; P4Runtime is the reverse.
            prio = (1 << 24) - int(spec.get("priority", 0)) if self.has_priority else 0
            entry = Entry(tuple(matches), prio, ae["action_id"], [hexstr(x) for x in ae["action_data"]],
                          is_const=True)
            self.insert(entry, force=True)

    def set_default(self, action_id: int, params: list[int]) -> None:
        self.default_action_id = action_id
        self.default_params = params
        self.default_fn = self.action_fns[action_id]

    def reset_default(self) -> None:
        self.set_default(*self.initial_default)

    # ------------------------------------------------------------- mutation
    def _prepare(self, e: Entry) -> None:
        if not e.last_hit:
            e.last_hit = time.monotonic()
        e.fn = self.action_fns[e.action_id] if e.ref is None else None
        if self.with_counters and e.counter is None:
            e.counter = [0, 0]
        if self.direct_meter is not None and e.meter is None:
            from .counters import Meter
            e.meter = Meter()
        if self.has_priority:
            e.eff = e.priority
        elif self.lpm_index is not None:
            e.eff = bin(e.matches[self.lpm_index][1]).count("1")
        else:
            e.eff = 0
        e.ranges = tuple((i, e.matches[i][0], e.matches[i][1]) for i in self.range_idx) or None

    def _masks(self, e: Entry) -> tuple[int, ...]:
        return tuple(0 if i in self.range_idx else m[1] for i, m in enumerate(e.matches))

    def insert(self, e: Entry, force: bool = False) -> None:
        if self.is_const and not force:
            raise SoftswitchError(f"table {self.name} has const entries and cannot be changed",
                                  code_pb2.PERMISSION_DENIED)
        ident = e.ident()
        if ident in self.entries:
            raise SoftswitchError(f"entry already exists in table {self.name}", code_pb2.ALREADY_EXISTS)
        if len(self.entries) >= self.size:
            raise SoftswitchError(f"table {self.name} is full ({self.size} entries)",
                                  code_pb2.RESOURCE_EXHAUSTED)
        self._prepare(e)
        self.entries[ident] = e
        if self.all_exact:
            self.exact[tuple(m[0] for m in e.matches)] = e
            return
        masks = self._masks(e)
        g = self._groups.get(masks)
        if g is None:
            g = self._groups[masks] = _Group(masks)
        # Range fields take no part in the hash (mask 0): their bounds are checked per entry.
        bkey = tuple(0 if i in self.range_idx else m[0] for i, m in enumerate(e.matches))
        bucket = g.buckets.setdefault(bkey, [])
        bucket.append(e)
        bucket.sort(key=lambda x: -x.eff)
        g.count += 1
        g.maxp = max(g.maxp, e.eff)
        self._reorder()

    def _reorder(self) -> None:
        groups = sorted(self._groups.values(), key=lambda g: -g.maxp)
        self._order = [(g.masks, g.buckets, g.maxp) for g in groups]

    def find(self, matches: tuple[tuple[int, int], ...], priority: int) -> Entry | None:
        return self.entries.get((matches, priority))

    def modify(self, e: Entry) -> Entry:
        old = self.find(e.matches, e.priority)
        if old is None:
            raise SoftswitchError(f"entry not found in table {self.name}", code_pb2.NOT_FOUND)
        if self.is_const:
            raise SoftswitchError(f"table {self.name} has const entries and cannot be changed",
                                  code_pb2.PERMISSION_DENIED)
        # Mutate in place so that lookup structures and counters stay as they are.
        old.action_id = e.action_id
        old.params = e.params
        old.ref = e.ref
        old.fn = self.action_fns[e.action_id] if e.ref is None else None
        old.cookie = e.cookie
        old.idle_timeout_ns = e.idle_timeout_ns
        return old

    def delete(self, matches: tuple[tuple[int, int], ...], priority: int) -> Entry:
        if self.is_const:
            raise SoftswitchError(f"table {self.name} has const entries and cannot be changed",
                                  code_pb2.PERMISSION_DENIED)
        e = self.entries.pop((matches, priority), None)
        if e is None:
            raise SoftswitchError(f"entry not found in table {self.name}", code_pb2.NOT_FOUND)
        if self.all_exact:
            del self.exact[tuple(m[0] for m in e.matches)]
            return e
        masks = self._masks(e)
        g = self._groups[masks]
        bkey = tuple(0 if i in self.range_idx else m[0] for i, m in enumerate(e.matches))
        bucket = g.buckets[bkey]
        bucket.remove(e)
        if not bucket:
            del g.buckets[bkey]
        g.count -= 1
        if g.count == 0:
            del self._groups[masks]
        else:
            g.maxp = max(x.eff for b in g.buckets.values() for x in b)
        self._reorder()
        return e

    def clear(self) -> None:
        for e in list(self.entries.values()):
            if not e.is_const:
                self.delete(e.matches, e.priority)

    # --------------------------------------------------------------- lookup
    def lookup(self, key: tuple[int, ...]) -> Entry | None:
        best = None
        bp = -1
        for masks, buckets, maxp in self._order:
            if maxp <= bp:
                break
            bucket = buckets.get(tuple([k & m for k, m in zip(key, masks, strict=False)]))
            if bucket:
                for e in bucket:
                    if e.eff <= bp:
                        break
                    r = e.ranges
                    if r is None or all(lo <= key[i] <= hi for i, lo, hi in r):
                        best, bp = e, e.eff
                        break
        return best
