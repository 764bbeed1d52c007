"""`fdirctl laddr add|del|list`: local addresses (filters first, then every worker's sa_pool; del in reverse)."""
from __future__ import annotations

import argparse
import time

from controller import errors as E
from controller.argcheck import laddr_args
from controller.commands.common import Parser, Subparsers, command, common_args
from controller.laddr_ops import Ctx, add_laddrs, del_laddrs, list_laddrs
from controller.rules import canonical_ip
from controller.session import Result, Session
from controller.workers import conns_on, detach_laddr


def register(sub: Subparsers) -> None:
    sp = command(sub, "laddr", "local addresses: add, del, list")
    lsub = sp.add_subparsers(dest="sub", metavar="add|del|list", parser_class=Parser)
    lsub.required = True
    la = lsub.add_parser("add", help="install filters, then create the workers' sa_pools")
    common_args(la, suppress=True)
    la.add_argument("addrs", nargs="*", metavar="ADDR")
    la.add_argument("--from-file", help="read addresses from a file, one per line")
    la.add_argument("--slot", type=int, action="append",
                    help="slot of each address (laddr scheme); default: lowest free")
    la.add_argument("--no-attach", action="store_true",
                    help="do not attach the address to the workers' services (ipvsadm --add-laddr)")
    ld = lsub.add_parser("del", help="drop the workers' sa_pools, then remove the filters")
    common_args(ld, suppress=True)
    ld.add_argument("addrs", nargs="*", metavar="ADDR")
    ld.add_argument("--from-file")
    ld.add_argument("--force", action="store_true", help="drop pools even while conns use them")
    ld.add_argument("--drain", type=float, metavar="SECONDS",
                    help="first detach the address from the services, then wait up to SECONDS "
                         "for its conns to finish before dropping pools and filters")
    ll = lsub.add_parser("list", help="local addresses read back from the switch")
    common_args(ll, suppress=True)


def _addr_args(a: argparse.Namespace) -> list[str]:
    addrs = laddr_args(a)               # the file as check_args read it (once: it may be a pipe)
    if not addrs:
        raise E.BadInput("no local address given")
    return addrs


def _drain(s: Session, ctx: Ctx, addrs: list[str], seconds: float) -> None:
    """Stop new conns from binding `addrs`, then wait for the open ones to finish."""
    if seconds < 0:
        raise E.BadInput(f"--drain {seconds:g}: must be >= 0")
    _, layout = ctx.initialised()
    ws = s.workers_for(layout.n_lcores)
    if ws is None:
        raise E.BadInput("--drain needs the workers: give --lab or --run-dir (and not --no-workers)")
    for addr in addrs:
        detach_laddr(ws, addr)
    deadline = time.monotonic() + seconds
    while True:
        left = {addr: conns_on(ws, addr) for addr in addrs}
        if not any(left.values()):
            return
        if time.monotonic() >= deadline:
            busy = ", ".join(f"{k} ({v} conns)" for k, v in left.items() if v)
            raise E.WorkerError(f"local address(es) {busy} still in use after --drain {seconds:g}s; "
                                f"they are detached from the services, nothing else changed "
                                f"(retry, or use --force)")
        time.sleep(0.5)


def run(s: Session) -> Result:
    a = s.args
    if a.sub == "add":
        addrs = _addr_args(a)
        ctx = s.ctx(write=True)
        res = add_laddrs(ctx, addrs, a.slot, attach=not a.no_attach)
        names = ", ".join(x["laddr"] for x in res["added"][:8]) + (" ..." if len(res["added"]) > 8 else "")
        w = f"; sa_pools created on {res['workers']} workers" if res["workers"] else ""
        if res["workers"] and not a.no_attach:
            w += f", attached to {res['attached']} worker service(s)"
        return res, f"added {len(res['added'])} local address(es) ({names}): {res['entries']} entries{w}", 0
    if a.sub == "del":
        addrs = [canonical_ip(x, "local address") for x in _addr_args(a)]
        ctx = s.ctx(write=True)
        if a.drain is not None:
            _drain(s, ctx, addrs, a.drain)
        res = del_laddrs(ctx, addrs, force=a.force)
        names = ", ".join(x["laddr"] for x in res["deleted"][:8])
        return res, f"deleted {len(res['deleted'])} local address(es) ({names}): {res['entries']} entries removed", 0
    st = s.ctx().initialised_state()
    rows = list_laddrs(st)
    text = "\n".join([f"{'slot':>4}  {'local address':<40} {'entries':>7}  state"] +
                     [f"{r['slot']:>4}  {r['laddr']:<40} {r['entries']:>7}  "
                      f"{'ok' if r['complete'] else 'INCOMPLETE: ' + '; '.join(r['problems'])}" for r in rows]) \
        if rows else "no local addresses"
    return {"laddrs": rows}, text, 0 if all(r["complete"] for r in rows) else E.EXIT_STATE
