"""The outputs of `make compare`: compare.json (everything), compare.csv (one row per case
and phase) and three PNG figures drawn with matplotlib.

  conns_and_p99.png     new conns/s at saturation (wrk) and p99 at the fixed rate (h2load),
                        per steering mode and target, over lcore counts
  handoff_vs_load.png   handoffs per conn and congestion drops vs offered load
  usable_ports.png      usable local ports (smallest per-lcore total) vs lcore count per scheme

A figure the result has no data for (handoff_vs_load.png without an offered-load sweep, as in
`--quick`) is not drawn; write_all names it and why. Per-conn figures of a phase that answered
fewer than MIN_CONNS conns (bench/compare_plan.py) are left blank in the CSV and not plotted.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from bench.compare_plan import MIN_CONNS, answered, shown
from bench.errors import BenchError
from bench.result_schema import COMPARE_REPORT, load, result_files

CSV_FIELDS = ("case", "target", "mode", "lcores", "scheme", "http_server", "phase", "offered_rate",
              "answered", "failed", "conns_per_s", "p50_ms", "p99_ms", "affinity",
              "conns_new", "handoffs_per_conn", "do_handoff", "same_worker", "congestion_drop",
              "reply_misses", "no_local_port", "drop_causes", "spread_max_over_mean",
              "cpu_s_per_1k_workers", "cpu_s_per_1k_switch", "cpu_share_switch",
              "cpu_share_workers", "cpu_share_servers", "cpu_share_load_tool",
              "load_tool_vs_lb_cpu", "usable_ports_min_per_lcore", "unowned_ports_per_laddr", "too_few_conns")


def _cell(v: Any) -> Any:
    return "" if v is None else v


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per (case, phase): saturation, fixed rate, each sweep rate. A phase that
    answered fewer than MIN_CONNS conns has its per-conn cells empty and too_few_conns True."""
    out = []
    for rec in result["records"]:
        phases = [("saturation", rec["saturation"]), ("fixed_rate", rec["fixed_rate"])]
        phases += [("sweep", s) for s in rec.get("sweep", [])]
        for phase, raw in phases:
            m = shown(raw)
            lb, cpu1k, share = m["lb"], m["cpu_s_per_1k_conns"], m["cpu_share"]
            failed = (sum(m["errors"].values()) if "errors" in m
                      else int(m.get("total", 0)) - int(m.get("succeeded", 0)))
            out.append({
                "case": rec["case"], "target": rec["target"], "mode": rec["mode"],
                "lcores": rec["lcores"], "scheme": rec["scheme"],
                "http_server": rec.get("http_server", "nginx"), "phase": phase,
                "offered_rate": m.get("offered_rate", ""), "answered": answered(raw), "failed": failed,
                "conns_per_s": _cell(m.get("conns_per_s")), "p50_ms": _cell(m.get("p50_ms")),
                "p99_ms": _cell(m.get("p99_ms")), "affinity": lb["affinity"],
                "conns_new": lb["conns_new"], "handoffs_per_conn": _cell(lb["handoffs_per_conn"]),
                "do_handoff": lb["do_handoff"], "same_worker": lb["same_worker"],
                "congestion_drop": lb["congestion_drop"], "reply_misses": lb["reply_misses"],
                "no_local_port": lb["no_local_port"],
                "drop_causes": ";".join(f"{k}={v}" for k, v in lb["drop_causes"].items()),
                "spread_max_over_mean": lb["spread_max_over_mean"],
                "cpu_s_per_1k_workers": _cell(cpu1k["workers"]), "cpu_s_per_1k_switch": _cell(cpu1k["switch"]),
                "cpu_share_switch": share.get("switch"), "cpu_share_workers": share.get("workers"),
                "cpu_share_servers": share.get("servers"),
                "cpu_share_load_tool": share.get("load_tool"),
                "load_tool_vs_lb_cpu": _cell(m["load_tool_vs_lb_cpu"]),
                "usable_ports_min_per_lcore": rec["usable_ports"]["min_per_lcore"],
                "unowned_ports_per_laddr": rec["usable_ports"]["unowned_per_laddr"],
                "too_few_conns": answered(raw) < MIN_CONNS})
    return out


