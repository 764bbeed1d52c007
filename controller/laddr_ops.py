"""All-or-nothing operations on the switch (and the lcore workers): init, local address
add/del, hand-made filters, and the write-with-rollback they all go through.

Every operation reads the switch first, validates completely, and only then writes; a write
that fails part-way is undone so the switch ends exactly as it began.
"""
from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.entries import COOKIE_HAND, Entry, EntryKey
from controller.errors import BadInput, Conflict, RollbackFailed, StateError, WorkerError, WriteFailed
from controller.overlap import equal_priority_overlaps
from controller.p4names import P4Names
from controller.p4rt_client import (
    DELETE,
    INSERT,
    MODIFY,
    UPDATE_NAMES,
    P4RTClient,
    P4RuntimeWriteError,
    pipeline_cookie,
)
from controller.rules import FILTER_PRIORITY, Layout, base_entries, canonical_ip, laddr_entries, miss_entry
from controller.state import SwitchState, read_state
from controller.undo import Undo
from controller.workers import WorkerClient, WorkerSet, attach_laddr
from fdirlab.hostport import host_port
from fdirlab.lab_config import Lab
from fdirlab.lb_addr import lb_addr_problem
from fdirlab.mask_math import DEFAULT_HIGH, DEFAULT_LOW

Update = tuple[int, Entry]          # (INSERT | MODIFY | DELETE, entry); MODIFY/DELETE carry the new/old entry


@dataclass
class Ctx:
    """One controller session: the switch, its names, and (optionally) the lab's workers."""

    client: P4RTClient
    names: P4Names
    workers_for: Callable[[int], WorkerSet | None] = lambda n: None
    batch_size: int = 1000
    p4info: object | None = None          # for init/reconcile pipeline pushes
    device_config: bytes | None = None
    lab: Lab | None = None                # the lab file, when given: LB addresses are checked against it

    def state(self, counters: bool = False) -> SwitchState:
        return read_state(self.client, self.names, counters)

    def initialised_state(self) -> SwitchState:
        st = self.state()
        if st.layout is None:
            detail = f" ({st.problems[0]})" if st.problems else ""
            raise StateError(f"switch {self.client.grpc_addr} is not initialised by fdirctl{detail}: "
                             f"run `fdirctl init` (or `reconcile --lab`) first")
        return st

    def initialised(self) -> tuple[SwitchState, Layout]:
        """The switch's state and its layout; StateError when fdirctl has not initialised it."""
        st = self.initialised_state()
        assert st.layout is not None      # initialised_state() raised otherwise
        return st, st.layout


@dataclass
class WriteReport:
    written: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


def write_all(ctx: Ctx, updates: list[Update], what: str,
              old: dict[EntryKey, Entry] | None = None) -> WriteReport:
    """Write the updates; if any fails, undo every one that took effect and raise WriteFailed
    naming the failed update and the switch's reason. `old` gives the previous value of
    MODIFY targets (needed to undo them)."""
    rep = WriteReport()
    if not updates:
        return rep
    encode = ctx.names.encode
    try:
        ctx.client.write(updates, ctx.batch_size, fill=lambda te, e: encode(e, te))
    except P4RuntimeWriteError as err:
        first = err.failed[0]
        detailed = err.applied is not None
        try:
            n_undone, applied = _undo(ctx, updates, err.applied, old or {})
        except Exception as e:  # the switch now holds a partial set: say so loudly
            desc = _describe(updates, first.index)
            raise RollbackFailed(f"{what}: update {first.index} ({desc}) failed: {first.code}: {first.message}; "
                                 f"ROLLBACK FAILED too ({e}): run `fdirctl status` and `reconcile`",
                                 update=first.index) from None
        index = first.index
        if not detailed:
            # The switch gave no per-update status (P4Runtime spec §12.3 makes it optional):
            # the failed update is the first of the failed batch that did not take effect.
            index = next((i for i in range(first.index, len(updates)) if i not in applied), first.index)
        desc = _describe(updates, index)
        raise WriteFailed(f"{what}: update {index + 1} of {len(updates)} ({desc}) rejected by the switch: "
                          f"{first.code}: {first.message}; the {n_undone} applied update(s) were undone",
                          update=index, code=first.code, reason=first.message, undone=n_undone) from None
    rep.written = len(updates)
    for t, _ in updates:
        rep.by_type[UPDATE_NAMES[t]] = rep.by_type.get(UPDATE_NAMES[t], 0) + 1
    return rep


