"""`fdirctl stats`: per lcore conns, packets, reply hits and misses, handoffs, pool use; the return-path affinity."""
from __future__ import annotations

from typing import Any

from controller import errors as E
from controller import shellcmd
from controller.commands.common import Subparsers, command
from controller.session import Result, Session


def register(sub: Subparsers) -> None:
    command(sub, "stats", "per lcore: conns, packets, replies that found their conn here, misses, handoffs, pools")


def _stats_cell(name: str, value: Any) -> Any:
    """One cell of the stats table: '-' for no value, the affinity as a percentage."""
    if value is None:
        return "-"
    return f"{value}%" if name == "affinity" else value


def run(s: Session) -> Result:
    ctx = s.ctx()
    _, layout = ctx.initialised()
    ws = s.workers_for(layout.n_lcores)
    if ws is None:
        raise E.BadInput("stats needs the workers: give --lab or --run-dir (and not --no-workers)")
    rows = []
    dead: list[dict[str, Any]] = []
    for c in ws.clients:
        try:
            d = c.stats()
        except E.WorkerError as e:
            c.close()
            dead.append({"lcore": c.lcore, "error": str(e)})
            continue
        hits, misses = int(d.get("reply_hits", 0)), int(d.get("reply_misses", 0))
        ho = d.get("handoff", {})
        pools = d.get("pools", [])
        rows.append({"lcore": c.lcore, "conns": d.get("conns", {}).get("total", 0),
                     "packets_in": d.get("packets", {}).get("in", 0),
                     "packets_out": d.get("packets", {}).get("out", 0),
                     "dropped": d.get("packets", {}).get("dropped", 0),
                     "reply_hits": hits, "reply_misses": misses,
                     "affinity": round(100.0 * hits / (hits + misses), 1) if hits + misses else None,
                     "do_handoff": ho.get("do_handoff", 0), "handoff_in": ho.get("handoff_in", 0),
                     "congestion_drop": ho.get("congestion_drop", 0),
                     "sa_used": sum(int(p.get("sa_used", 0)) for p in pools),
                     "sa_miss": sum(int(p.get("sa_miss", 0)) for p in pools),
                     "no_local_port": d.get("no_local_port", 0),
                     "conns_new": d.get("conns_new", 0), "conns_reused": d.get("conns_reused", 0)})
    cols = [("lcore", 5), ("conns", 6), ("packets_in", 10), ("packets_out", 11), ("dropped", 7),
            ("reply_hits", 10), ("reply_misses", 12), ("affinity", 8), ("do_handoff", 10),
            ("handoff_in", 10), ("congestion_drop", 15), ("sa_used", 7), ("sa_miss", 7)]
    lines = [" ".join(f"{name:>{w}}" for name, w in cols)]
    for r in rows:
        lines.append(" ".join(f"{_stats_cell(name, r[name])!s:>{w}}" for name, w in cols))
    hits = sum(r["reply_hits"] for r in rows)
    misses = sum(r["reply_misses"] for r in rows)
    total = {"reply_hits": hits, "reply_misses": misses,
             "affinity": round(100.0 * hits / (hits + misses), 1) if hits + misses else None}
    for d in dead:
        lines.append(f"{d['lcore']:>5} DEAD: {d['error']}")
    lines.append(f"return-path affinity: {total['affinity'] if total['affinity'] is not None else '-'}% "
                 f"({hits} replies found their conn on the lcore they reached, {misses} did not)")
    if dead:
        fl = shellcmd.fdirctl(s.args.lab)
        lines.append(f"lcores {[d['lcore'] for d in dead]} do not answer: `{fl} worker restart N`")
    return {"lcores": rows, "dead": dead, "total": total, "mode": layout.mode}, "\n".join(lines), \
        E.EXIT_WORKER if dead else 0
