"""Reconcile: make the switch (and the workers) hold what the lab file describes, after a
switch or controller restart, touching only what differs. Hand-made and foreign entries stay.

diff_entries is pure (tested without a switch); reconcile() reads, diffs and writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.desired import WorkerWant, service_key, spec_differs, wanted
from controller.doctor import WorkerView
from controller.entries import Entry
from controller.errors import ControllerError, StateError
from controller.laddr_ops import Ctx, ensure_pipeline, write_all
from controller.p4rt_client import DELETE, INSERT, MODIFY
from controller.rules import Layout, desired_entries, layout_differences, miss_entry
from controller.state import SwitchState
from controller.workers import WorkerClient, WorkerSet, read_view
from fdirlab.lab_config import Lab

MANAGED = ("lcore", "base", "laddr")      # cookie kinds reconcile owns


@dataclass
class Diff:
    insert: list[Entry] = field(default_factory=list)
    modify: list[tuple[Entry, Entry]] = field(default_factory=list)   # (old, new)
    delete: list[Entry] = field(default_factory=list)
    blocked: list[tuple[Entry, Entry]] = field(default_factory=list)  # (wanted, unmanaged holder of its key)

    @property
    def empty(self) -> bool:
        return not (self.insert or self.modify or self.delete)

    def summary(self) -> dict[str, Any]:
        return {"insert": len(self.insert), "modify": len(self.modify), "delete": len(self.delete),
                "blocked": [f"{w.describe()} (key held by {h.owner[0]} entry)" for w, h in self.blocked]}


def diff_entries(current: list[Entry], desired: list[Entry], miss_now: Entry | None = None,
                 miss_want: Entry | None = None) -> Diff:
    """Pure diff by P4Runtime identity (table, match, priority). Only fdirlab-managed entries
    are deleted or modified; a desired key held by a hand-made/foreign entry is `blocked`."""
    d = Diff()
    cur = {e.key: e for e in current}
    want_keys = set()
    for w in desired:
        want_keys.add(w.key)
        c = cur.get(w.key)
        if c is None:
            d.insert.append(w)
        elif c.owner[0] not in MANAGED:
            d.blocked.append((w, c))
        elif c.value != w.value:
            d.modify.append((c, w))
    for c in current:
        if c.key not in want_keys and c.owner[0] in MANAGED:
            d.delete.append(c)
    if miss_want is not None and (miss_now is None or miss_now.value != miss_want.value):
        d.modify.append((miss_now or Entry("lb_miss_policy", (), "rss", default=True), miss_want))
    return d


def lab_laddrs(lab: Lab) -> list[tuple[str, int]]:
    return [(a, lab.laddr_slot(a)) for a in lab.laddrs]      # slots per family (DPVS sa_pool.c)


def lab_laddrs_map(lab: Lab) -> dict[str, int]:
    return dict(lab_laddrs(lab))


def refuse_other_layout(ctx: Ctx, layout: Layout) -> None:
    """StateError (exit 7), nothing written, when the switch holds a layout built for another
    lab (`rules.layout_differences`: lcore or wire ports, scheme, steering mode, LB MAC).
    A switch without our program or without a layout has nothing to protect."""
    try:
        st = ctx.state()
    except ControllerError:
        return
    if st.layout is None:
        return
    diff = layout_differences(st.layout, layout)
    if diff:
        raise StateError(f"switch {ctx.client.grpc_addr} holds another layout than the lab file: "
                         + "; ".join(diff) + " (another lab's switch, or the lab file changed since init); "
                         "nothing written; `reconcile --force` rewrites it to the lab file")


def reconcile(ctx: Ctx, lab: Lab, check_only: bool = False, workers: bool = True,
              force: bool = False) -> dict[str, Any]:
    """Push the pipeline if the switch does not run ours, then diff and apply. With
    check_only nothing is changed; the result says what would be. Without force a switch
    holding another lab's layout is refused (StateError) before anything is written."""
    layout = Layout.from_lab(lab)
    if not force:
        refuse_other_layout(ctx, layout)
    pushed = False
    if not check_only:
        pushed = ensure_pipeline(ctx)
    st: SwitchState = ctx.state()
    desired = desired_entries(layout, lab_laddrs(lab))
    d = diff_entries(st.entries, desired, st.miss_default, miss_entry(layout))
    out = {"pipeline_pushed": pushed, **d.summary(), "changed": not d.empty, "workers": {}}
    if check_only:
        out["problems"] = st.check()
        return out
    # deletes first (frees keys and capacity), laddr state before base; then modifies; then
    # inserts in desired order (filters before the address becomes LB-owned)
    dels = sorted(d.delete, key=lambda e: (e.owner[0] != "laddr", e.table.startswith("fdir_")))
    updates = [(DELETE, e) for e in dels] + [(MODIFY, new) for _, new in d.modify] + \
              [(INSERT, e) for e in d.insert]
    old = {o.key: o for o, _ in d.modify}
    write_all(ctx, updates, "reconcile", old=old)
    if workers:
        ws = ctx.workers_for(layout.n_lcores)
        if ws is not None:
            out["workers"] = reconcile_workers(ws, lab, lab_laddrs_map(lab))
    return out