def write_all(result: dict[str, Any], out: Path, figures: bool = True) -> tuple[list[Path], list[str]]:
    """Write compare.json, compare.csv and (figures=True) the figures into `out`. Returns the
    paths written and one note per figure not drawn ("NAME: why"); a figure not drawn is
    removed from `out` if an earlier run left one there (it would not match this JSON)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "compare.json", out / "compare.csv"]
    paths[0].write_text(json.dumps(result, indent=1) + "\n")
    with paths[1].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows(result))
    skipped: list[str] = []
    if figures:
        drawn, skipped = draw(result, out)
        paths += drawn
        for note in skipped:
            (out / note.split(":")[0]).unlink(missing_ok=True)
    return paths, skipped


def _series(result: dict[str, Any], key) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(target, mode) -> [(lcores, value)] over the lsb cases; `key` gets the record with its
    phases as shown (bench/compare_plan.py shown()): too few conns give no point."""
    out: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for rec in result["records"]:
        if rec["scheme"] != "lsb" or rec.get("http_server", "nginx") != "nginx" or rec.get("ring_override"):
            continue
        v = key({**rec, "saturation": shown(rec["saturation"]), "fixed_rate": shown(rec["fixed_rate"])})
        if v is None:
            continue
        out.setdefault((rec["target"], rec["mode"]), []).append((rec["lcores"], float(v)))
    return {k: sorted(v) for k, v in out.items()}


STYLE = {"fdir": ("tab:green", "o"), "rss": ("tab:red", "x"), "handoff": ("tab:blue", "s")}
DASH = {"softswitch": "-", "bmv2": "--"}
FIGURES = ("conns_and_p99.png", "handoff_vs_load.png", "usable_ports.png")


def missing_data(result: dict[str, Any]) -> dict[str, str]:
    """Figure name -> why it has nothing to draw, for the figures of FIGURES without data."""
    out = {}
    if not (_series(result, lambda r: r["saturation"]["conns_per_s"])
            or _series(result, lambda r: r["fixed_rate"].get("p99_ms"))):
        out["conns_and_p99.png"] = (f"no lsb case with conns/s or a p99 (each answered fewer than "
                                    f"{MIN_CONNS} conns, or there is none)")
    if not any(rec.get("sweep") for rec in result["records"]):
        out["handoff_vs_load.png"] = "no offered-load sweep in this run (the plan has none, e.g. --quick)"
    if not result["usable_ports"]:
        out["usable_ports.png"] = "no usable-ports rows in this result"
    return out


def _legend(a, size: int) -> None:
    if a.get_legend_handles_labels()[0]:     # matplotlib warns on a legend without artists
        a.legend(fontsize=size)


