"""The v1model packet path (parser, checksum verify, ingress, egress, checksum update, deparser).

Follows simple_switch's order and drop rules; results of repeat packets come from the flow cache.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import json_model
from .codegen import DROP_PORT, CodeGen, Compiled, ExitPipeline
from .counters import CounterArray, MeterArray, RegisterArray, ValueSet
from .errors import SoftswitchError, unimplemented
from .flow_cache import CachedResult, FlowCache
from .json_model import Program
from .replication import PRE
from .tables import Table

log = logging.getLogger("softswitch.pipeline")

# standard_metadata.instance_type values (v1model.p4, simple_switch.h PktInstanceType)
INSTANCE_NORMAL = 0
INSTANCE_INGRESS_CLONE = 1
INSTANCE_EGRESS_CLONE = 2
INSTANCE_RECIRC = 4
INSTANCE_REPLICATION = 5
INSTANCE_RESUBMIT = 6
MAX_PASSES = 64      # passes per received frame (a resubmit/recirculate loop ends here)


@dataclass
class Stats:
    """What happened to frames, for logs and tests ("counters say what happened")."""
    received: int = 0
    forwarded: int = 0
    dropped: int = 0
    parser_errors: int = 0
    internal_errors: int = 0
    multicast_no_group: int = 0
    clone_no_session: int = 0
    loop_drops: int = 0


class Dataplane:
    """One loaded program with its state (tables, counters, registers) and compiled code."""

    def __init__(self, json_text: str | bytes, cache: bool = True, pre: PRE | None = None) -> None:
        self.json_text = json_text
        self.prog: Program = json_model.load(json_text)
        p = self.prog
        self.tables: dict[str, Table] = {name: Table(spec, p) for name, spec in p.tables.items()}
        self.counter_arrays: dict[str, CounterArray] = {
            name: CounterArray.from_json(spec) for name, spec in p.counters.items()}
        self.register_arrays: dict[str, RegisterArray] = {
            name: RegisterArray.from_json(spec) for name, spec in p.registers.items()}
        self.meter_arrays: dict[str, MeterArray] = {
            name: MeterArray.from_json(spec) for name, spec in p.meters.items()}
        for ma in self.meter_arrays.values():
            if ma.binding is not None:
                t = self.tables.get(ma.binding)
                if t is None:
                    raise SoftswitchError(f"direct meter {ma.name} bound to unknown table {ma.binding}")
                t.direct_meter = ma.name
        for ca in self.counter_arrays.values():
            if ca.binding is not None:
                t = self.tables.get(ca.binding)
                if t is None:
                    raise SoftswitchError(f"direct counter {ca.name} bound to unknown table {ca.binding}")
                t.with_counters = True
        pipelines = {pl["name"] for pl in p.raw.get("pipelines", [])}
        for needed in ("ingress", "egress"):
            if needed not in pipelines:
                raise unimplemented(f"a program without an '{needed}' pipeline (not v1model?)")
        self.value_sets: dict[str, ValueSet] = {}
        for vs in p.raw.get("parse_vsets", []) or []:
            bw = int(vs.get("compressed_bitwidth", 0))
            self.value_sets[vs["name"]] = ValueSet(vs["name"], [bw], int(vs.get("max_size", 64) or 64), [])
        from .action_profiles import ActionProfile
        self.action_profiles: dict[str, ActionProfile] = {}
        for name, spec in p.action_profiles.items():
            sel = spec.get("selector")
            ap = ActionProfile(name, int(spec.get("max_size", 1024) or 1024), sel is not None)
            if sel is not None:
                p.calculations[f"$selector:{name}"] = {"name": f"$selector:{name}", "algo": sel["algo"],
                                                       "input": sel.get("input", [])}
            self.action_profiles[name] = ap
        for t in self.tables.values():
            if t.profile_name is not None:
                t.profile = self.action_profiles.get(t.profile_name)
                if t.profile is None:
                    raise SoftswitchError(f"table {t.name}: unknown action profile {t.profile_name}")
                t.profile.action_ids.update(t.action_ids)
        cg = CodeGen(p, self.tables,
                     {n: c.cells for n, c in self.counter_arrays.items() if c.binding is None},
                     {n: r.cells for n, r in self.register_arrays.items()}, self.meter_arrays)
        cg.vsets = self.value_sets
        self.code: Compiled = cg.build()
        for t in self.tables.values():
            t.bind(self.code.actions)
        for name, ap in self.action_profiles.items():
            ap.action_fns = self.code.actions
            if ap.with_selector:
                ap.hash_fn = self.code.selectors[name]
        self.stats = Stats()

        def slot(name: str) -> int | None:
            f = p.std(name)
            return f.slot if f is not None else None
        s_ingress_port = slot("ingress_port")
        s_egress_spec = slot("egress_spec")
        self.s_egress_port = slot("egress_port")
        self.s_packet_length = slot("packet_length")
        self.s_parser_error = slot("parser_error")
        self.s_checksum_error = slot("checksum_error")
        self.s_instance_type = slot("instance_type")
        mg = p.std("mcast_grp") or p.field_ref(["intrinsic_metadata", "mcast_grp"])
        self.s_mcast = mg.slot if mg is not None else None
        rid = p.std("egress_rid") or p.field_ref(["intrinsic_metadata", "egress_rid"])
        self.s_egress_rid = rid.slot if rid is not None else None
        self.pre = pre if pre is not None else PRE()
        x = p.extra_slots
        self.SPECIAL, self.CLONE, self.CLONE_FL = x["$special"], x["$clone"], x["$clone_fl"]
        self.RESUBMIT, self.RECIRC, self.DIGEST, self.TRUNC = (x["$resubmit"], x["$recirc"], x["$digest"],
                                                               x["$trunc"])
        self.flag_slots = [self.SPECIAL, self.CLONE, self.CLONE_FL, self.RESUBMIT, self.RECIRC, self.DIGEST]
        self.meta_slots = [f.slot for h in p.headers.values() if h.metadata for f in h.fields]
        self.field_lists: dict[int, list[int]] = {}
        for fl in p.raw.get("field_lists", []) or []:
            self.field_lists[fl["id"]] = self._list_slots(fl)
        self.learn_lists: dict[int, list[int]] = {}
        for ll in p.raw.get("learn_lists", []) or []:
            self.learn_lists[ll["id"]] = self._list_slots(ll)
        self.digest_sink: Callable[[int, tuple[int, ...]], None] | None = None
        # simple_switch enqueue(): priority >= its 1 queue per port drops the packet
        prio = p.std("priority")
        self.s_priority = prio.slot if prio is not None and self.code.writes_priority else None
        self.time_slots = {}
        if self.code.reads_time:
            for name in ("ingress_global_timestamp", "egress_global_timestamp", "enq_timestamp",
                         "deq_timedelta", "enq_qdepth", "deq_qdepth"):
                f = p.std(name)
                if f is not None:
                    self.time_slots[name] = (f.slot, (1 << f.width) - 1)
        self.t0 = time.monotonic()
        if s_egress_spec is None or s_ingress_port is None:
            raise unimplemented("a program without standard_metadata.ingress_port/egress_spec")
        self.s_ingress_port: int = s_ingress_port
        self.s_egress_spec: int = s_egress_spec
        self.PLEN = p.extra_slots["$plen"]
        self.TRACE = p.extra_slots["$trace"]
        self.PAYLOAD = p.extra_slots["$payload"]
        tmpl: list[Any] = [0] * p.nslots    # field values, the trace (None or a list), the payload
        for h in p.headers.values():
            if h.metadata:
                tmpl[h.valid_slot] = 1
        tmpl[self.TRACE] = None
        tmpl[self.PAYLOAD] = b""
        tmpl[self.TRUNC] = None
        self.template = tmpl
        self.ingress = self.code.pipelines["ingress"]
        self.egress = self.code.pipelines["egress"]
        self.cache: FlowCache | None = None
        if cache and not self.code.uses_state and self.code.max_parse_bytes is not None:
            self.cache = FlowCache(self.code.max_parse_bytes, self.code.reads_packet_length)
        elif cache:
            why = ", ".join(self.code.uses_state) or "unbounded parser"
            log.info("flow cache off for this program: %s", why)

    def _list_slots(self, spec: dict[str, Any]) -> list[int]:
        slots = []
        for el in spec.get("elements", []):
            if el.get("type") != "field":
                raise unimplemented(f"field list element of type {el.get('type')} in {spec.get('name')}")
            f = self.prog.field_ref(el["value"])
            if f is None:
                raise SoftswitchError(f"field list {spec.get('name')}: unknown field {'.'.join(el['value'])}")
            slots.append(f.slot)
        return slots

    # ------------------------------------------------------------- packet path
    def invalidate(self) -> None:
        """Called after any control-plane change the pipeline may read."""
        if self.cache is not None:
            self.cache.clear()

    def process(self, port: int, pkt: bytes) -> Any:
        """Run one frame: None if dropped, (egress port, frame), or a list of such for several copies."""
        self.stats.received += 1
        cache = self.cache
        if cache is not None and cache.use():
            key = cache.key(pkt)
            pmap = cache.maps.get(port)
            hit = pmap.get(key) if pmap is not None else None
            if hit is not None:
                cache.hits += 1
                n = len(pkt)
                for c in hit.cells:
                    c[0] += 1
                    c[1] += n
                if hit.out_port is None:
                    self.stats.dropped += 1
                    return None
                self.stats.forwarded += 1
                if hit.unchanged:
                    return hit.out_port, pkt
                return hit.out_port, hit.headers + pkt[hit.consumed:]
            cache.misses += 1
            cache.check()
            trace: list | None = []
        else:
            trace = None
        try:
            res = self._run(port, pkt, trace)
        except Exception:  # a frame must never stop the switch
            self.stats.internal_errors += 1
            self.stats.dropped += 1
            log.exception("internal error processing a frame from port %d", port)
            return None
        if res.__class__ is list:   # replicated, recirculated, ...: several or no copies, not cached
            if res:
                self.stats.forwarded += len(res)
            else:
                self.stats.dropped += 1
            return res
        out, hdrs, consumed = res
        if cache is not None and trace is not None:
            cache.store(port, key, CachedResult(out, hdrs, consumed, tuple(trace),
                                                unchanged=hdrs == pkt[:consumed]))
        if out is None:
            self.stats.dropped += 1
            return None
        self.stats.forwarded += 1
        return out, hdrs + pkt[consumed:]

    def _run(self, port: int, pkt: bytes, trace: list | None) -> Any:
        """The common path; anything beyond one unicast copy continues in _general (never cached)."""
        code = self.code
        F = self.template[:]
        n = len(pkt)
        F[self.s_ingress_port] = port
        if self.s_packet_length is not None:
            F[self.s_packet_length] = n
        F[self.PLEN] = n
        F[self.TRACE] = trace
        consumed = self._ingress(F, pkt)
        if F[self.SPECIAL] or (self.s_mcast is not None and F[self.s_mcast]):
            F[self.TRACE] = None
            return self._general(F, pkt, consumed)
        spec = F[self.s_egress_spec]
        if spec == DROP_PORT:
            return None, b"", consumed
        if self.s_priority is not None and F[self.s_priority]:
            return None, b"", consumed
        if self.time_slots:
            self._stamp(F, "egress_global_timestamp", "enq_timestamp")
        if self.s_egress_port is not None:
            F[self.s_egress_port] = spec
        F[self.s_egress_spec] = DROP_PORT + 1
        if self.s_packet_length is not None:
            F[self.s_packet_length] = n
        node = self.egress
        try:
            while node is not None:
                node = node(F)
        except ExitPipeline:
            pass
        if F[self.SPECIAL]:
            F[self.TRACE] = None
            out: list[tuple[int, bytes]] = []
            ing: deque = deque()
            eg: deque = deque()
            self._after_egress(F, spec, ing, eg, out)
            self._drain(ing, eg, out)
            return out
        if F[self.s_egress_spec] == DROP_PORT:
            return None, b"", consumed
        code.update_checksums(F)
        return spec, code.deparse(F), consumed

    # ------------------------------------------------- replication and loops
    # simple_switch.cpp ingress_thread/egress_thread: clone (I2E, E2E), learning, resubmit,
    # multicast, drop, recirculate; instance types as in v1model.p4.
    def _general(self, F: list, pkt: bytes, consumed: int) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        ing: deque = deque()
        eg: deque = deque()
        self._after_ingress(F, pkt, ing, eg, out)
        self._drain(ing, eg, out)
        return out

    def _drain(self, ing: deque, eg: deque, out: list) -> None:
        passes = 0
        while ing or eg:
            passes += 1
            if passes > MAX_PASSES:
                self.stats.loop_drops += len(ing) + len(eg)
                log.warning("packet dropped after %d passes (resubmit/recirculate/clone loop)", MAX_PASSES)
                return
            if eg:
                F, port = eg.popleft()
                self._egress(F, port, ing, eg, out)
            else:
                F, pkt = ing.popleft()
                self._ingress(F, pkt)
                self._after_ingress(F, pkt, ing, eg, out)

    def _stamp(self, F: list, *names: str) -> None:
        """Timestamps in microseconds since the pipeline was loaded (BMv2 get_ts()); queues are empty."""
        now = int((time.monotonic() - self.t0) * 1e6)
        for name in names:
            sm = self.time_slots.get(name)
            if sm is not None:
                F[sm[0]] = now & sm[1]

    def _ingress(self, F: list, pkt: bytes) -> int:
        """Parser, checksum verification and the ingress control on F; the bytes parsed."""
        code = self.code
        consumed, err = code.parse(pkt, F)
        F[self.PAYLOAD] = pkt[consumed:]
        if err:
            self.stats.parser_errors += 1
        if self.s_parser_error is not None:
            F[self.s_parser_error] = err
        bad = code.verify_checksums(F)
        if self.s_checksum_error is not None:
            F[self.s_checksum_error] = bad
        if self.time_slots:
            self._stamp(F, "ingress_global_timestamp")
        node = self.ingress
        try:
            while node is not None:
                node = node(F)
        except ExitPipeline:
            pass
        return consumed

    def _fresh(self, pkt_len: int) -> list:
        """A PHV after reset_metadata, for a copy that is parsed again."""
        F = self.template[:]
        F[self.PLEN] = pkt_len
        return F

    def _reset_metadata(self, F: list) -> None:
        for s in self.meta_slots:
            F[s] = 0
        for s in self.flag_slots:
            F[s] = 0
        F[self.TRUNC] = None

    def _copy_field_list(self, fl_id: int, src: list, dst: list) -> None:
        for s in self.field_lists.get(fl_id, ()):
            dst[s] = src[s]

    def _set(self, F: list, slot: int | None, value: int) -> None:
        if slot is not None:
            F[slot] = value

    def _clone_copies(self, C: list, session: int, eg: deque) -> None:
        cfg = self.pre.clones.get(session)
        if cfg is None:
            self.stats.clone_no_session += 1
            return
        for port, rid in cfg.replicas:
            D = C[:]
            self._set(D, self.s_egress_rid, rid)
            if cfg.packet_length_bytes:
                D[self.TRUNC] = cfg.packet_length_bytes if D[self.TRUNC] is None \
                    else min(D[self.TRUNC], cfg.packet_length_bytes)
            eg.append((D, port))

    def _after_ingress(self, F: list, pkt: bytes, ing: deque, eg: deque, out: list) -> None:
        ilen = F[self.PLEN]
        if F[self.CLONE]:
            session, fl = F[self.CLONE] & 0x7FFF, F[self.CLONE_FL]
            F[self.CLONE] = F[self.CLONE_FL] = 0
            if session in self.pre.clones:
                C = self._fresh(ilen)
                C[self.s_ingress_port] = F[self.s_ingress_port]
                consumed, _ = self.code.parse(pkt, C)
                C[self.PAYLOAD] = pkt[consumed:]
                self._reset_metadata(C)
                self._copy_field_list(fl, F, C)
                self._set(C, self.s_instance_type, INSTANCE_INGRESS_CLONE)
                self._clone_copies(C, session, eg)
            else:
                self.stats.clone_no_session += 1
        if F[self.DIGEST]:
            self.learn(F[self.DIGEST], F)
            F[self.DIGEST] = 0
        if F[self.RESUBMIT]:
            R = self._fresh(ilen)
            self._copy_field_list(F[self.RESUBMIT], F, R)
            self._set(R, self.s_instance_type, INSTANCE_RESUBMIT)
            self._set(R, self.s_packet_length, ilen)
            ing.append((R, pkt))
            return
        if self.s_mcast is not None and F[self.s_mcast]:
            self._set(F, self.s_instance_type, INSTANCE_REPLICATION)
            reps = self.pre.replicas(F[self.s_mcast])
            if not reps:
                self.stats.multicast_no_group += 1
            for port, rid in reps:
                D = F[:]
                self._set(D, self.s_egress_rid, rid)
                eg.append((D, port))
            return
        spec = F[self.s_egress_spec]
        if spec == DROP_PORT:
            return
        self._set(F, self.s_instance_type, INSTANCE_NORMAL)
        eg.append((F, spec))

    def _egress(self, F: list, port: int, ing: deque, eg: deque, out: list) -> None:
        if self.s_priority is not None and F[self.s_priority]:
            return
        if self.time_slots:
            self._stamp(F, "egress_global_timestamp", "enq_timestamp")
        self._set(F, self.s_egress_port, port)
        F[self.s_egress_spec] = DROP_PORT + 1
        self._set(F, self.s_packet_length, F[self.PLEN])
        node = self.egress
        try:
            while node is not None:
                node = node(F)
        except ExitPipeline:
            pass
        self._after_egress(F, port, ing, eg, out)

    def _after_egress(self, F: list, port: int, ing: deque, eg: deque, out: list) -> None:
        if F[self.CLONE]:
            session, fl = F[self.CLONE] & 0x7FFF, F[self.CLONE_FL]
            F[self.CLONE] = F[self.CLONE_FL] = 0
            if session in self.pre.clones:
                C = F[:]
                self._reset_metadata(C)
                self._copy_field_list(fl, F, C)
                self._set(C, self.s_instance_type, INSTANCE_EGRESS_CLONE)
                C[self.PLEN] = F[self.PLEN]
                self._clone_copies(C, session, eg)
            else:
                self.stats.clone_no_session += 1
        if F[self.s_egress_spec] == DROP_PORT:
            return
        self.code.update_checksums(F)
        frame = self.code.deparse(F) + F[self.PAYLOAD]
        if F[self.RECIRC]:
            R = self._fresh(len(frame))
            self._copy_field_list(F[self.RECIRC], F, R)
            self._set(R, self.s_instance_type, INSTANCE_RECIRC)
            self._set(R, self.s_packet_length, len(frame))
            ing.append((R, frame))
            return
        if F[self.TRUNC] is not None:
            frame = frame[:F[self.TRUNC]]
        out.append((port, frame))

    def learn(self, learn_id: int, F: list) -> None:
        """A digest: the learn list's field values, handed to the digest sink (set by the Device)."""
        slots = self.learn_lists.get(learn_id)
        if slots is None or self.digest_sink is None:
            return
        self.digest_sink(learn_id, tuple(F[s] for s in slots))

    # ------------------------------------------------------------------- misc
    def describe(self) -> dict[str, Any]:
        return {"tables": list(self.tables), "counters": list(self.counter_arrays),
                "registers": list(self.register_arrays), "cache": self.cache is not None}