def reconcile_workers(ws: WorkerSet, lab: Lab | None, laddrs: dict[str, int]) -> dict[str, Any]:
    """Make every live worker hold exactly what `desired.wanted(lab, laddrs)` says, in both
    directions, touching only what differs: missing pools first (so services can bind
    them), then services (missing added, foreign deleted, changed re-created, local
    addresses attached before stale ones are detached), then pools nobody should hold
    (dropped with their conns: their replies are not steered any more), and neighbours.
    Unreachable workers are listed under "unreachable" (`fdirctl worker restart N`)."""
    want = wanted(lab, laddrs)
    n = {"pools": 0, "pools_removed": 0, "services": 0, "services_removed": 0, "laddrs_attached": 0,
         "laddrs_detached": 0, "neighs": 0}
    unreachable: list[int] = []
    for c in ws.clients:
        v = read_view(c)
        if not v.alive:
            unreachable.append(c.lcore)
            continue
        apply_worker(c, v, want, n, lab is not None)
    out: dict[str, Any] = dict(n)
    if unreachable:
        out["unreachable"] = unreachable
    return out


def apply_worker(c: WorkerClient, v: WorkerView, want: WorkerWant, n: dict[str, int],
                 services: bool = True) -> None:
    """Bring one worker from what it holds (v) to `want`, counting the changes in n."""
    have_pools = {p["laddr"]: int(p.get("slot", 0)) for p in v.pools}
    for a, slot in want.pools.items():
        if a in have_pools and have_pools[a] != slot:
            c.pool_del(a, force=True)
            n["pools_removed"] += 1
            del have_pools[a]
        if a not in have_pools:
            c.pool_add(a, slot)
            n["pools"] += 1
    if services:
        have = {service_key(s): s for s in (v.services or [])}
        for key, svc in have.items():
            w = want.services.get(key)
            if w is None or spec_differs(svc, w):
                c.service_del(*key)
                n["services_removed"] += 1
        for key, w in want.services.items():
            had = have.get(key)
            if had is None or spec_differs(had, w):
                c.service_add(w)
                n["services"] += 1
                continue
            cur = list(had.get("laddrs", []))
            for a in w["laddrs"]:
                if a not in cur:
                    c.call("service_laddr_add", vip=key[0], vport=key[1], proto=key[2], laddr=a)
                    n["laddrs_attached"] += 1
            for a in cur:
                if a not in w["laddrs"]:
                    c.call("service_laddr_del", vip=key[0], vport=key[1], proto=key[2], laddr=a)
                    n["laddrs_detached"] += 1
    for a in have_pools:
        if a not in want.pools:
            c.pool_del(a, force=True)
            n["pools_removed"] += 1
    known = {str(x.get("addr")) for x in (v.neighs or [])}
    for addr, mac in want.neighs.items():
        if addr not in known:
            c.neigh_add(addr, mac)
            n["neighs"] += 1
