"""`fdirctl filter add|del|list`: hand-made flow-director entries (misconfigurations on purpose)."""
from __future__ import annotations

import ipaddress

from controller import errors as E
from controller.commands.common import Parser, Subparsers, command, common_args, int0
from controller.commands.fdir_table import fdir_row, fdir_table
from controller.entries import Entry
from controller.laddr_ops import Ctx, add_filter, del_filter
from controller.rules import hand_filter
from controller.session import Result, Session
from fdirlab import mask_math


def register(sub: Subparsers) -> None:
    sp = command(sub, "filter", "hand-made flow-director entries (never touched by laddr or reconcile)")
    fsub = sp.add_subparsers(dest="sub", metavar="add|del|list", parser_class=Parser)
    fsub.required = True
    for name in ("add", "del"):
        fp = fsub.add_parser(name, help=f"{name} one hand-made filter")
        common_args(fp, suppress=True)
        fp.add_argument("--addr", required=True, help="destination address, optionally /prefix")
        fp.add_argument("--port", type=int0, required=True, help="destination port value")
        fp.add_argument("--port-mask", type=int0, default=0xFFFF, help="port mask (default 0xffff; 0 = any)")
        fp.add_argument("--proto", choices=("tcp", "udp"), required=True)
        fp.add_argument("--priority", type=int, default=mask_math.FILTER_PRIORITY)
        fp.add_argument("--table", choices=("fdir_v4", "fdir_v6"), help="check the address is of this table's family")
        if name == "add":
            tgt = fp.add_mutually_exclusive_group(required=True)
            tgt.add_argument("--lcore", type=int, help="steer to this lcore's port")
            tgt.add_argument("--to-port", type=int, help="steer to this switch port")
    fl = fsub.add_parser("list", help="hand-made filters with hit counters")
    common_args(fl, suppress=True)


def _filter_entry(s: Session, ctx: Ctx, with_target: bool) -> Entry:
    a = s.args
    addr, _, plen = a.addr.partition("/")
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        raise E.BadInput(f"--addr {a.addr!r}: not an IPv4 or IPv6 address") from None
    if a.table and (a.table == "fdir_v4") != (ip.version == 4):
        raise E.BadInput(f"--addr {a.addr!r} is IPv{ip.version} but table {a.table} matches "
                         f"IPv{4 if a.table == 'fdir_v4' else 6} destinations")
    mask = None
    if plen:
        if not plen.isdigit() or int(plen) > ip.max_prefixlen:
            raise E.BadInput(f"--addr {a.addr!r}: prefix length must be 0..{ip.max_prefixlen}")
        full = (1 << ip.max_prefixlen) - 1
        mask = full ^ (full >> int(plen))
    port = 0
    if with_target:
        if a.to_port is not None:
            port = a.to_port
        else:
            _, layout = ctx.initialised()
            n = layout.n_lcores
            if not 0 <= a.lcore < n:
                raise E.BadInput(f"--lcore {a.lcore}: {n} lcore(s) are 0..{n - 1}")
            port = layout.lcore_ports[a.lcore]
    return hand_filter(str(ip), a.port, a.port_mask, a.proto, port, a.priority, mask)


def run(s: Session) -> Result:
    a = s.args
    ctx = s.ctx(write=a.sub in ("add", "del"))
    if a.sub == "add":
        res = add_filter(ctx, _filter_entry(s, ctx, True))
        return res, f"added hand-made filter {res['added']}", 0
    if a.sub == "del":
        e = _filter_entry(s, ctx, False)
        res = del_filter(ctx, e)
        return res, f"deleted hand-made filter {res['deleted']}", 0
    st = ctx.state(counters=True)
    rows = [fdir_row(e, st.layout) for e in st.hand]
    return {"filters": rows}, fdir_table(rows) if rows else "no hand-made filters", 0
