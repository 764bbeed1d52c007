"""`fdirctl rss exclude|include N`: take lcore N's RETA slots away or give them back."""
from __future__ import annotations

from controller import reta_ops
from controller.commands.common import Parser, Subparsers, command, common_args
from controller.session import Result, Session


def register(sub: Subparsers) -> None:
    sp = command(sub, "rss", "take an lcore out of the RETA (a dead worker) or give it back its slots")
    rsub = sp.add_subparsers(dest="sub", metavar="exclude|include", parser_class=Parser)
    rsub.required = True
    for name, hlp in (("exclude", "spread lcore N's RETA slots over the others: RSS stops sending it new flows"),
                      ("include", "give lcore N back its standard RETA slots (slot i -> lcore i %% n)")):
        rp = rsub.add_parser(name, help=hlp)
        common_args(rp, suppress=True)
        rp.add_argument("lcore", type=int, metavar="N")


def run(s: Session) -> Result:
    a = s.args
    ctx = s.ctx(write=True)
    st = ctx.initialised_state()
    moved = reta_ops.apply(ctx, st, a.lcore, include=a.sub == "include")
    per = reta_ops.slots_per_lcore(ctx.state())
    return ({"lcore": a.lcore, "moved": moved, "slots_per_lcore": per},
            f"RETA: {moved} slot(s) {'given back to' if a.sub == 'include' else 'taken from'} lcore {a.lcore}; "
            + ", ".join(f"lcore {k}: {v}" for k, v in per.items()), 0)
