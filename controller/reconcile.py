"""Reconcile: make the switch (and the workers) hold what the lab file describes, after a
switch or controller restart, touching only what differs. Hand-made and foreign entries stay.

diff_entries is pure (tested without a switch); reconcile() reads, diffs and writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from controller.entries import Entry
from controller.errors import WorkerError
from controller.laddr_ops import Ctx, ensure_pipeline, write_all
from controller.p4rt_client import DELETE, INSERT, MODIFY
from controller.rules import Layout, desired_entries, miss_entry
from controller.state import SwitchState
from controller.workers import pool_laddrs
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

    def summary(self) -> dict:
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
    return [(a, i) for i, a in enumerate(lab.laddrs)]


def reconcile(ctx: Ctx, lab: Lab, check_only: bool = False, workers: bool = True) -> dict:
    """Push the pipeline if the switch does not run ours, then diff and apply. With
    check_only nothing is changed; the result says what would be."""
    layout = Layout.from_lab(lab)
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
            out["workers"] = reconcile_workers(ws, lab)
    return out


def reconcile_workers(ws, lab: Lab) -> dict:
    """Each worker gets the lab's pools, neighbours and services it lacks (nothing is removed:
    a worker's extra pools may still carry conns)."""
    added = {"pools": 0, "neighs": 0, "services": 0}
    want = lab_laddrs(lab)
    neigh = [(h.ip, h.mac) for h in lab.hosts] + [(h.ip6, h.mac) for h in lab.hosts if h.ip6]
    for c in ws.clients:
        have = pool_laddrs(c.pools())
        for a, s in want:
            if a not in have:
                c.pool_add(a, s)
                added["pools"] += 1
        try:
            known = {n.get("addr") for n in c.neighs().get("neighs", []) if isinstance(n, dict)}
        except WorkerError:
            known = set()
        for addr, mac in neigh:
            if addr not in known:
                c.neigh_add(addr, mac)
                added["neighs"] += 1
        svcs = c.services().get("services", [])
        have_svc = {(s.get("vip"), s.get("vport"), s.get("proto")) for s in svcs if isinstance(s, dict)}
        for svc in lab.services:
            if (svc.vip, svc.vport, svc.proto) not in have_svc:
                c.service_add(svc.worker_spec())
                added["services"] += 1
    return added
