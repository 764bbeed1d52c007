"""The v1model packet path (parser, checksum verify, ingress, egress, checksum update, deparser).

Follows simple_switch's order and drop rules; results of repeat packets come from the flow cache.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from . import json_model
from .codegen import DROP_PORT, CodeGen, Compiled, ExitPipeline
from .counters import CounterArray, RegisterArray
from .errors import SoftswitchError, unimplemented
from .flow_cache import CachedResult, FlowCache
from .json_model import Program
from .tables import Table

log = logging.getLogger("softswitch.pipeline")


@dataclass
class Stats:
    """What happened to frames, for logs and tests ("counters say what happened")."""
    received: int = 0
    forwarded: int = 0
    dropped: int = 0
    parser_errors: int = 0
    internal_errors: int = 0
    unsupported_multicast: int = 0


class Dataplane:
    """One loaded program with its state (tables, counters, registers) and compiled code."""

    def __init__(self, json_text: str | bytes, cache: bool = True) -> None:
        self.json_text = json_text
        self.prog: Program = json_model.load(json_text)
        p = self.prog
        self.tables: dict[str, Table] = {name: Table(spec, p) for name, spec in p.tables.items()}
        self.counter_arrays: dict[str, CounterArray] = {
            name: CounterArray.from_json(spec) for name, spec in p.counters.items()}
        self.register_arrays: dict[str, RegisterArray] = {
            name: RegisterArray.from_json(spec) for name, spec in p.registers.items()}
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
        cg = CodeGen(p, self.tables,
                     {n: c.cells for n, c in self.counter_arrays.items() if c.binding is None},
                     {n: r.cells for n, r in self.register_arrays.items()})
        self.code: Compiled = cg.build()
        for t in self.tables.values():
            t.bind(self.code.actions)
        self.stats = Stats()

        def slot(name: str) -> int | None:
            f = p.std(name)
            return f.slot if f is not None else None
        self.s_ingress_port = slot("ingress_port")
        self.s_egress_spec = slot("egress_spec")
        self.s_egress_port = slot("egress_port")
        self.s_packet_length = slot("packet_length")
        self.s_parser_error = slot("parser_error")
        self.s_checksum_error = slot("checksum_error")
        self.s_instance_type = slot("instance_type")
        mg = p.std("mcast_grp") or p.field_ref(["intrinsic_metadata", "mcast_grp"])
        self.s_mcast = mg.slot if mg is not None else None
        if self.s_egress_spec is None or self.s_ingress_port is None:
            raise unimplemented("a program without standard_metadata.ingress_port/egress_spec")
        self.PLEN = p.extra_slots["$plen"]
        self.TRACE = p.extra_slots["$trace"]
        self.PAYLOAD = p.extra_slots["$payload"]
        tmpl = [0] * p.nslots
        for h in p.headers.values():
            if h.metadata:
                tmpl[h.valid_slot] = 1
        tmpl[self.TRACE] = None
        tmpl[self.PAYLOAD] = b""
        self.template = tmpl
        self.ingress = self.code.pipelines["ingress"]
        self.egress = self.code.pipelines["egress"]
        self.cache: FlowCache | None = None
        if cache and not self.code.uses_state and self.code.max_parse_bytes is not None:
            self.cache = FlowCache(self.code.max_parse_bytes, self.code.reads_packet_length)
        elif cache:
            why = ", ".join(self.code.uses_state) or "unbounded parser"
            log.info("flow cache off for this program: %s", why)

    # ------------------------------------------------------------- packet path
    def invalidate(self) -> None:
        """Called after any control-plane change the pipeline may read."""
        if self.cache is not None:
            self.cache.clear()

    def process(self, port: int, pkt: bytes) -> tuple[int, bytes] | None:
        """Run one frame; return (egress port, frame) or None if dropped."""
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
            out, hdrs, consumed = self._run(port, pkt, trace)
        except Exception:  # a frame must never stop the switch
            self.stats.internal_errors += 1
            self.stats.dropped += 1
            log.exception("internal error processing a frame from port %d", port)
            return None
        if cache is not None and trace is not None:
            cache.store(port, key, CachedResult(out, hdrs, consumed, tuple(trace),
                                                unchanged=hdrs == pkt[:consumed]))
        if out is None:
            self.stats.dropped += 1
            return None
        self.stats.forwarded += 1
        return out, hdrs + pkt[consumed:]

    def _run(self, port: int, pkt: bytes, trace: list | None) -> tuple[int | None, bytes, int]:
        code = self.code
        F = self.template[:]
        n = len(pkt)
        F[self.s_ingress_port] = port
        if self.s_packet_length is not None:
            F[self.s_packet_length] = n
        F[self.PLEN] = n
        F[self.TRACE] = trace
        consumed, err = code.parse(pkt, F)
        F[self.PAYLOAD] = pkt[consumed:]
        if err:
            self.stats.parser_errors += 1
        if self.s_parser_error is not None:
            F[self.s_parser_error] = err
        bad_cksum = code.verify_checksums(F)
        if self.s_checksum_error is not None:
            F[self.s_checksum_error] = bad_cksum
        node = self.ingress
        try:
            while node is not None:
                node = node(F)
        except ExitPipeline:
            pass
        if self.s_mcast is not None and F[self.s_mcast]:
            # The packet replication engine is not modelled; say so instead of guessing.
            self.stats.unsupported_multicast += 1
            return None, b"", consumed
        spec = F[self.s_egress_spec]
        if spec == DROP_PORT:
            return None, b"", consumed
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
        if F[self.s_egress_spec] == DROP_PORT:
            return None, b"", consumed
        code.update_checksums(F)
        return spec, code.deparse(F), consumed

    # ------------------------------------------------------------------- misc
    def describe(self) -> dict[str, Any]:
        return {"tables": list(self.tables), "counters": list(self.counter_arrays),
                "registers": list(self.register_arrays), "cache": self.cache is not None}
