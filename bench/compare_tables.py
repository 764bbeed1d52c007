"""The README's comparison tables, rendered from the JSON that `make compare` wrote, so the
README quotes exactly what a run measured: `python -m bench.compare_tables [DIR | FILE]`.

  goal_table(head_to_head)   the goal check: medians per (target, mode), each round, ratios
  matrix_table(compare)      one row per case of the full matrix
  detail_lines(compare)      the offered-load sweeps and the extras (iperf3, UDP req/resp)

Markdown pipe tables are a join of strings; no table library is pulled in for that.
A phase that answered fewer than MIN_CONNS conns (bench/compare_plan.py) shows no rate,
percentile or CPU per conn: its saturation cell says `stalled (N conns)`, its other cells `-`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.compare_plan import answered, shown, too_few
from bench.errors import BenchError
from bench.result_schema import COMPARE_TABLES, HEAD_TO_HEAD, load, result_files


def _n(v: Any, digits: int = 0) -> str:
    """A number for a table cell: thousands separated, '-' when missing."""
    if v is None or v == "":
        return "-"
    if isinstance(v, (int, float)):
        return f"{v:,.{digits}f}" if digits or isinstance(v, float) else f"{v:,}"
    return str(v)


def _raw(v: Any) -> str:
    """A number as the JSON has it, '-' when missing."""
    return "-" if v is None or v == "" else str(v)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(head: list[str], body: list[list[str]]) -> str:
    return "\n".join([_row(head), _row(["---"] * len(head)), *(_row(r) for r in body)])


def goal_table(h2h: dict[str, Any]) -> str:
    """Markdown table of head_to_head.json's medians, then its ratios on one line."""
    med = h2h["summary"]["medians"]
    head = ["target / mode", "new conns/s (each round)", "wrk p99 at saturation",
            "p50 / p99 at the fixed rate", "CPU s per 1k conns: workers / switch",
            "switch CPU in the kernel", "wrk CPU / (switch + workers)", "handoffs per conn",
            "congestion drops"]
    body = []
    for key in sorted(med, key=lambda k: (k.split("/")[1] != "fdir", k)):
        m = med[key]
        each = ", ".join(_n(x) for x in m["conns_per_s_each"])
        share = m["switch_sys_share"]
        body.append([key, f"**{_n(m['conns_per_s'])}** ({each})", f"{_n(m['sat_p99_ms'], 1)} ms",
                     f"{_n(m['fixed_p50_ms'], 2)} / {_n(m['fixed_p99_ms'], 2)} ms",
                     f"{_n(m['workers_cpu_s_per_1k'], 3)} / {_n(m['switch_cpu_s_per_1k'], 3)}",
                     f"{share * 100:.0f}%" if share is not None else "-",
                     _n(m["load_tool_vs_lb_cpu"], 2), _n(m["handoffs_per_conn"], 2),
                     _n(m["congestion_drop"])])
    ratios = ", ".join(f"{k} **{v}**" for k, v in h2h["summary"]["ratios"].items())
    failed = h2h.get("failed_cases") or []
    tail = f"\n\nratios: {ratios}"
    if failed:
        tail += "\n\nfailed: " + "; ".join(f"{f['case']}: {f['error']}" for f in failed)
    return _table(head, body) + tail


def matrix_table(result: dict[str, Any]) -> str:
    """Markdown table, one row per case of compare.json (saturation and fixed-rate phases)."""
    head = ["case", "conns/s (wrk)", "fixed rate: answered, p50 / p99", "affinity",
            "handoffs/conn", "congestion drops at saturation", "failure causes at the fixed rate (worker drops)",
            "CPU s/1k conns workers / switch",
            "wrk CPU / LB CPU", "new conns per lcore max/mean"]
    body = []
    for rec in result["records"]:
        s, f = shown(rec["saturation"]), shown(rec["fixed_rate"])
        causes = ", ".join(f"{k} {v}" for k, v in f["lb"]["drop_causes"].items()) or "-"
        n = answered(rec["saturation"])
        sat = (_n(s["conns_per_s"]) if s.get("conns_per_s") is not None
               else f"stalled ({n:,} conns)" if n else "stalled")
        c1k = s["cpu_s_per_1k_conns"]
        cpu = (f"{_n(c1k['workers'], 3)} / {_n(c1k['switch'], 3)}"
               if c1k["workers"] is not None and c1k["switch"] is not None else "-")
        aff = f["lb"]["affinity"]
        body.append([rec["case"], sat,
                     f"{f.get('succeeded', 0)}/{f.get('total', 0)}, "
                     f"{_n(f.get('p50_ms'), 3)} / {_n(f.get('p99_ms'), 3)} ms",
                     f"{aff}%" if aff is not None else "-", _n(f["lb"]["handoffs_per_conn"], 2),
                     _n(s["lb"]["congestion_drop"]), causes, cpu, _n(s["load_tool_vs_lb_cpu"], 3),
                     _n(f["lb"]["spread_max_over_mean"], 2)])
    return _table(head, body)


def detail_lines(result: dict[str, Any]) -> str:
    """One paragraph per offered-load sweep and per extras run."""
    out = []
    for rec in result["records"]:
        if rec.get("sweep"):
            shown_sweep = [shown(s) for s in rec["sweep"]]
            parts = [f"{s['offered_rate']}/s offered: {s.get('succeeded', 0)}/{s.get('total', 0)} "
                     f"answered, {_raw(s['lb']['handoffs_per_conn'])} handoffs/conn, "
                     f"{s['lb']['congestion_drop']} congestion drops" for s in shown_sweep]
            out.append(f"sweep {rec['case']}: " + "; ".join(parts))
        ex = rec.get("extras")
        if ex:
            parts = []
            for name, label in (("iperf3_tcp", "iperf3 TCP"), ("iperf3_udp", "iperf3 UDP")):
                r = ex.get(name, {})
                parts.append(f"{label} {r['error']}" if "error" in r
                             else f"{label} {_n(r.get('mbit_s'), 1)} Mbit/s")
            u = ex.get("udp_rr")
            if u:
                few = too_few({"succeeded": u.get("answered", 0)})
                p50, p99 = ("-", "-") if few else (_raw(u.get("p50_ms")), _raw(u.get("p99_ms")))
                parts.append(f"UDP request/response at {u.get('rate')}/s: {u.get('answered')}/"
                             f"{u.get('sent')} answered, p50 {p50} / p99 {p99} ms")
            out.append(f"extras {rec['case']}: " + "; ".join(parts))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the tables for a results folder (default results/compare) or one of its files
    (compare.json or head_to_head.json: that table only). Exit 2, with one line naming the
    path or file, when the folder holds neither result, the path is neither, or a file is
    unreadable, not JSON, or not what `make compare` writes (bench/result_schema.py)."""
    ap = argparse.ArgumentParser(prog="python -m bench.compare_tables",
                                 description="Print the README's comparison tables from `make compare` results.")
    ap.add_argument("path", nargs="?", default="results/compare",
                    help="a results folder, or its compare.json or head_to_head.json (default results/compare)")
    a = ap.parse_args(argv)
    renders = {"head_to_head.json": (HEAD_TO_HEAD, goal_table),
               "compare.json": (COMPARE_TABLES, lambda d: matrix_table(d) + "\n\n" + detail_lines(d))}
    texts = []
    try:
        for path in result_files(Path(a.path), tuple(renders)):
            schema, render = renders[path.name]
            texts.append(f"<!-- {path} -->\n{render(load(path, schema))}\n")
    except BenchError as e:
        print(f"compare_tables: {e}", file=sys.stderr)
        return 2
    print("\n".join(texts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
