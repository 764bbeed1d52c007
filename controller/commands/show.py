"""`fdirctl show fdir|rss|counters|pools`: the switch's entries with hit counters, the RETA,
port and drop counters, the workers' sa_pools."""
from __future__ import annotations

from typing import Any

from controller import errors as E
from controller import shellcmd
from controller.commands.common import Parser, Subparsers, command, common_args
from controller.commands.fdir_table import fdir_row, fdir_table
from controller.entries import Entry
from controller.laddr_ops import Ctx
from controller.p4names import DROP_REASONS, RETA_SIZE
from controller.rules import canonical_ip
from controller.session import Result, Session
from controller.workers import WorkerRefused


def register(sub: Subparsers) -> None:
    sp = command(sub, "show", "show fdir | rss | counters | pools")
    ssub = sp.add_subparsers(dest="sub", metavar="fdir|rss|counters|pools", parser_class=Parser)
    ssub.required = True
    sf = ssub.add_parser("fdir", help="every flow-director entry with its hit counter")
    common_args(sf, suppress=True)
    sf.add_argument("--laddr", help="only this local address's entries")
    sr = ssub.add_parser("rss", help="the RETA (128 entries -> lcores) and the miss policy")
    common_args(sr, suppress=True)
    sc = ssub.add_parser("counters", help="per-port rx/tx and drop reasons")
    common_args(sc, suppress=True)
    sp_ = ssub.add_parser("pools", help="the workers' sa_pools: sa_used/sa_free/sa_miss per local address and lcore")
    common_args(sp_, suppress=True)


def run(s: Session) -> Result:
    ctx = s.ctx()
    sub = s.args.sub
    if sub == "pools":
        return _pools(s, ctx)
    if sub == "counters":
        return _counters(ctx)
    if sub == "fdir":
        return _fdir(ctx, s.args.laddr)
    return _rss(ctx)


def _pools(s: Session, ctx: Ctx) -> Result:
    _, layout = ctx.initialised()
    ws = s.workers_for(layout.n_lcores)
    if ws is None:
        raise E.BadInput("show pools needs the workers: give --lab or --run-dir (and not --no-workers)")
    rows: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    for c in ws.clients:
        try:
            pools = c.pools().get("pools", [])
        except WorkerRefused:
            raise
        except E.WorkerError as e:     # a dead worker: the others' pools, it named, exit 6 (as stats)
            c.close()
            dead.append({"lcore": c.lcore, "error": str(e)})
            continue
        items = pools.items() if isinstance(pools, dict) else ((p.get("laddr"), p) for p in pools)
        for laddr, p in items:
            rows.append({"lcore": c.lcore, "laddr": laddr,
                         **{k: p.get(k) for k in ("sa_used", "sa_free", "sa_miss")}})
    lines = [f"{'lcore':>5} {'local address':<28} {'sa_used':>8} {'sa_free':>8} {'sa_miss':>8}"] + \
            [f"{r['lcore']:>5} {r['laddr']:<28} {r['sa_used']!s:>8} {r['sa_free']!s:>8} {r['sa_miss']!s:>8}"
             for r in rows]
    lines += [f"{d['lcore']:>5} DEAD: {d['error']}" for d in dead]
    if dead:
        fl = shellcmd.fdirctl(s.args.lab)
        lines.append(f"lcores {[d['lcore'] for d in dead]} do not answer: `{fl} worker restart N`")
    return {"pools": rows, "dead": dead}, "\n".join(lines), E.EXIT_WORKER if dead else 0


def _counters(ctx: Ctx) -> Result:
    client = ctx.client
    rx = client.read_counter(ctx.names.counters["port_rx"])
    tx = client.read_counter(ctx.names.counters["port_tx"])
    dr = client.read_counter(ctx.names.counters["drop_reasons"])
    ports = sorted(p for p in set(rx) | set(tx) if rx.get(p, (0, 0))[0] or tx.get(p, (0, 0))[0])
    rows = [{"port": p, "rx_packets": rx.get(p, (0, 0))[0], "rx_bytes": rx.get(p, (0, 0))[1],
             "tx_packets": tx.get(p, (0, 0))[0], "tx_bytes": tx.get(p, (0, 0))[1]} for p in ports]
    drops = {DROP_REASONS.get(i, f"reason_{i}"): v[0] for i, v in sorted(dr.items()) if i in DROP_REASONS or v[0]}
    lines = [f"{'port':>4} {'rx pkts':>10} {'tx pkts':>10}"] + \
            [f"{r['port']:>4} {r['rx_packets']:>10} {r['tx_packets']:>10}" for r in rows]
    lines.append("drops: " + ", ".join(f"{k}={v}" for k, v in drops.items()))
    return {"ports": rows, "drops": drops}, "\n".join(lines), 0


def _value(e: Entry, name: str) -> int:
    m = e.field(name)
    return m.value if m is not None else 0


def _fdir(ctx: Ctx, laddr: str | None) -> Result:
    st = ctx.state(counters=True)
    ents = [e for e in st.entries if e.table in ("fdir_v4", "fdir_v6")]
    if laddr:
        want = canonical_ip(laddr, "--laddr")
        ents = [e for e in ents if e.owner[0] == "laddr" and e.owner[1] == want]
    ents.sort(key=lambda e: (e.table, e.owner[0] != "laddr", e.owner[1], _value(e, "dst_addr"), -e.priority,
                             _value(e, "proto"), _value(e, "l4_dport")))
    rows = [fdir_row(e, st.layout) for e in ents]
    return {"entries": rows, "count": len(rows)}, fdir_table(rows) + f"\n{len(rows)} entries", 0


def _rss(ctx: Ctx) -> Result:
    st = ctx.state(counters=True)
    reta = sorted((e for e in st.entries if e.table == "reta"), key=lambda e: e.match[0].value)
    lay = st.layout
    rows: list[dict[str, Any]] = []
    for e in reta:
        port = e.param("port")
        rows.append({"idx": e.match[0].value, "port": port,
                     "lcore": lay.lcore_of_port(port) if lay and port is not None else None,
                     "packets": e.packets})
    per: dict[str, dict[str, int]] = {}
    for r in rows:
        k = str(r["lcore"])
        d = per.setdefault(k, {"slots": 0, "packets": 0})
        d["slots"] += 1
        d["packets"] += r["packets"] or 0
    miss = str(lay.miss) if lay else (st.miss_default.action if st.miss_default else "unknown")
    res = {"reta": rows, "size": len(rows), "per_lcore": per, "miss_policy": miss,
           "rss": miss == "rss"}
    lines = [f"RSS {'on' if miss == 'rss' else 'off'} (miss policy: {miss}); RETA {len(rows)}/{RETA_SIZE} entries"]
    for k in sorted(per, key=lambda x: (x == "None", int(x) if x.isdigit() else 0)):
        lines.append(f"  lcore {k:>3}: {per[k]['slots']:>3} slots, {per[k]['packets']} packets")
    if rows:
        lines.append("  idx->lcore: " + " ".join(f"{r['idx']}:{r['lcore']}" for r in rows))
    return res, "\n".join(lines), 0