def _describe(updates: list[Update], index: int) -> str:
    if not 0 <= index < len(updates):
        return "?"
    t, e = updates[index]
    return f"{UPDATE_NAMES.get(t, '?')} {e.describe()}"


def _undo(ctx: Ctx, updates: list[Update], applied: set[int] | None,
          old: dict[EntryKey, Entry]) -> tuple[int, set[int]]:
    """Reverse the applied updates, newest first; returns (updates undone, indexes that had
    been applied). If the switch did not say which updates were applied, read it back and
    decide per entry (ours = same key and same cookie)."""
    if applied is None:
        now = ctx.state().by_key()
        applied = set()
        for i, (t, e) in enumerate(updates):
            cur = now.get(e.key)
            if t == INSERT and cur is not None and cur.value == e.value:
                applied.add(i)
            elif t == DELETE and cur is None:
                applied.add(i)
            elif t == MODIFY and cur is not None and cur.value == e.value and e.key in old \
                    and old[e.key].value != e.value:
                applied.add(i)
    undo: list[tuple[int, Entry]] = []
    for i in sorted(applied, reverse=True):
        t, e = updates[i]
        if t == INSERT:
            undo.append((DELETE, e))
        elif t == DELETE:
            undo.append((INSERT, e))
        else:
            undo.append((MODIFY, old[e.key]))
    if undo:
        saved, ctx.client.inject_fail_at = ctx.client.inject_fail_at, None
        try:
            ctx.client.write(undo, ctx.batch_size, fill=lambda te, e: ctx.names.encode(e, te))
        finally:
            ctx.client.inject_fail_at = saved
    return len(undo), applied


# --- local addresses ------------------------------------------------------------------

def check_lb_addr(addr: str, lab: Lab | None, what: str = "local address") -> str:
    """The canonical text of an LB address (local address or VIP) added at run time; BadInput
    naming it and the reason when fdirlab.lb_addr refuses it (the lab file's own rule: subnet
    and host checks need the lab file, the others apply always). Nothing has been changed."""
    c = canonical_ip(addr, what)
    why = lab.lb_addr_problem(c) if lab is not None else lb_addr_problem(c)
    if why:
        raise BadInput(f"{what} {addr!r}: {why}; nothing changed")
    return c


def _parse_laddrs(addrs: list[str], lab: Lab | None = None, check: bool = True) -> list[str]:
    out: list[str] = []
    for a in addrs:
        c = check_lb_addr(a, lab) if check else canonical_ip(a, "local address")
        if c in out:
            raise BadInput(f"local address {a!r}: given twice")
        out.append(c)
    return out


def _check_free(st: SwitchState, entries: list[Entry]) -> None:
    have = st.by_key()
    for e in entries:
        cur = have.get(e.key)
        if cur is not None:
            kind, subject, _ = cur.owner
            who = {"hand": "a hand-made filter", "laddr": f"local address {subject}",
                   "base": "the init configuration", "lcore": "the init configuration"}.get(kind, "a foreign entry")
            raise Conflict(f"entry {e.describe()} already exists on the switch, owned by {who}; nothing written")