def _save(plt: Any, fig: Any, path: Path, note: str | None = None) -> Path:
    """Finish one figure: the grey footnote (if any), layout, PNG at 90 dpi, figure closed."""
    if note is not None:
        fig.text(0.01, 0.01, note, fontsize=7, color="gray")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw(result: dict[str, Any], out: Path) -> tuple[list[Path], list[str]]:
    """Draw the FIGURES that have data into `out`: (paths written, "NAME: why" per figure
    not drawn)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    load = result.get("machine", {})
    note = (f"{load.get('cpus', '?')} CPUs, load avg {load.get('loadavg_5m', '?')} (5 min) at "
            f"the end of the run; targets and modes side by side in one run")
    paths = []
    skip = missing_data(result)

    # 1. conns/s at saturation and p99 at the fixed rate
    if "conns_and_p99.png" not in skip:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
        sat = _series(result, lambda r: r["saturation"]["conns_per_s"])
        p99 = _series(result, lambda r: r["fixed_rate"].get("p99_ms"))
        for (target, mode), pts in sat.items():
            c, m = STYLE.get(mode, ("k", "."))
            a1.plot(*zip(*pts, strict=False), DASH.get(target, ":"), color=c, marker=m,
                    label=f"{mode} ({target})")
        for (target, mode), pts in p99.items():
            c, m = STYLE.get(mode, ("k", "."))
            a2.plot(*zip(*pts, strict=False), DASH.get(target, ":"), color=c, marker=m,
                    label=f"{mode} ({target})")
        rate = result["plan"]["rate"]
        a1.set(title="new HTTP conns/s at saturation (wrk, Connection: close)", xlabel="lcores",
               ylabel="answered conns/s")
        a2.set(title=f"p99 request time at {rate} new conns/s (h2load --rate)", xlabel="lcores",
               ylabel="ms", yscale="log")
        ticks = sorted({r["lcores"] for r in result["records"]})
        for a in (a1, a2):
            a.grid(alpha=0.3)
            _legend(a, 7)
            a.set_xticks(ticks)
        paths.append(_save(plt, fig, out / "conns_and_p99.png",
                           note + f"; no point where fewer than {MIN_CONNS} conns were answered"))

    # 2. handoffs per conn and congestion drops vs offered load
    if "handoff_vs_load.png" not in skip:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
        for rec in result["records"]:
            if not rec.get("sweep"):
                continue
            c, m = STYLE.get(rec["mode"], ("k", "."))
            if rec.get("ring_override"):
                c, m = "tab:purple", "^"        # the shallow-ring case apart from the lab's ring
            xs = [s["offered_rate"] for s in rec["sweep"]]
            label = f"{rec['mode']} ({rec['target']}, {rec['lcores']} lcores"
            label += f", ring {rec['handoff_depth']})" if rec["mode"] == "handoff" and "handoff_depth" in rec else ")"
            per_conn = [shown(s)["lb"]["handoffs_per_conn"] for s in rec["sweep"]]
            a1.plot(xs, [float("nan") if v is None else v for v in per_conn],
                    DASH.get(rec["target"], ":"), color=c, marker=m, label=label)
            a2.plot(xs, [s["lb"]["congestion_drop"] for s in rec["sweep"]],
                    DASH.get(rec["target"], ":"), color=c, marker=m, label=label)
        a1.set(title="handoffs per answered conn (VPP 'do handoff')", xlabel="offered new conns/s",
               ylabel="handoffs / conn")
        a2.set(title="congestion drops (VPP 'congestion drop')", xlabel="offered new conns/s",
               ylabel="frames dropped", yscale="symlog")
        for a in (a1, a2):
            a.grid(alpha=0.3)
            _legend(a, 7)
        paths.append(_save(plt, fig, out / "handoff_vs_load.png", note))

    # 3. usable ports vs lcore count per scheme
    if "usable_ports.png" not in skip:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
        colors = {"lsb": "tab:purple", "range": "tab:orange", "laddr": "tab:cyan"}
        by_scheme: dict[str, list[dict[str, Any]]] = {}
        for u in result["usable_ports"]:
            by_scheme.setdefault(u["scheme"], []).append(u)
        for scheme, us in by_scheme.items():
            us.sort(key=lambda u: u["lcores"])
            xs = [u["lcores"] for u in us]
            a1.plot(xs, [u["min_per_lcore"] for u in us], marker="o", color=colors.get(scheme),
                    label=scheme)
            a2.plot(xs, [u["unowned_per_laddr"] for u in us], marker="o", color=colors.get(scheme),
                    label=scheme)
        k = result["plan"]["laddrs"]
        a1.set(title=f"usable local ports of the poorest lcore ({k} local addresses)",
               xlabel="lcores", ylabel="ports")
        a2.set(title="local ports per address that no lcore owns", xlabel="lcores", ylabel="ports")
        for a in (a1, a2):
            a.grid(alpha=0.3)
            _legend(a, 8)
            a.set_xticks(range(1, 9))
        paths.append(_save(plt, fig, out / "usable_ports.png"))
    return paths, [f"{name}: {why}" for name, why in skip.items()]


def main(argv: list[str] | None = None) -> int:
    """Redraw the figures and CSV from a compare.json: `python -m bench.compare_report [PATH]`,
    PATH a results folder or its compare.json (default results/compare). Exit 2 with one line
    naming the file when it is missing or not a `make compare` result; 1 when the folder is
    not writable."""
    ap = argparse.ArgumentParser(prog="python -m bench.compare_report",
                                 description="Redraw compare.csv and the figures from a compare.json.")
    ap.add_argument("path", nargs="?", default="results/compare",
                    help="a results folder or its compare.json (default results/compare)")
    a = ap.parse_args(argv)
    try:
        src = result_files(Path(a.path), ("compare.json",))[0]
        result = load(src, COMPARE_REPORT)
    except BenchError as e:
        print(f"compare_report: {e}", file=sys.stderr)
        return 2
    out = src.parent
    try:
        paths, skipped = write_all(result, out)
    except OSError as e:
        print(f"compare_report: cannot write into {out}: {e.strerror or e} ({e.filename})", file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    for note in skipped:
        print(f"not drawn: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
