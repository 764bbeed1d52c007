"""`fdirctl top`: a live per-lcore view of the workers, redrawn in place (rich.live), within
80 columns: conns, packets in/out per second, reply hits and misses, handoffs (VPP's "do
handoff" and "congestion drop"), sa_pool use and the return-path affinity.

The numbers come from each worker's `stats` answer on its control socket (lcore/stats.py);
the switch is asked once, at the start, for the lcore count and steering mode. Rates are
differences between two polls divided by the time between them. `top_rows` is pure and
tested without workers; `cmd_top` is the command.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from controller import shellcmd

WIDTH = 80


@dataclass(frozen=True)
class Snapshot:
    """One poll of every worker: `stats` answers (None: unreachable) and when (monotonic s)."""
    at: float
    stats: list[dict[str, Any] | None]


def _n(d: dict[str, Any] | None, *path: str) -> int:
    v: Any = d or {}
    for p in path:
        v = v.get(p, 0) if isinstance(v, dict) else 0
    return int(v or 0)


def _pool_use(d: dict[str, Any]) -> tuple[int, int]:
    pools = d.get("pools", [])
    used = sum(int(p.get("sa_used", 0)) for p in pools)
    free = sum(int(p.get("sa_free", 0)) for p in pools)
    return used, used + free


def top_rows(prev: Snapshot | None, cur: Snapshot) -> list[dict[str, Any]]:
    """Per-lcore rows. Rates (`*_s`) are per second over prev -> cur (None on the first
    poll); `affinity` is the % of replies in that interval (all replies so far on the first
    poll) that found their conn on the lcore they reached; `sa_use` is sa_used / ports."""
    dt = (cur.at - prev.at) if prev is not None else 0.0
    rows: list[dict[str, Any]] = []
    for i, d in enumerate(cur.stats):
        if d is None:
            rows.append({"lcore": i, "down": True})
            continue
        p = prev.stats[i] if prev is not None and i < len(prev.stats) else None

        def rate(*path: str, d: dict[str, Any] = d, p: dict[str, Any] | None = p) -> float | None:
            if p is None or dt <= 0:
                return None
            return max(0.0, (_n(d, *path) - _n(p, *path)) / dt)

        hits, misses = _n(d, "reply_hits"), _n(d, "reply_misses")
        if p is not None:
            dh, dm = hits - _n(p, "reply_hits"), misses - _n(p, "reply_misses")
        else:
            dh, dm = hits, misses
        used, ports = _pool_use(d)
        rows.append({
            "lcore": i, "down": False, "conns": _n(d, "conns", "total"),
            "in_s": rate("packets", "in"), "out_s": rate("packets", "out"),
            "new_s": rate("conns_new"),
            "reply_hits": hits, "reply_misses": misses,
            "affinity": round(100.0 * dh / (dh + dm), 1) if dh + dm else None,
            "do_handoff": _n(d, "handoff", "do_handoff"), "handoff_s": rate("handoff", "do_handoff"),
            "congestion_drop": _n(d, "handoff", "congestion_drop"),
            "sa_used": used, "sa_use": round(100.0 * used / ports, 2) if ports else None,
        })
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    up = [r for r in rows if not r["down"]]
    hits = sum(r["reply_hits"] for r in up)
    misses = sum(r["reply_misses"] for r in up)
    return {"conns": sum(r["conns"] for r in up), "reply_hits": hits, "reply_misses": misses,
            "affinity": round(100.0 * hits / (hits + misses), 1) if hits + misses else None,
            "do_handoff": sum(r["do_handoff"] for r in up),
            "congestion_drop": sum(r["congestion_drop"] for r in up),
            "down": [r["lcore"] for r in rows if r["down"]]}


def _fmt(v: Any, pct: bool = False) -> str:
    """Short numbers for narrow columns: 12,345 up to 99,999, then 123.4k, 12.3M, 1.2G."""
    if v is None:
        return "-"
    if pct:
        return f"{v:.1f}%"
    if abs(v) >= 100_000:
        for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= div:
                x = v / div
                return f"{x:.1f}{unit}" if x < 1000 else f"{x:.0f}{unit}"
    if isinstance(v, float):
        return f"{v:,.0f}" if v >= 10 else f"{v:.1f}"
    return f"{v:,}"


# (row key, header, min width): 11 columns and their 1-space dividers fit WIDTH
COLUMNS = (("lcore", "lc", 2), ("conns", "conns", 6), ("in_s", "in/s", 6), ("out_s", "out/s", 6),
           ("new_s", "new/s", 5), ("reply_hits", "hits", 8), ("reply_misses", "misses", 6),
           ("affinity", "affin", 6), ("handoff_s", "hoff/s", 6), ("congestion_drop", "cdrop", 5),
           ("sa_used", "sa_used", 7))


def render(rows: list[dict[str, Any]], head: str) -> Any:  # a rich Group
    """A rich renderable of the rows, at most WIDTH columns wide."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0),
              expand=False)
    for _key, title, width in COLUMNS:
        t.add_column(title, justify="right", no_wrap=True, min_width=width)
    for r in rows:
        if r["down"]:
            t.add_row(str(r["lcore"]), "unreachable", *[""] * (len(COLUMNS) - 2))
            continue
        t.add_row(*(_fmt(r[k], pct=k == "affinity") for k, _, _ in COLUMNS))
    tot = totals(rows)
    foot = (f"affinity {_fmt(tot['affinity'], True)} ({tot['reply_hits']:,} hits, "
            f"{tot['reply_misses']:,} misses)  do handoff {tot['do_handoff']:,}  "
            f"congestion drop {tot['congestion_drop']:,}")
    return Group(Text(head[:WIDTH], style="bold"), t, Text(foot), Text(
        "hits/misses: replies that found/missed their conn on the lcore they reached "
        "(affin: last interval); sa_used: local ports in use; Ctrl-C quits", style="dim"))


