"""`fdirctl top`: a live per-lcore view (conns, packets/s, reply hits and misses, handoffs,
sa_pool use); the view itself is controller/top.py."""
from __future__ import annotations

from controller import top
from controller.commands.common import Subparsers, command
from controller.session import Result, Session


def register(sub: Subparsers) -> None:
    sp = command(sub, "top", "live per-lcore view: conns, packets/s, reply hits/misses, handoffs, sa_pool use")
    sp.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    sp.add_argument("--count", type=int, help="stop after this many refreshes (default: Ctrl-C)")


def run(s: Session) -> Result:
    return top.cmd_top(s)