def add_laddrs(ctx: Ctx, addrs: list[str], slots: list[int] | None = None, attach: bool = False) -> dict[str, Any]:
    """Install every entry of the local addresses, then create the workers' sa_pools, then
    (attach) bind them to every worker service of their family (ipvsadm --add-laddr). All or
    nothing: a failure at any step undoes the earlier ones. Adding an address that is
    already present is an error (exit 4), never a duplicate."""
    wanted = _parse_laddrs(addrs, ctx.lab)
    if not wanted:
        raise BadInput("no local address given")
    st = ctx.initialised_state()
    layout = st.layout
    assert layout is not None            # initialised_state() raised otherwise
    for a in wanted:
        if a in st.laddrs:
            raise Conflict(f"local address {a} is already present ({len(st.laddrs[a].entries)} entries); "
                           f"adding it twice is an error: `laddr del {a}` first")
        if a in layout.vips:
            raise Conflict(f"local address {a} is a VIP of this switch")
    # slots are per address family, as DPVS keeps sa_pools and flow rules (sa_pool.c)
    used = {(ipaddress.ip_address(a).version, ls.slot) for a, ls in st.laddrs.items()}
    if slots is not None:
        if len(slots) != len(wanted):
            raise BadInput(f"{len(slots)} slot(s) for {len(wanted)} address(es)")
        for a, s in zip(wanted, slots, strict=True):
            fam = ipaddress.ip_address(a).version
            if s < 0 or (fam, s) in used:
                raise Conflict(f"slot {s} is already used by another IPv{fam} local address" if s >= 0
                               else f"slot {s}: must be >= 0")
            used.add((fam, s))
        pairs = list(zip(wanted, slots, strict=True))
    else:
        pairs = []
        for a in wanted:
            fam, nxt = ipaddress.ip_address(a).version, 0
            while (fam, nxt) in used:
                nxt += 1
            pairs.append((a, nxt))
            used.add((fam, nxt))
    entries: list[Entry] = []
    for a, s in pairs:
        entries += laddr_entries(layout, a, s)
    _check_free(st, entries)
    _check_no_equal_priority_overlap(st, entries)
    workers = ctx.workers_for(layout.n_lcores)
    adopted: set[tuple[int, str]] = set()
    if workers is not None:
        workers.check_reachable()          # fail before writing if a worker is down
        adopted = _leftover_pools(workers, pairs)
    rep = write_all(ctx, [(INSERT, e) for e in entries], "laddr add")
    attached: list[tuple[Any, ...]] = []
    if workers is not None:
        pools_added = False
        try:
            workers.add_pools(pairs, skip=adopted)   # undoes its own pools on failure
            pools_added = True
            if attach:
                for a, _ in pairs:
                    attach_laddr(workers, a, attached)
        except (WorkerError, RollbackFailed) as e:
            undo = Undo()
            if pools_added:
                for c, svc, a in reversed(attached):
                    undo.step(f"lcore {c.lcore} still has {a} on service {svc['proto']} "
                              f"{host_port(svc['vip'], svc['vport'])}",
                              functools.partial(c.call, "service_laddr_del", vip=svc["vip"], vport=svc["vport"],
                                                proto=svc["proto"], laddr=a))
                for a, s in pairs:
                    holders = [c for c in workers.clients if (c.lcore, a) not in adopted]
                    undo.step(f"the workers' pools of {a}",
                              functools.partial(WorkerSet.of(holders).del_pools, [(a, s)], force=True))
            undo.step(f"the {len(entries)} switch entries (run `fdirctl laddr del` or `reconcile`)",
                      functools.partial(write_all, ctx, [(DELETE, x) for x in reversed(entries)],
                                        "laddr add rollback"))
            undo.check(e)
            raise type(e)(f"{e}; the {len(entries)} switch entries were removed again", **e.details) from None
    return {"added": [{"laddr": a, "slot": s} for a, s in pairs], "entries": rep.written,
            "workers": 0 if workers is None else len(workers), "attached": len(attached)}