class _Stats(Protocol):
    lcore: int

    def stats(self) -> dict[str, Any]: ...


def poll(clients: list[Any]) -> Snapshot:
    out: list[dict[str, Any] | None] = []
    for c in clients:
        try:
            out.append(c.stats())
        except Exception:     # a worker that died or restarted shows as unreachable
            c.close()
            out.append(None)
    return Snapshot(time.monotonic(), out)


def cmd_top(s: Any) -> tuple[dict[str, Any], str, int]:
    """fdirctl top [--interval S] [--count N]: the live view until Ctrl-C (or N refreshes)."""
    from rich.console import Console
    from rich.live import Live

    from controller import errors as E
    from controller.argcheck import check_count, check_seconds

    a = s.args
    check_seconds(a.interval, "--interval", zero_ok=False)    # also when called without check_args
    check_count(a.count, "--count")
    st = s.ctx().initialised_state()
    ws = s.workers_for(st.layout.n_lcores)
    if ws is None:
        raise E.BadInput("top needs the workers: give --lab or --run-dir (and not --no-workers)")
    head = (f"fdirctl top  {st.layout.n_lcores} lcores, mode {st.layout.mode}, "
            f"scheme {st.layout.scheme}, every {a.interval:g}s  {s.grpc_addr}")
    console = Console(width=min(WIDTH, Console().width))
    prev = None
    rows: list[dict[str, Any]] = []
    n = 0
    try:
        cur = poll(ws.clients)
        rows = top_rows(prev, cur)
        if a.json:          # no live view: the rows of the last refresh, as JSON, at the end
            polls = a.count or 2
            for _ in range(polls - 1):
                time.sleep(a.interval)
                prev, cur = cur, poll(ws.clients)
                rows = top_rows(prev, cur)
            return _result(s, polls, rows, st.layout.mode)
        with Live(render(rows, head), console=console, auto_refresh=False,
                  transient=False) as live:
            while True:
                n += 1
                if a.count is not None and n >= a.count:
                    break
                time.sleep(a.interval)
                prev, cur = cur, poll(ws.clients)
                rows = top_rows(prev, cur)
                live.update(render(rows, f"{head}  #{n + 1}"), refresh=True)
    except KeyboardInterrupt:
        pass
    return _result(s, n, rows, st.layout.mode)


def _result(s: Any, refreshes: int, rows: list[dict[str, Any]], mode: str) -> tuple[dict[str, Any], str, int]:
    """top's answer; exit 6 (EXIT_WORKER) when an lcore is down at the last refresh, as stats."""
    from controller import errors as E

    down = [r["lcore"] for r in rows if r["down"]]
    text = ""
    if down:
        fl = shellcmd.fdirctl(s.args.lab)
        text = f"lcores {down} do not answer: `{fl} worker restart N`"
    return ({"refreshes": refreshes, "lcores": rows, "total": totals(rows), "mode": mode, "down": down}, text,
            E.EXIT_WORKER if down else 0)
