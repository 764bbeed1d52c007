"""The switch as P4Runtime sees it: pipeline config, entity writes and reads, packet I/O hooks.

Independent of gRPC so that it can be tested directly; p4runtime_server.py is a thin layer on top.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from google.rpc import code_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from . import replication
from .digests import Digests
from .errors import SoftswitchError
from .p4info_map import (
    Binding,
    apply_meter_config,
    bytes_to_int,
    counter_data,
    int_to_bytes,
    meter_config,
    value_set_entry,
    value_set_members,
)
from .pipeline import Dataplane
from .replication import PRE
from .tables import Entry

log = logging.getLogger("softswitch.device")
Update = p4runtime_pb2.Update


class Device:
    """Holds the current program and all its state; every method is thread-safe."""

    def __init__(self, device_id: int = 0, cpu_port: int | None = None, cache: bool = True) -> None:
        self.device_id = device_id
        self.cpu_port = cpu_port
        self.use_cache = cache
        # Held by the frame loop around each batch and by every control-plane change.
        self.lock = threading.RLock()
        self.dp: Dataplane | None = None
        self.binding: Binding | None = None
        self.p4info: p4info_pb2.P4Info | None = None
        self.device_config: bytes = b""
        self.cookie: p4runtime_pb2.ForwardingPipelineConfig.Cookie | None = None
        # VERIFY_AND_SAVE keeps a verified config here until COMMIT (P4Runtime spec §7.6)
        self.saved: tuple[Dataplane, Binding, p4runtime_pb2.ForwardingPipelineConfig] | None = None
        self.pre = PRE()
        self.digests = Digests()
        # IdleTimeoutNotification sink (set by the P4Runtime server) and the sweeper thread
        self.idle_send: Callable[[p4runtime_pb2.IdleTimeoutNotification], None] | None = None
        self._idle_thread: threading.Thread | None = None

    # ------------------------------------------------------------ pipeline
    def load_json(self, json_text: bytes, p4info: p4info_pb2.P4Info | None = None) -> None:
        """Load a program at start (--json / positional JSON), with or without a P4Info."""
        dp = _build(json_text, self.use_cache, self.pre)
        binding = Binding(p4info, dp) if p4info is not None else None
        with self.lock:
            dp.digest_sink = self.digests.sample
            self.dp, self.binding, self.p4info = dp, binding, p4info
            self.device_config = json_text

    def set_pipeline(self, req: p4runtime_pb2.SetForwardingPipelineConfigRequest) -> None:
        """SetForwardingPipelineConfig with the actions of P4Runtime spec §7.6.

        VERIFY checks only; VERIFY_AND_SAVE checks and keeps the config for a later COMMIT while the
        running one forwards on; VERIFY_AND_COMMIT replaces the pipeline with empty forwarding state;
        COMMIT makes the saved config the running one (FAILED_PRECONDITION if none is saved);
        RECONCILE_AND_COMMIT replaces it keeping the forwarding state that still fits.
        """
        A = p4runtime_pb2.SetForwardingPipelineConfigRequest
        if req.device_id != self.device_id:
            raise SoftswitchError(f"invalid device id {req.device_id}", code_pb2.NOT_FOUND)
        if req.action == A.UNSPECIFIED:
            raise SoftswitchError("SetForwardingPipelineConfig action is unspecified")
        if req.action not in (A.VERIFY, A.VERIFY_AND_SAVE, A.VERIFY_AND_COMMIT, A.COMMIT,
                              A.RECONCILE_AND_COMMIT):
            raise SoftswitchError(f"SetForwardingPipelineConfig action {req.action} is not a valid action")
        if req.action == A.COMMIT:
            with self.lock:
                if self.saved is None:
                    raise SoftswitchError("COMMIT without a config saved by VERIFY_AND_SAVE",
                                          code_pb2.FAILED_PRECONDITION)
                dp, binding, cfg = self.saved
                self.saved = None
                self._install(dp, binding, cfg)
            return
        cfg = req.config
        if not cfg.HasField("p4info") or not cfg.p4_device_config:
            raise SoftswitchError("the config needs both a P4Info and a p4_device_config (BMv2 JSON)")
        dp = _build(cfg.p4_device_config, self.use_cache, self.pre)
        binding = Binding(cfg.p4info, dp)
        if req.action == A.VERIFY:
            return
        with self.lock:
            if req.action == A.VERIFY_AND_SAVE:
                self.saved = (dp, binding, cfg)
                return
            if req.action == A.RECONCILE_AND_COMMIT and self.dp is not None:
                _carry_state(self.dp, dp)
            else:
                # a new pipeline starts with no forwarding state: no groups or clone sessions either
                self.pre.groups.clear()
                self.pre.clones.clear()
                self.digests.clear()
            self.saved = None
            self._install(dp, binding, cfg)

    def _install(self, dp: Dataplane, binding: Binding,
                 cfg: p4runtime_pb2.ForwardingPipelineConfig) -> None:
        dp.digest_sink = self.digests.sample
        if any(t.support_timeout for t in dp.tables.values()) and self._idle_thread is None:
            self._idle_thread = threading.Thread(target=self._idle_loop, daemon=True, name="idle-timeout")
            self._idle_thread.start()
        self.dp, self.binding, self.p4info = dp, binding, cfg.p4info
        self.device_config = cfg.p4_device_config
        self.cookie = cfg.cookie if cfg.HasField("cookie") else None
        log.info("pipeline set: %s", dp.describe())

    IDLE_SWEEP_S = 0.1

    def _idle_loop(self) -> None:
        while True:
            time.sleep(self.IDLE_SWEEP_S)
            try:
                self.sweep_idle()
            except Exception:  # the sweeper must outlive any one bad sweep
                log.exception("idle timeout sweep failed")

    def sweep_idle(self, now: float | None = None) -> p4runtime_pb2.IdleTimeoutNotification | None:
        """Entries idle longer than their idle_timeout_ns, notified once until hit again (PI/BMv2
        ageing); returns the notification sent, if any."""
        now = time.monotonic() if now is None else now
        with self.lock:
            b = self.binding
            if b is None:
                return None
            note = p4runtime_pb2.IdleTimeoutNotification()
            for tb in b.tables.values():
                if not tb.table.support_timeout:
                    continue
                for e in tb.table.entries.values():
                    if e.idle_timeout_ns and not e.aged and (now - e.last_hit) * 1e9 >= e.idle_timeout_ns:
                        e.aged = True
                        note.table_entry.append(b.entry_to_proto(tb, e, False))
            if not note.table_entry:
                return None
            note.timestamp = time.time_ns()
        if self.idle_send is not None:
            self.idle_send(note)
        return note

    def get_pipeline(self, req: p4runtime_pb2.GetForwardingPipelineConfigRequest
                     ) -> p4runtime_pb2.GetForwardingPipelineConfigResponse:
        R = p4runtime_pb2.GetForwardingPipelineConfigRequest
        if req.device_id != self.device_id:
            raise SoftswitchError(f"invalid device id {req.device_id}", code_pb2.NOT_FOUND)
        resp = p4runtime_pb2.GetForwardingPipelineConfigResponse()
        with self.lock:
            if self.p4info is None:
                raise SoftswitchError("no forwarding pipeline config set for this device",
                                      code_pb2.FAILED_PRECONDITION)
            cfg = resp.config
            if self.cookie is not None:
                cfg.cookie.CopyFrom(self.cookie)
            if req.response_type in (R.ALL, R.P4INFO_AND_COOKIE):
                cfg.p4info.CopyFrom(self.p4info)
            if req.response_type in (R.ALL, R.DEVICE_CONFIG_AND_COOKIE):
                cfg.p4_device_config = self.device_config
        return resp

    def _ready(self) -> Binding:
        if self.binding is None:
            raise SoftswitchError("no forwarding pipeline config set for this device",
                                  code_pb2.FAILED_PRECONDITION)
        return self.binding

    # --------------------------------------------------------------- write
    def write(self, req: p4runtime_pb2.WriteRequest) -> list[SoftswitchError | None]:
        """Apply updates in order (CONTINUE_ON_ERROR); return one error or None per update."""
        if req.atomicity != p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR:
            raise SoftswitchError("only CONTINUE_ON_ERROR atomicity is supported", code_pb2.UNIMPLEMENTED)
        results: list[SoftswitchError | None] = []
        with self.lock:
            b = self._ready()
            for upd in req.updates:
                try:
                    self._write_one(b, upd)
                    results.append(None)
                except SoftswitchError as exc:
                    results.append(exc)
            assert self.dp is not None
            self.dp.invalidate()
        return results

    def _write_one(self, b: Binding, upd: p4runtime_pb2.Update) -> None:
        kind = upd.entity.WhichOneof("entity")
        if upd.type == Update.UNSPECIFIED:
            raise SoftswitchError("update type is not set")
        if upd.type not in (Update.INSERT, Update.MODIFY, Update.DELETE):
            raise SoftswitchError(f"update type {upd.type} is not one of INSERT, MODIFY, DELETE")
        if kind == "table_entry":
            self._write_table_entry(b, upd.type, upd.entity.table_entry)
        elif kind == "counter_entry":
            self._write_counter(b, upd.type, upd.entity.counter_entry)
        elif kind == "direct_counter_entry":
            self._write_direct_counter(b, upd.type, upd.entity.direct_counter_entry)
        elif kind == "register_entry":
            self._write_register(b, upd.type, upd.entity.register_entry)
        elif kind == "packet_replication_engine_entry":
            replication.write(self.pre, upd.type, upd.entity.packet_replication_engine_entry)
        elif kind == "meter_entry":
            self._write_meter(b, upd.type, upd.entity.meter_entry)
        elif kind == "digest_entry":
            self.digests.write(upd.type, upd.entity.digest_entry, b.digests)
        elif kind == "action_profile_member":
            self._write_member(b, upd.type, upd.entity.action_profile_member)
        elif kind == "action_profile_group":
            self._write_group(b, upd.type, upd.entity.action_profile_group)
        elif kind == "value_set_entry":
            if upd.type != Update.MODIFY:
                raise SoftswitchError("value set entries only take MODIFY")
            vse = upd.entity.value_set_entry
            if vse.value_set_id not in b.value_sets:
                raise SoftswitchError(f"unknown value set id {vse.value_set_id}", code_pb2.NOT_FOUND)
            info, vs = b.value_sets[vse.value_set_id]
            vs.members = value_set_members(info, vs, vse)
        elif kind == "direct_meter_entry":
            self._write_direct_meter(b, upd.type, upd.entity.direct_meter_entry)
        elif kind is None:
            raise SoftswitchError("update has no entity")
        else:
            raise SoftswitchError(f"writing {kind} is not supported by softswitch", code_pb2.UNIMPLEMENTED)

    def _write_table_entry(self, b: Binding, utype: int, te: p4runtime_pb2.TableEntry) -> None:
        if te.is_default_action:
            tb = b.table(te.table_id)
            if utype == Update.INSERT:
                raise SoftswitchError("cannot use INSERT for the default entry (use MODIFY)")
            if utype == Update.DELETE:
                raise SoftswitchError("cannot use DELETE for the default entry (use MODIFY)")
            if te.match:
                raise SoftswitchError("non-empty key for the default entry")
            if te.priority:
                raise SoftswitchError("non-zero priority for the default entry")
            if tb.const_default:
                raise SoftswitchError(f"cannot set the default action of table {tb.name}, which has a "
                                      "const default action", code_pb2.PERMISSION_DENIED)
            if not te.HasField("action"):
                tb.table.reset_default()  # MODIFY without action: back to the program's default
                return
            action_id, params = b.parse_action(tb, te.action, default=True)
            tb.table.set_default(action_id, params)
            return
        if utype == Update.DELETE:
            tb, entry = b.entry_from_proto(te, need_action=False)
            old = tb.table.delete(entry.matches, entry.priority)
            if tb.table.profile is not None:
                tb.table.profile.release(old.ref)
            return
        tb, entry = b.entry_from_proto(te)
        if not tb.table.keys:
            raise SoftswitchError(f"table {tb.name} has no key: only its default action can be set")
        prof = tb.table.profile
        if prof is not None:
            self._table_entry_ref(tb, utype, entry)
            return
        if utype == Update.INSERT:
            tb.table.insert(entry)
            if te.HasField("counter_data") and entry.counter is not None:
                entry.counter[0] = te.counter_data.packet_count
                entry.counter[1] = te.counter_data.byte_count
        elif utype == Update.MODIFY:
            tb.table.modify(entry)
            if te.HasField("meter_config"):
                cur = tb.table.find(entry.matches, entry.priority)
                if cur is not None and cur.meter is not None:
                    apply_meter_config(cur.meter, te.meter_config, f"table {tb.name} meter_config")
            if te.HasField("counter_data"):
                cur = tb.table.find(entry.matches, entry.priority)
                if cur is not None and cur.counter is not None:
                    cur.counter[0] = te.counter_data.packet_count
                    cur.counter[1] = te.counter_data.byte_count

    def _table_entry_ref(self, tb, utype: int, entry: Entry) -> None:
        """INSERT/MODIFY in an action profile table: member/group references counted, one-shot
        action sets made into hidden groups only once the entry is accepted."""
        prof = tb.table.profile
        old = tb.table.find(entry.matches, entry.priority)
        if utype == Update.INSERT and old is not None:
            raise SoftswitchError(f"entry already exists in table {tb.name}", code_pb2.ALREADY_EXISTS)
        if utype == Update.MODIFY and old is None:
            raise SoftswitchError(f"entry not found in table {tb.name}", code_pb2.NOT_FOUND)
        assert entry.ref is not None
        if entry.ref[0] == "oneshot":
            entry.ref = prof.one_shot(entry.ref[1])
        prof.acquire(entry.ref)
        try:
            if utype == Update.INSERT:
                tb.table.insert(entry)
            else:
                old_ref = old.ref
                tb.table.modify(entry)
                prof.release(old_ref)
        except SoftswitchError:
            prof.release(entry.ref)
            raise

    def _profile_action(self, b: Binding, pb, action: p4runtime_pb2.Action) -> tuple[int, list[int]]:
        return b.parse_action(pb.table, p4runtime_pb2.TableAction(action=action), default=False)

    def _write_member(self, b: Binding, utype: int, m: p4runtime_pb2.ActionProfileMember) -> None:
        pb = b.profile(m.action_profile_id)
        if utype == Update.DELETE:
            pb.profile.delete_member(m.member_id)
            return
        aid, params = self._profile_action(b, pb, m.action)
        if utype == Update.INSERT:
            pb.profile.add_member(m.member_id, aid, params)
        else:
            pb.profile.modify_member(m.member_id, aid, params)

    def _write_group(self, b: Binding, utype: int, g: p4runtime_pb2.ActionProfileGroup) -> None:
        pb = b.profile(g.action_profile_id)
        if utype == Update.DELETE:
            pb.profile.delete_group(g.group_id)
            return
        max_size = g.max_size
        if pb.max_group_size and max_size > pb.max_group_size:
            raise SoftswitchError(f"action profile {pb.name}: group max_size {max_size} is above the "
                                  f"profile's max_group_size {pb.max_group_size}")
        pb.profile.set_group(g.group_id, [(x.member_id, x.weight or 1) for x in g.members],
                             max_size or pb.max_group_size, insert=utype == Update.INSERT)

    def _read_profiles(self, b: Binding, kind: str, ent, out: list) -> None:
        want = ent.action_profile_id
        for pid, pb in b.profiles.items():
            if want and pid != want:
                continue
            prof = pb.profile
            if kind == "action_profile_member":
                for mid, m in prof.members.items():
                    if mid >= 1 << 40 or (ent.member_id and mid != ent.member_id):
                        continue
                    holder = p4runtime_pb2.TableAction()
                    b._action_to_proto(pb.table, m.action_id, m.params, holder)
                    e = p4runtime_pb2.ActionProfileMember(action_profile_id=pid, member_id=mid,
                                                          action=holder.action)
                    out.append(p4runtime_pb2.Entity(action_profile_member=e))
            else:
                for gid, g in prof.groups.items():
                    if g.one_shot or (ent.group_id and gid != ent.group_id):
                        continue
                    e = p4runtime_pb2.ActionProfileGroup(action_profile_id=pid, group_id=gid,
                                                         max_size=g.max_size)
                    for mid, w in g.members:
                        e.members.add(member_id=mid, weight=w)
                    out.append(p4runtime_pb2.Entity(action_profile_group=e))

    def _write_counter(self, b: Binding, utype: int, ce: p4runtime_pb2.CounterEntry) -> None:
        if utype != Update.MODIFY:
            raise SoftswitchError("counter entries only take MODIFY")
        cb = b.counter(ce.counter_id)
        cells = cb.array.cells
        idx = range(len(cells)) if not ce.HasField("index") else [ce.index.index]
        for i in idx:
            if i < 0 or i >= len(cells):
                raise SoftswitchError(f"counter {cb.name}: index {i} is out of range 0..{len(cells) - 1}",
                                      code_pb2.OUT_OF_RANGE)
            cells[i][0] = ce.data.packet_count
            cells[i][1] = ce.data.byte_count

    def _write_direct_counter(self, b: Binding, utype: int, dce: p4runtime_pb2.DirectCounterEntry) -> None:
        if utype != Update.MODIFY:
            raise SoftswitchError("direct counter entries only take MODIFY")
        tb, entry = b.entry_from_proto(dce.table_entry, need_action=False)
        b.direct_table(tb.p4_id)
        found = tb.table.find(entry.matches, entry.priority)
        if found is None:
            raise SoftswitchError(f"entry not found in table {tb.name}", code_pb2.NOT_FOUND)
        assert found.counter is not None
        found.counter[0] = dce.data.packet_count
        found.counter[1] = dce.data.byte_count

    def _write_meter(self, b: Binding, utype: int, me: p4runtime_pb2.MeterEntry) -> None:
        if utype != Update.MODIFY:
            raise SoftswitchError("meter entries only take MODIFY")
        mb = b.meter(me.meter_id)
        cells = mb.array.cells
        idx = range(len(cells)) if not me.HasField("index") else [me.index.index]
        for i in idx:
            if i < 0 or i >= len(cells):
                raise SoftswitchError(f"meter {mb.name}: index {i} is out of range 0..{len(cells) - 1}",
                                      code_pb2.OUT_OF_RANGE)
        for i in idx:
            if me.HasField("config"):
                apply_meter_config(cells[i], me.config, f"meter {mb.name}")
            else:
                cells[i].reset()

    def _write_direct_meter(self, b: Binding, utype: int, dme: p4runtime_pb2.DirectMeterEntry) -> None:
        if utype != Update.MODIFY:
            raise SoftswitchError("direct meter entries only take MODIFY")
        tb, entry = b.entry_from_proto(dme.table_entry, need_action=False)
        b.direct_meter_table(tb.p4_id)
        found = tb.table.find(entry.matches, entry.priority)
        if found is None or found.meter is None:
            raise SoftswitchError(f"entry not found in table {tb.name}", code_pb2.NOT_FOUND)
        if dme.HasField("config"):
            apply_meter_config(found.meter, dme.config, f"direct meter of table {tb.name}")
        else:
            found.meter.reset()

    def _read_meter(self, b: Binding, me: p4runtime_pb2.MeterEntry, out: list) -> None:
        mbs = list(b.meters.values()) if me.meter_id == 0 else [b.meter(me.meter_id)]
        for mb in mbs:
            cells = mb.array.cells
            idx = [me.index.index] if me.HasField("index") else range(len(cells))
            for i in idx:
                if i < 0 or i >= len(cells):
                    raise SoftswitchError(f"meter {mb.name}: index {i} is out of range", code_pb2.OUT_OF_RANGE)
                m = p4runtime_pb2.MeterEntry(meter_id=mb.p4_id)
                m.index.index = i
                cfg = meter_config(cells[i])
                if cfg is not None:
                    m.config.CopyFrom(cfg)
                out.append(p4runtime_pb2.Entity(meter_entry=m))

    def _read_direct_meter(self, b: Binding, dme: p4runtime_pb2.DirectMeterEntry, out: list) -> None:
        te = dme.table_entry
        tbs = [tb for tb in b.tables.values() if tb.table.direct_meter is not None] if te.table_id == 0 \
            else [b.direct_meter_table(te.table_id)]
        for tb in tbs:
            if te.match:
                _, probe = b.entry_from_proto(te, need_action=False)
                found = tb.table.find(probe.matches, te.priority)
                if found is None:
                    raise SoftswitchError(f"entry not found in table {tb.name}", code_pb2.NOT_FOUND)
                entries = [found]
            else:
                entries = list(tb.table.entries.values())
            for e in entries:
                full = b.entry_to_proto(tb, e, False)
                key = p4runtime_pb2.TableEntry(table_id=full.table_id, match=full.match, priority=full.priority)
                d = p4runtime_pb2.DirectMeterEntry(table_entry=key)
                cfg = meter_config(e.meter) if e.meter is not None else None
                if cfg is not None:
                    d.config.CopyFrom(cfg)
                out.append(p4runtime_pb2.Entity(direct_meter_entry=d))

    def _write_register(self, b: Binding, utype: int, re_: p4runtime_pb2.RegisterEntry) -> None:
        if utype != Update.MODIFY:
            raise SoftswitchError("register entries only take MODIFY")
        rb = b.register(re_.register_id)
        cells = rb.array.cells
        if re_.data.WhichOneof("data") != "bitstring":
            raise SoftswitchError(f"register {rb.name}: data must be a bitstring")
        value = bytes_to_int(re_.data.bitstring, rb.array.bitwidth, f"register {rb.name}")
        idx = range(len(cells)) if not re_.HasField("index") else [re_.index.index]
        for i in idx:
            if i < 0 or i >= len(cells):
                raise SoftswitchError(f"register {rb.name}: index {i} is out of range", code_pb2.OUT_OF_RANGE)
            cells[i] = value

    # ---------------------------------------------------------------- read
    def read(self, req: p4runtime_pb2.ReadRequest) -> Iterator[p4runtime_pb2.Entity]:
        """All entities matching the request, computed under the lock then yielded."""
        if req.device_id != self.device_id:
            raise SoftswitchError(f"invalid device id {req.device_id}", code_pb2.NOT_FOUND)
        out: list[p4runtime_pb2.Entity] = []
        with self.lock:
            b = self._ready()
            for ent in req.entities:
                kind = ent.WhichOneof("entity")
                if kind == "table_entry":
                    self._read_table(b, ent.table_entry, out)
                elif kind == "counter_entry":
                    self._read_counter(b, ent.counter_entry, out)
                elif kind == "direct_counter_entry":
                    self._read_direct_counter(b, ent.direct_counter_entry, out)
                elif kind == "register_entry":
                    self._read_register(b, ent.register_entry, out)
                elif kind == "packet_replication_engine_entry":
                    out.extend(replication.read(self.pre, ent.packet_replication_engine_entry))
                elif kind == "meter_entry":
                    self._read_meter(b, ent.meter_entry, out)
                elif kind == "digest_entry":
                    out.extend(self.digests.read(ent.digest_entry.digest_id))
                elif kind in ("action_profile_member", "action_profile_group"):
                    self._read_profiles(b, kind, getattr(ent, kind), out)
                elif kind == "value_set_entry":
                    want = ent.value_set_entry.value_set_id
                    for vid, (info, vs) in b.value_sets.items():
                        if want in (0, vid):
                            out.append(p4runtime_pb2.Entity(value_set_entry=value_set_entry(info, vs)))
                elif kind == "direct_meter_entry":
                    self._read_direct_meter(b, ent.direct_meter_entry, out)
                else:
                    raise SoftswitchError(f"reading {kind} is not supported by softswitch",
                                          code_pb2.UNIMPLEMENTED)
        return iter(out)

    def _read_table(self, b: Binding, te: p4runtime_pb2.TableEntry, out: list) -> None:
        with_counter = te.HasField("counter_data")
        tbs = list(b.tables.values()) if te.table_id == 0 else [b.table(te.table_id)]
        for tb in tbs:
            if te.is_default_action:
                out.append(p4runtime_pb2.Entity(table_entry=b.default_to_proto(tb, with_counter)))
                continue
            if te.match:
                _, probe = b.entry_from_proto(te, need_action=False)
                found = tb.table.find(probe.matches, te.priority)
                entries = [found] if found is not None else []
            else:
                entries = list(tb.table.entries.values())
                if te.priority:
                    entries = [e for e in entries if e.priority == te.priority]
            for e in entries:
                if te.metadata and e.cookie != te.metadata:
                    continue
                pe = b.entry_to_proto(tb, e, with_counter)
                if te.HasField("time_since_last_hit") and tb.table.support_timeout:
                    pe.time_since_last_hit.elapsed_ns = int((time.monotonic() - e.last_hit) * 1e9)
                if te.HasField("meter_config") and e.meter is not None:
                    cfg = meter_config(e.meter)
                    if cfg is not None:
                        pe.meter_config.CopyFrom(cfg)
                out.append(p4runtime_pb2.Entity(table_entry=pe))

    def _read_counter(self, b: Binding, ce: p4runtime_pb2.CounterEntry, out: list) -> None:
        cbs = list(b.counters.values()) if ce.counter_id == 0 else [b.counter(ce.counter_id)]
        for cb in cbs:
            cells = cb.array.cells
            if ce.HasField("index"):
                i = ce.index.index
                if i < 0 or i >= len(cells):
                    raise SoftswitchError(f"counter {cb.name}: index {i} is out of range",
                                          code_pb2.OUT_OF_RANGE)
                idx: range | list[int] = [i]
            else:
                idx = range(len(cells))
            for i in idx:
                entry = p4runtime_pb2.CounterEntry(counter_id=cb.p4_id, data=counter_data(cells[i], cb.unit))
                entry.index.index = i
                out.append(p4runtime_pb2.Entity(counter_entry=entry))

    def _read_direct_counter(self, b: Binding, dce: p4runtime_pb2.DirectCounterEntry, out: list) -> None:
        te = dce.table_entry
        tbs = [tb for tb in b.tables.values() if tb.table.with_counters] if te.table_id == 0 \
            else [b.direct_table(te.table_id)]
        for tb in tbs:
            unit = b.direct_units.get(tb.direct_counter_id, 0)
            if te.match:
                _, probe = b.entry_from_proto(te, need_action=False)
                found = tb.table.find(probe.matches, te.priority)
                if found is None:
                    raise SoftswitchError(f"entry not found in table {tb.name}", code_pb2.NOT_FOUND)
                assert found.counter is not None
                # As PI does: the requested table entry is echoed back with the data.
                d = p4runtime_pb2.DirectCounterEntry(table_entry=te, data=counter_data(found.counter, unit))
                out.append(p4runtime_pb2.Entity(direct_counter_entry=d))
                continue
            for e in tb.table.entries.values():
                assert e.counter is not None
                # As PI does: the entry is identified by table id, match key and priority only.
                full = b.entry_to_proto(tb, e, False)
                key = p4runtime_pb2.TableEntry(table_id=full.table_id, match=full.match, priority=full.priority)
                d = p4runtime_pb2.DirectCounterEntry(table_entry=key, data=counter_data(e.counter, unit))
                out.append(p4runtime_pb2.Entity(direct_counter_entry=d))

    def _read_register(self, b: Binding, re_: p4runtime_pb2.RegisterEntry, out: list) -> None:
        rbs = list(b.registers.values()) if re_.register_id == 0 else [b.register(re_.register_id)]
        for rb in rbs:
            cells = rb.array.cells
            idx = [re_.index.index] if re_.HasField("index") else range(len(cells))
            for i in idx:
                if i < 0 or i >= len(cells):
                    raise SoftswitchError(f"register {rb.name}: index {i} is out of range",
                                          code_pb2.OUT_OF_RANGE)
                r = p4runtime_pb2.RegisterEntry(register_id=rb.p4_id)
                r.index.index = i
                r.data.bitstring = int_to_bytes(cells[i])
                out.append(p4runtime_pb2.Entity(register_entry=r))

    # ------------------------------------------------------------ packet io
    def packet_out_frame(self, po: p4runtime_pb2.PacketOut) -> bytes:
        """The frame to inject on the CPU port: packet_out metadata header, then the payload."""
        b = self._ready()
        meta = b.packet_out
        if not meta.fields:
            return po.payload
        values = {m.metadata_id: m.value for m in po.metadata}
        acc = 0
        for mid, name, width in meta.fields:
            raw = values.get(mid)
            v = bytes_to_int(raw, width, f"packet_out metadata {name}") if raw else 0
            acc = (acc << width) | v
        nbits = meta.nbits
        pad = (-nbits) % 8
        return (acc << pad).to_bytes((nbits + pad) // 8, "big") + po.payload

    def packet_in(self, frame: bytes) -> p4runtime_pb2.PacketIn:
        """PacketIn for a frame sent to the CPU port; strips the packet_in header if declared."""
        pi = p4runtime_pb2.PacketIn()
        b = self.binding
        meta = b.packet_in if b is not None else None
        if meta is None or not meta.fields:
            pi.payload = frame
            return pi
        nbytes = (meta.nbits + 7) // 8
        acc = int.from_bytes(frame[:nbytes], "big") >> ((-meta.nbits) % 8)
        shift = meta.nbits
        for mid, _, width in meta.fields:
            shift -= width
            pi.metadata.add(metadata_id=mid, value=int_to_bytes((acc >> shift) & ((1 << width) - 1)))
        pi.payload = frame[nbytes:]
        return pi


def _carry_state(old: Dataplane, new: Dataplane) -> None:
    """RECONCILE_AND_COMMIT: keep entries, defaults, counters and registers that still fit.

    A table keeps its entries when it has the same name and key layout and the entry's action
    still exists (by name) with the same parameter count; anything else starts empty.
    """
    for name, ot in old.tables.items():
        nt = new.tables.get(name)
        if nt is None or [(k.kind, k.width) for k in ot.keys] != [(k.kind, k.width) for k in nt.keys]:
            continue
        old_names = dict(zip(ot.action_ids, ot.action_names, strict=False))
        new_ids = dict(zip(nt.action_names, nt.action_ids, strict=False))
        for e in ot.entries.values():
            if e.is_const or e.ref is not None:   # action profile entries start over with the profile
                continue
            nid = _remap_action(new, old_names, new_ids, e.action_id, e.params)
            if nid is None:
                continue
            ne = Entry(e.matches, e.priority, nid, list(e.params), cookie=e.cookie)
            try:
                nt.insert(ne)
            except SoftswitchError:
                continue
            if ne.counter is not None and e.counter is not None:
                ne.counter[:] = e.counter
        if not nt.default_const:
            nid = _remap_action(new, old_names, new_ids, ot.default_action_id, ot.default_params)
            if nid is not None:
                nt.set_default(nid, list(ot.default_params))
    for name, oc in old.counter_arrays.items():
        nc = new.counter_arrays.get(name)
        if nc is not None and nc.binding is None and len(nc.cells) == len(oc.cells):
            for dst, src in zip(nc.cells, oc.cells, strict=True):
                dst[:] = src
    for name, orr in old.register_arrays.items():
        nr = new.register_arrays.get(name)
        if nr is not None and nr.bitwidth == orr.bitwidth and len(nr.cells) == len(orr.cells):
            nr.cells[:] = orr.cells


def _remap_action(new: Dataplane, old_names: dict[int, str], new_ids: dict[str, int], aid: int,
                  params: list[int]) -> int | None:
    """The new program's id of action `aid` (by name), None when gone or its parameter count changed."""
    nid = new_ids.get(old_names.get(aid, ""))
    if nid is None or len(new.prog.actions[nid].get("runtime_data", [])) != len(params):
        return None
    return nid


def _build(json_text: bytes, cache: bool, pre: PRE | None = None) -> Dataplane:
    """Load a program; a malformed JSON is an INVALID_ARGUMENT naming what broke, never a crash."""
    try:
        return Dataplane(json_text, cache=cache, pre=pre)
    except SoftswitchError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise SoftswitchError(f"malformed BMv2 JSON: {type(exc).__name__} {exc}") from None