def del_laddrs(ctx: Ctx, addrs: list[str], force: bool = False) -> dict[str, Any]:
    """Remove local addresses wherever they are: detach them from the workers' services
    (DPVS ipvsadm --del-laddr), drop the workers' pools (refused while conns use them unless
    force), then remove exactly the entries carrying their cookies. An address only the
    workers still hold (a leftover) is removed from them. Refused, with nothing changed, if
    it is the last local address of a worker's service. Any address may be deleted (also one
    the LB-address rule refuses today: it may have been added before the rule)."""
    wanted = _parse_laddrs(addrs, ctx.lab, check=False)
    if not wanted:
        raise BadInput("no local address given")
    st = ctx.initialised_state()
    layout = st.layout
    assert layout is not None            # initialised_state() raised otherwise
    workers = ctx.workers_for(layout.n_lcores)
    held: dict[str, list[WorkerClient]] = {a: [] for a in wanted}   # workers holding a pool of the address
    attached: list[tuple[Any, ...]] = []                   # (client, service, addr) to detach
    if workers is not None:
        workers.check_reachable()
        part = layout.partition
        for c in workers.clients:
            lo, hi = c.info().get("port_range", [DEFAULT_LOW, DEFAULT_HIGH])
            pools = {p["laddr"]: int(p.get("slot", 0)) for p in c.pools().get("pools", []) if isinstance(p, dict)}
            for a in wanted:
                if a in pools:
                    held[a].append(c)
            for svc in c.services().get("services", []):
                laddrs = svc.get("laddrs", [])
                gone = [a for a in wanted if a in laddrs]
                if not gone:
                    continue
                if len(gone) == len(laddrs):
                    raise Conflict(f"local address {gone[0]} is the last local address of lcore {c.lcore}'s "
                                   f"service {svc['proto']} {host_port(svc['vip'], svc['vport'])}: add another "
                                   f"first (`fdirctl laddr add ADDR`); nothing changed")
                # every lcore must keep a local port for every service (DPVS sa_pool.c: an lcore
                # binds only ports it owns); the laddr scheme gives each address one lcore
                left = [x for x in laddrs if x not in wanted and x in pools]
                if not any(len(part.owned_ports(c.lcore, pools[x], lo, hi)) for x in left) and \
                        any(len(part.owned_ports(c.lcore, pools[x], lo, hi)) for x in gone if x in pools):
                    raise Conflict(f"deleting {', '.join(gone)} leaves lcore {c.lcore} no local port for its "
                                   f"service {svc['proto']} {host_port(svc['vip'], svc['vport'])}: add another local "
                                   f"address first (`fdirctl laddr add ADDR`); nothing changed")
                attached += [(c, svc, a) for a in gone]
    for a in wanted:
        if a not in st.laddrs and not held[a] and not any(x[2] == a for x in attached):
            raise Conflict(f"local address {a} is not present (not on the switch, no worker holds it)")
    pairs = [(a, st.laddrs[a].slot if a in st.laddrs else 0) for a in wanted]
    detached = []
    dropped: list[tuple[Any, ...]] = []
    try:
        for c, svc, a in attached:
            c.call("service_laddr_del", vip=svc["vip"], vport=svc["vport"], proto=svc["proto"], laddr=a)
            detached.append((c, svc, a))
        for a, s in pairs:
            if held[a]:
                slots = {c.lcore: s for c in held[a]}
                WorkerSet.of(held[a]).del_pools([(a, s)], force)
                dropped += [(c, a, slots[c.lcore]) for c in held[a]]
        # lb_addr/ARP first, filters last: the reverse of add
        entries = [e for a in wanted if a in st.laddrs for e in reversed(st.laddrs[a].entries)]
        entries.sort(key=lambda e: e.table.startswith("fdir_"))
        rep = write_all(ctx, [(DELETE, e) for e in entries], "laddr del")
    except (WorkerError, WriteFailed, RollbackFailed) as e:
        # put the workers back as they were: pools, then service attachments
        undo = Undo()
        for c, a, s in reversed(dropped):
            undo.step(f"lcore {c.lcore} lost its pool of {a} (slot {s})", functools.partial(c.pool_add, a, s))
        for c, svc, a in reversed(detached):
            undo.step(f"lcore {c.lcore} lost {a} on service {svc['proto']} {host_port(svc['vip'], svc['vport'])}",
                      functools.partial(c.call, "service_laddr_add", vip=svc["vip"], vport=svc["vport"],
                                        proto=svc["proto"], laddr=a))
        undo.check(e)
        raise
    return {"deleted": [{"laddr": a, "slot": s} for a, s in pairs], "entries": rep.written,
            "detached": len(detached)}


def _leftover_pools(workers: WorkerSet, pairs: list[tuple[str, int]]) -> set[tuple[int, str]]:
    """Pools the workers already hold for addresses being added (left by a crash or a switch
    restart): with the same slot they are adopted; with another slot adding is refused."""
    out: set[tuple[int, str]] = set()
    want = dict(pairs)
    for c in workers.clients:
        for p in c.pools().get("pools", []):
            a = p.get("laddr") if isinstance(p, dict) else None
            if a in want:
                if int(p.get("slot", 0)) != want[a]:
                    raise Conflict(f"lcore {c.lcore} already has an sa_pool for {a} with slot {p.get('slot')} "
                                   f"(a leftover): `fdirctl laddr del {a} --force` first; nothing written")
                out.add((c.lcore, a))
    return out


