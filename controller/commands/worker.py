"""`fdirctl worker restart N`: start a dead lcore worker again and restore its pools, services,
neighbours and RETA slots."""
from __future__ import annotations

from pathlib import Path

from controller import errors as E
from controller import reta_ops, worker_restart
from controller.commands.common import Parser, Subparsers, command, common_args
from controller.desired import runtime_binds, wanted
from controller.reconcile import apply_worker
from controller.session import Result, Session
from controller.workers import WorkerClient, read_view


def register(sub: Subparsers) -> None:
    sp = command(sub, "worker", "lcore workers: restart a dead one in its host and restore its pools and services")
    wsub = sp.add_subparsers(dest="sub", metavar="restart", parser_class=Parser)
    wsub.required = True
    wr = wsub.add_parser("restart", help="start lcore N's worker again from the lab's start record, then "
                                         "give it the switch's local addresses and the lab's services")
    common_args(wr, suppress=True)
    wr.add_argument("lcore", type=int, metavar="N")
    wr.add_argument("--replace", action="store_true", help="restart it even if it still answers")


def _peers(s: Session, n: int, lcore: int) -> list[WorkerClient]:
    ws = s.workers_for(n)
    return [c for c in (ws.clients if ws is not None else []) if c.lcore != lcore]


def run(s: Session) -> Result:
    a = s.args
    ctx = s.ctx(write=True)           # no laddr add/del may interleave with the restore
    st, layout = ctx.initialised()
    n = layout.n_lcores
    if not 0 <= a.lcore < n:
        raise E.BadInput(f"lcore {a.lcore}: the switch has {n} lcore(s), 0..{n - 1}")
    run_dir = a.run_dir or (s.lab.run_dir if s.lab else None)
    if run_dir is None:
        raise E.BadInput("worker restart needs the lab's run directory: give --lab FILE or --run-dir")
    sock = str(Path(run_dir) / f"lcore-{a.lcore}.sock")
    rec = worker_restart.restart(run_dir, a.lcore, sock, replace=a.replace, timeout=a.timeout, lab=s.lab)
    c = WorkerClient(a.lcore, sock, a.timeout)
    try:
        done = {k: 0 for k in ("pools", "pools_removed", "services", "services_removed", "laddrs_attached",
                               "laddrs_detached", "neighs")}
        # run-time addresses go to the services the live peers bind them to (DPVS: a local
        # address belongs to the services it was added to), not to every service
        peers = [v.services or [] for v in (read_view(p) for p in _peers(s, n, a.lcore)) if v.alive]
        binds = runtime_binds(peers, s.lab.laddrs) if s.lab is not None else None
        want = wanted(s.lab, {x: ls.slot for x, ls in st.laddrs.items()}, binds)
        apply_worker(c, read_view(c), want, done, services=s.lab is not None)
    finally:
        c.close()
    reta = reta_ops.apply(ctx, st, a.lcore, include=True) if not reta_ops.slots_per_lcore(st)[a.lcore] else 0
    res = {"lcore": a.lcore, "pid": rec.pid, "restored": done, "reta_slots_back": reta}
    return res, (f"lcore {a.lcore}'s worker restarted (pid {rec.pid}): {done['pools']} sa_pool(s), "
                 f"{done['services']} service(s), {done['neighs']} neighbour(s) restored"
                 + (f", {reta} RETA slots back" if reta else "")
                 + ("" if s.lab else " (no --lab: services and neighbours not restored)")), 0
