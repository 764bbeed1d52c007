"""`fdirctl status`: what the switch holds (lcores, scheme, local addresses) and its consistency."""
from __future__ import annotations

from typing import Any

from controller import errors as E
from controller.commands.common import Subparsers, command, plist
from controller.p4rt_client import pipeline_cookie
from controller.reconcile import reconcile
from controller.rules import scheme_costs
from controller.session import Result, Session


def register(sub: Subparsers) -> None:
    sp = command(sub, "status", "what the switch holds: lcores, scheme, local addresses, consistency")
    sp.add_argument("--check", action="store_true", help="exit 7 if anything is inconsistent (or drifts from --lab)")


def run(s: Session) -> Result:
    ctx = s.ctx()
    p4info, cookie = ctx.client.get_pipeline()
    ours = bool(ctx.p4info is not None and ctx.device_config is not None and
                cookie == pipeline_cookie(ctx.p4info, ctx.device_config))
    st = ctx.state()
    tables: dict[str, int] = {}
    for e in st.entries:
        tables[e.table] = tables.get(e.table, 0) + 1
    lay = st.layout
    problems = st.check()
    res: dict[str, Any] = {
        "switch": s.grpc_addr, "device_id": s.device_id,
        "read_only": True,   # status reads without arbitration: it never takes primacy
        "pipeline": "none" if p4info is None else ("fdirlab (current build)" if ours else "other/unknown build"),
        "initialised": lay is not None, "entries": len(st.entries), "tables": tables,
        "laddrs": len(st.laddrs), "hand_filters": len(st.hand), "foreign_filters": len(st.foreign),
        "problems": problems}
    if lay:
        cost = scheme_costs(lay.n_lcores, max(1, len(st.laddrs)))
        unowned = next(c.unowned_ports for c in cost if c.scheme == lay.scheme)
        res.update({"lcores": lay.n_lcores, "lcore_ports": list(lay.lcore_ports), "wire_ports": list(lay.wire_ports),
                    "scheme": lay.scheme, "mode": lay.mode, "miss_policy": str(lay.miss),
                    "mask": lay.partition.mask, "unowned_ports_per_laddr": unowned})
    drift = None
    if s.lab is not None and s.args.check:
        drift = reconcile(ctx, s.lab, check_only=True, workers=False, force=True)
        res["drift_from_lab"] = drift
    lines = [f"switch {s.grpc_addr} device {s.device_id}: pipeline {res['pipeline']}, {len(st.entries)} entries"]
    if lay:
        lines.append(f"lcores {lay.n_lcores} on ports {plist(list(lay.lcore_ports))} (mask {lay.partition.mask:#x}), "
                     f"wire ports {plist(list(lay.wire_ports))}, scheme {lay.scheme}, mode {lay.mode}, "
                     f"miss policy {lay.miss}")
        if unowned:
            lines.append(f"capacity lost: {unowned} local ports per local address belong to no lcore "
                         f"({lay.scheme} with {lay.n_lcores} lcores; `fdirctl schemes` compares)")
    else:
        lines.append("not initialised by fdirctl")
    lines.append(f"local addresses {len(st.laddrs)}, hand-made filters {len(st.hand)}, "
                 f"foreign filters {len(st.foreign)}")
    lines.append("tables: " + ", ".join(f"{k}={v}" for k, v in sorted(tables.items())))
    lines += [f"PROBLEM: {p}" for p in problems]
    if drift is not None and drift["changed"]:
        lines.append(f"DRIFT from {s.args.lab}: {drift['insert']} to insert, {drift['modify']} to modify, "
                     f"{drift['delete']} to delete")
    code = 0
    if s.args.check and (problems or lay is None or (drift is not None and (drift["changed"] or drift["blocked"]))):
        code = E.EXIT_STATE
    return res, "\n".join(lines), code