def _check_no_equal_priority_overlap(st: SwitchState, entries: list[Entry]) -> None:
    """Refuse a filter that overlaps an existing one of the same priority: P4Runtime (§9.1)
    leaves the winner to the switch, so the steering would be undefined."""
    fdir = [e for e in st.entries if e.table in ("fdir_v4", "fdir_v6")]
    for e in entries:
        if e.table not in ("fdir_v4", "fdir_v6"):
            continue
        clash = equal_priority_overlaps(e, fdir)
        if clash:
            c = clash[0]
            kind, subject, _ = c.owner
            who = {"hand": "a hand-made filter", "laddr": f"local address {subject}"}.get(kind, "a foreign entry")
            raise Conflict(f"filter {e.describe()} overlaps {c.describe()} ({who}) at the same priority "
                           f"{e.priority}: the switch would pick either; use another --priority "
                           f"(generated filters use {FILTER_PRIORITY}); nothing written")


def list_laddrs(st: SwitchState) -> list[dict[str, Any]]:
    out = []
    for a, ls in sorted(st.laddrs.items(), key=lambda kv: (kv[1].slot, kv[0])):
        probs = st.laddr_problems(a) if st.layout else []
        out.append({"laddr": a, "slot": ls.slot, "family": ipaddress.ip_address(a).version,
                    "entries": len(ls.entries), "complete": not probs, "problems": probs})
    return out


# --- hand-made filters ---------------------------------------------------------------

def add_filter(ctx: Ctx, entry: Entry) -> dict[str, Any]:
    st = ctx.state()
    _check_free(st, [entry])
    _check_no_equal_priority_overlap(st, [entry])
    write_all(ctx, [(INSERT, entry)], "filter add")
    return {"added": entry.describe()}


def del_filter(ctx: Ctx, entry: Entry) -> dict[str, Any]:
    st = ctx.state()
    cur = st.by_key().get(entry.key)
    if cur is None:
        raise Conflict(f"no filter {entry.describe()} on the switch")
    if cur.cookie != COOKIE_HAND:
        kind, subject, _ = cur.owner
        raise Conflict(f"filter {entry.describe()} is not hand-made (owner: {kind} {subject}); "
                       f"`filter del` only removes hand-made filters")
    write_all(ctx, [(DELETE, cur)], "filter del")
    return {"deleted": cur.describe()}


# --- init ------------------------------------------------------------------------------

def ensure_pipeline(ctx: Ctx, force: bool = False) -> bool:
    """Push the program unless the switch already runs exactly it (same cookie). True if pushed."""
    if ctx.p4info is None or ctx.device_config is None:
        raise StateError("no compiled program to push (p4src/build/fdir.json + fdir.p4info.txtpb)")
    _, cookie = ctx.client.get_pipeline()
    if not force and cookie == pipeline_cookie(ctx.p4info, ctx.device_config):
        return False
    ctx.client.set_pipeline(ctx.p4info, ctx.device_config)
    return True


def init(ctx: Ctx, layout: Layout, force: bool = False) -> dict[str, Any]:
    """Push the pipeline and install the base state. Refuses a switch that already holds
    entries unless force (which re-pushes the pipeline: every entry is dropped)."""
    if ctx.p4info is None or ctx.device_config is None:
        raise StateError("no compiled program to push (p4src/build/fdir.json + fdir.p4info.txtpb)")
    _, cookie = ctx.client.get_pipeline()
    ours = cookie == pipeline_cookie(ctx.p4info, ctx.device_config)
    if ours and not force:
        st = ctx.state()
        if st.entries:
            what = (f"{st.layout.n_lcores} lcores, {len(st.laddrs)} local addresses"
                    if st.layout else f"{len(st.entries)} entries")
            raise Conflict(f"switch {ctx.client.grpc_addr} already initialised ({what}); "
                           f"`init --force` re-pushes the pipeline and drops every entry")
    pushed = False
    if force or not ours:
        ctx.client.set_pipeline(ctx.p4info, ctx.device_config)
        pushed = True
    entries = base_entries(layout)
    updates: list[Update] = [(INSERT, e) for e in entries]
    updates.append((MODIFY, miss_entry(layout)))
    write_all(ctx, updates, "init", old={miss_entry(layout).key: EntryDefaultRss})
    return {"pipeline_pushed": pushed, "entries": len(entries), "lcores": layout.n_lcores,
            "lcore_ports": list(layout.lcore_ports), "wire_ports": list(layout.wire_ports),
            "scheme": layout.scheme, "mode": layout.mode, "miss_policy": str(layout.miss)}


EntryDefaultRss = Entry("lb_miss_policy", (), "rss", default=True)
