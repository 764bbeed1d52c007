"""`make compare` (`python -m bench.compare`): flow director vs RSS vs handoff, measured with
real load tools in the Mininet lab, for each target present (softswitch; BMv2 when
simple_switch_grpc is on PATH), lcore counts and partition schemes (bench/compare_plan.py).

Writes results/compare/compare.json and compare.csv and the PNG figures
(bench/compare_report.py). Needs root (Mininet); takes /tmp/fdirlab-root.lock per lab so
that other users of the machine's lab get their turn between labs.
"""
from __future__ import annotations

import argparse
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.compare_plan import (
    COUNTERS,
    Case,
    Plan,
    answered,
    cpu_per_1k,
    delta,
    flat_counters,
    full_plan,
    quick_plan,
    shown,
    summarize,
    usable_ports,
)
from controller.workers import WorkerClient
from fdirlab.hostport import http_url
from fdirlab.mask_math import MAX_LCORES
from fdirlab.partition import SCHEMES
from topo.hosts import PYTHON
from topo.lab import SWITCH_NAME, LabRun
from topo.loadgen import (
    cpu_times,
    h2load_command,
    iperf3_command,
    parse_cpu_times,
    parse_h2load,
    parse_iperf3,
    parse_wrk,
    with_cpu_times,
    write_wrk_script,
    wrk_command,
)

LOCK = "/tmp/fdirlab-root.lock"
RESULTS = Path("results/compare")
QUICK_RESULTS = Path("results/compare-quick")
TOOLS = ("nginx", "wrk", "h2load", "iperf3")


@contextmanager
def root_lock(enabled: bool) -> Iterator[None]:
    """The machine-wide lab lock (RULES: one lab at a time); a no-op when the caller holds it
    already (FDIRLAB_LOCK_HELD=1, e.g. under `flock ... make test`)."""
    if not enabled or os.environ.get("FDIRLAB_LOCK_HELD") == "1":
        yield
        return
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def machine_load() -> dict[str, Any]:
    la = os.getloadavg()
    return {"loadavg_1m": round(la[0], 2), "loadavg_5m": round(la[1], 2), "cpus": os.cpu_count()}


IPERF3_SERVICES = """
# added by bench/compare.py: iperf3 through the load balancer (one real server: iperf3's
# control conn and its data conns must reach the same server)
[[services]]
name = "iperf3"
vip = "10.0.0.100"
vport = 5201
proto = "tcp"
sched = "rr"
servers = [{ server = "rs1", port = 5201 }]

[[services]]
name = "iperf3-udp"
vip = "10.0.0.100"
vport = 5201
proto = "udp"
sched = "rr"
servers = [{ server = "rs1", port = 5201 }]
"""


def lab_file() -> Path:
    """The default lab (topo/labs/default.toml) plus the iperf3 services."""
    src = Path(__file__).resolve().parent.parent / "topo" / "labs" / "default.toml"
    path = Path("/tmp/fdirlab-compare.toml")
    path.write_text(src.read_text() + IPERF3_SERVICES)
    return path


def laddrs_per_lcore(lab_path: Path, lcores: int) -> list[str]:
    """The lab's local addresses, extended so that each family (IPv4, IPv6) has one per lcore
    (at least as many as the lab has): consecutive addresses from the family's first one.
    Scheme `laddr` gives each lcore the ports of one address per family; with fewer
    addresses than lcores the lab would leave an lcore without ports (refused at load)."""
    raw = tomllib.loads(lab_path.read_text())
    addrs = [ipaddress.ip_address(a) for a in raw.get("laddrs", {}).get("addrs", [])]
    out: list[str] = []
    for version in (4, 6):
        fam = [a for a in addrs if a.version == version]
        if fam:
            out += [str(fam[0] + i) for i in range(max(lcores, len(fam)))]
    return out


class CaseRun:
    """One lab (one Case) and the measurements taken in it."""

    def __init__(self, case: Case, plan: Plan, grpc_port: int) -> None:
        self.case, self.plan = case, plan
        run_dir = f"/tmp/fdirlab/cmp-{case.name}"
        over: dict[str, dict[str, Any]] = {
            "lab": {"name": f"cmp-{case.name}", "run_dir": run_dir, "scheme": case.scheme},
            "switch": {"grpc_addr": f"127.0.0.1:{grpc_port}"},
            "lcores": {"count": case.lcores}}
        if case.handoff_depth is not None:
            over["lcores"]["handoff_depth"] = case.handoff_depth
        if case.scheme == "laddr":   # one local address per lcore: give every lcore one
            over["laddrs"] = {"addrs": laddrs_per_lcore(lab_file(), case.lcores)}
        self.lab = LabRun(str(lab_file()), target=case.target, steering=case.mode, overrides=over,
                          http_server=case.http_server)
        self.client = self.lab.lab.clients[0].name
        self.web = next(s for s in self.lab.lab.services if s.proto == "tcp" and s.vport != 5201)
        self.udp = next((s for s in self.lab.lab.services if s.proto == "udp" and s.vport != 5201),
                        None)
        self.url = http_url(self.web.vip, self.web.vport)     # [v6]:port (RFC 3986)
        self.tmp = Path(run_dir) / "load"

    # --- readings ---------------------------------------------------------------------
    def counters(self) -> list[dict[str, int]]:
        out = []
        for i in range(self.lab.lab.n_lcores):
            c = WorkerClient(i, self.lab.lab.socket_path(i), timeout=10)
            try:
                out.append(flat_counters(c.stats()))
            finally:
                c.close()
        return out

    def pids(self) -> dict[str, list[int]]:
        sw = self.lab.net[SWITCH_NAME].process.proc
        return {"switch": [sw.pid] if sw else [],
                "workers": [p.pid for p in self.lab.workers.values()],
                "servers": [p.pid for p in (*self.lab.nginx.values(), *self.lab.servers.values())]}

    def cpu(self) -> dict[str, float]:
        """CPU seconds per role; `<role>_sys` is the part spent in the kernel (for the switch:
        mostly veth transmit, where the receiving side's stack runs in the sender's context)."""
        out = {}
        for role, pids in self.pids().items():
            user = system = 0.0
            for pid in pids:
                try:
                    u, s_ = cpu_times(pid)
                except OSError:
                    continue
                user, system = user + u, system + s_
            out[role] = user + system
            out[f"{role}_sys"] = system
        return out

    def tool(self, cmd: list[str], timeout: float) -> tuple[str, float | None]:
        proc = self.lab.net[self.client].popen(with_cpu_times(cmd), stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               text=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except BaseException:
            # timed out, or SIGTERM/SIGHUP (topo.signals): the tool and its with-cpu shell
            # (a session of their own, mnexec -d) must not outlive the lab
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise
        return out, parse_cpu_times(out)

    def phase(self, cmd: list[str], timeout: float) -> tuple[str, dict[str, Any]]:
        """Run a load tool; returns its output and what the LB did meanwhile (counters,
        CPU seconds per role, wall seconds, the tool's own CPU seconds)."""
        c0, cpu0, t0 = self.counters(), self.cpu(), time.monotonic()
        out, tool_cpu = self.tool(cmd, timeout)
        wall = time.monotonic() - t0
        cpu1, c1 = self.cpu(), self.counters()
        cpu = {k: round(cpu1[k] - cpu0[k], 3) for k in cpu0}
        cpu["load_tool"] = tool_cpu if tool_cpu is not None else 0.0
        return out, {"wall_s": round(wall, 3), "cpu_s": cpu, "per_lcore": delta(c0, c1)}

    # --- phases -----------------------------------------------------------------------
    def saturation(self) -> dict[str, Any]:
        p = self.plan
        script = write_wrk_script(self.tmp / "close.lua")
        cmd = wrk_command(self.url, script, conns=p.wrk_conns, seconds=p.sat_seconds)
        out, m = self.phase(cmd, timeout=p.sat_seconds + 60)
        res: dict[str, Any] = {"tool": "wrk", "conns": p.wrk_conns}
        try:
            w = parse_wrk(out)
        except ValueError:
            # Seen in rss mode only: with every conn stalled (lost SYN-ACKs), wrk 4.1 does not
            # leave its event loop at -d nor on SIGINT; it is killed and reports nothing.
            res.update(conns_per_s=None, ok=0, errors={}, tool_error="wrk stalled and was killed")
            res.update(self._lb_view(m, 0))
            return res
        res.update(w.to_json())
        res.update(self._lb_view(m, w.ok))
        return res

    def fixed_rate(self, rate: int, seconds: float) -> dict[str, Any]:
        log = self.tmp / f"h2load-{rate}.log"
        cmd = h2load_command(self.url, rate, seconds, log)
        out, m = self.phase(cmd, timeout=seconds + 120)
        h = parse_h2load(out, log.read_text() if log.exists() else "")
        ok = int(h.get("succeeded", 0))       # type: ignore[call-overload]
        res: dict[str, Any] = {"tool": "h2load --h1 --rate", "offered_rate": rate,
                               "offered_seconds": seconds, **h}
        res["answered_share"] = round(ok / h["total"], 4) if h.get("total") else None
        res.update(self._lb_view(m, ok))
        return res

    def _lb_view(self, m: dict[str, Any], ok: int) -> dict[str, Any]:
        cpu, wall = m["cpu_s"], m["wall_s"]
        lb = cpu["switch"] + cpu["workers"]
        return {
            "wall_s": wall, "cpu_s": cpu,
            "cpu_share": {k: round(v / wall, 3) for k, v in cpu.items()} if wall else {},
            "load_tool_vs_lb_cpu": round(cpu["load_tool"] / lb, 3) if lb else None,
            "cpu_s_per_1k_conns": {"workers": cpu_per_1k(cpu["workers"], ok),
                                   "switch": cpu_per_1k(cpu["switch"], ok),
                                   "servers": cpu_per_1k(cpu["servers"], ok),
                                   "load_tool": cpu_per_1k(cpu["load_tool"], ok)},
            "lb": summarize(m["per_lcore"], ok),
        }

    def extras(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, udp in (("iperf3_tcp", False), ("iperf3_udp", True)):
            txt, _ = self.tool(iperf3_command(self.web.vip, 2, udp, "20M"), 60)
            body = txt[: txt.rfind("#cpu")] if "#cpu" in txt else txt
            try:
                out[name] = parse_iperf3(body)
            except (ValueError, KeyError) as e:     # killed by its timeout, or no JSON
                out[name] = {"error": f"{type(e).__name__}: {body.strip()[-200:]!r}"}
        if self.udp is not None:
            cmd = [PYTHON, "-m", "topo.udpload", "--vip", self.udp.vip, "--port", str(self.udp.vport),
                   "--rate", "400", "--seconds", "2"]
            txt, cpu = self.tool(cmd, 60)
            line = next((ln for ln in txt.splitlines() if ln.startswith("{")), "{}")
            out["udp_rr"] = {**json.loads(line), "tool_cpu_s": cpu}
        return out

    def run(self) -> dict[str, Any]:
        case, p = self.case, self.plan
        rec: dict[str, Any] = {"case": case.name, "target": case.target, "mode": case.mode,
                               "lcores": case.lcores, "scheme": case.scheme,
                               "handoff_depth": case.handoff_depth or self.lab.lab.lcores.handoff_depth,
                               "ring_override": case.handoff_depth is not None,
                               "http_server": case.http_server,
                               "load_before": machine_load()}
        t0 = time.monotonic()
        self.lab.start()
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            rec["start_s"] = round(time.monotonic() - t0, 2)
            rec["saturation"] = self.saturation()
            rec["fixed_rate"] = self.fixed_rate(p.rate, p.rate_seconds)
            if case.sweep:
                rec["sweep"] = [self.fixed_rate(r, p.sweep_seconds) for r in p.sweep_rates]
            if case.extras:
                rec["extras"] = self.extras()
        finally:
            self.lab.stop()
        rec["usable_ports"] = usable_ports(case.scheme, case.lcores,
                                           len(self.lab.lab.laddrs))
        rec["seconds"] = round(time.monotonic() - t0, 1)
        return rec


def available_targets() -> tuple[str, ...]:
    return ("softswitch", "bmv2") if shutil.which("simple_switch_grpc") else ("softswitch",)


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]


def run_plan(plan: Plan, lock: bool = True, log=print) -> dict[str, Any]:
    """Every case of the plan, one lab at a time; the root lock is held for a batch of
    labs of one (target, lcore count) -- about a minute -- and released between batches."""
    records: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    port = 9600
    started = time.monotonic()
    cases = plan.cases()
    batches: list[list[tuple[int, Case]]] = []
    for i, case in enumerate(cases):
        if batches and (batches[-1][0][1].target, batches[-1][0][1].lcores) == \
                (case.target, case.lcores) and len(batches[-1]) < 3:
            batches[-1].append((i, case))
        else:
            batches.append([(i, case)])
    for batch in batches:
        with root_lock(lock):
            done = [_run_case(i, case, plan, port + i % 50, len(cases), failed, log)
                    for i, case in batch]
        records += [r for r in done if r is not None]
    # pure arithmetic (fdirlab/partition.py): every scheme at every lcore count 1..8
    schemes = [usable_ports(sc, n, plan.laddrs) for sc in SCHEMES for n in range(1, 9)]
    return {"plan": {k: v for k, v in vars(plan).items() if k != "notes"},
            "machine": machine_load(), "seconds": round(time.monotonic() - started, 1),
            "http_server": "nginx", "counters": list(COUNTERS),
            "records": records, "failed_cases": failed, "usable_ports": schemes}


def _try_case(case: Case, plan: Plan, grpc_port: int, failed: list[dict[str, str]], log,
              prefix: str) -> dict[str, Any] | None:
    """One lab's record, or None after listing the case in `failed` with its error: one
    broken lab does not lose the others' results."""
    try:
        return CaseRun(case, plan, grpc_port).run()
    except Exception as e:
        failed.append({"case": case.name, "error": f"{type(e).__name__}: {e}"})
        log(f"{prefix} {case.name:28} FAILED: {failed[-1]['error']}")
        return None


def _run_case(i: int, case: Case, plan: Plan, grpc_port: int, total: int,
              failed: list[dict[str, str]], log) -> dict[str, Any] | None:
    rec = _try_case(case, plan, grpc_port, failed, log, f"[{i + 1}/{total}]")
    if rec is None:
        return None
    log(f"[{i + 1}/{total}] {case_line(rec)}", flush=True)
    return rec


def _rate(s: dict[str, Any]) -> str:
    """A saturation phase's conns/s for a progress line, or `stalled (N conns)` when it
    answered too few (bench/compare_plan.py MIN_CONNS)."""
    v = shown(s)["conns_per_s"]
    n = answered(s)
    return f"{v:8.1f} conns/s" if v is not None else (f"stalled ({n} conns)" if n else "stalled").rjust(16)


def case_line(rec: dict[str, Any]) -> str:
    """The progress line of one case: saturation, then the fixed rate, with the figures of a
    phase that answered too few conns as '-' (the same rule as the tables)."""
    s, f = shown(rec["saturation"]), shown(rec["fixed_rate"])
    share = s["cpu_share"]
    hpc = f["lb"]["handoffs_per_conn"]
    return (f"{rec['case']:28} {_rate(rec['saturation'])} "
            f"(wrk {share.get('load_tool', 0):.2f} CPU, LB "
            f"{share.get('switch', 0) + share.get('workers', 0):.2f}) | "
            f"{f['offered_rate']}/s: {f.get('succeeded', 0)}/{f.get('total', 0)} answered, "
            f"p50 {_dash(f.get('p50_ms'))} p99 {_dash(f.get('p99_ms'))} ms, affinity "
            f"{f['lb']['affinity']}%, handoffs/conn {_dash(hpc)}")


def _dash(v: Any) -> str:
    return "-" if v is None else str(v)


def head_to_head(targets: tuple[str, ...], repeats: int, lock: bool = True,
                 log=print) -> dict[str, Any]:
    """The goal check: the default lab (4 lcores, lsb) in fdir and handoff mode on every
    target, interleaved `repeats` times (target A fdir, A handoff, B fdir, B handoff, A ...)
    so that the machine's other load falls on all of them alike; medians and ratios."""
    plan = full_plan(targets)
    rounds: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    n = 0
    for rep in range(repeats):
        for target in targets:
            with root_lock(lock):     # one batch: fdir and handoff on this target
                for mode in ("fdir", "handoff"):
                    n += 1            # a port of its own per lab, failed ones included
                    rec = _h2h_case(Case(target, mode, 4), plan, 9660 + n % 20, rep + 1, failed, log)
                    if rec is not None:
                        rounds.append(rec)
    return {"plan": {k: v for k, v in vars(plan).items() if k != "notes"},
            "machine": machine_load(), "records": rounds, "failed_cases": failed,
            "summary": head_to_head_summary(rounds)}


def _h2h_case(case: Case, plan: Plan, grpc_port: int, rnd: int, failed: list[dict[str, str]],
              log) -> dict[str, Any] | None:
    rec = _try_case(case, plan, grpc_port, failed, log, f"round {rnd}")
    if rec is None:
        return None
    rec["round"] = rnd
    s = rec["saturation"]
    log(f"round {rnd} {case.name:26} {_rate(s)}, "
        f"wrk CPU {s['cpu_s']['load_tool']:.2f}s vs switch+workers "
        f"{s['cpu_s']['switch'] + s['cpu_s']['workers']:.2f}s", flush=True)
    return rec


def head_to_head_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per (target, mode) and the ratios the README quotes. A phase that answered
    fewer than MIN_CONNS conns adds no rate, percentile or CPU per conn to a median
    (bench/compare_plan.py shown())."""
    from statistics import median
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rounds:
        r = {**r, "saturation": shown(r["saturation"]), "fixed_rate": shown(r["fixed_rate"])}
        by.setdefault(f"{r['target']}/{r['mode']}", []).append(r)
    med: dict[str, dict[str, Any]] = {}
    for key, rs in by.items():
        sat = [r["saturation"] for r in rs]
        fix = [r["fixed_rate"] for r in rs]

        def m(vals: list[Any]) -> float | None:
            vals = [v for v in vals if v is not None]
            return round(median(vals), 4) if vals else None
        med[key] = {
            "rounds": len(rs),
            "conns_per_s": m([x["conns_per_s"] for x in sat]),
            "conns_per_s_each": [x["conns_per_s"] for x in sat],
            "sat_p99_ms": m([x.get("p99_ms") for x in sat]),
            "fixed_p50_ms": m([x.get("p50_ms") for x in fix]),
            "fixed_p99_ms": m([x.get("p99_ms") for x in fix]),
            "workers_cpu_s_per_1k": m([x["cpu_s_per_1k_conns"]["workers"] for x in sat]),
            "switch_cpu_s_per_1k": m([x["cpu_s_per_1k_conns"]["switch"] for x in sat]),
            "switch_sys_share": m([x["cpu_s"]["switch_sys"] / x["cpu_s"]["switch"]
                                   for x in sat if x["cpu_s"]["switch"]]),
            "load_tool_vs_lb_cpu": m([x["load_tool_vs_lb_cpu"] for x in sat]),
            "handoffs_per_conn": m([x["lb"]["handoffs_per_conn"] for x in sat]),
            "same_worker": sum(x["lb"]["same_worker"] for x in sat),
            "do_handoff": sum(x["lb"]["do_handoff"] for x in sat),
            "congestion_drop": sum(x["lb"]["congestion_drop"] for x in sat),
        }
    ratios: dict[str, Any] = {}
    sw, bm = med.get("softswitch/fdir"), med.get("bmv2/fdir")
    if sw and bm and sw["conns_per_s"] and bm["conns_per_s"]:
        ratios["softswitch_over_bmv2_fdir_conns"] = round(sw["conns_per_s"] / bm["conns_per_s"], 3)
    for t in ("softswitch", "bmv2"):
        f, h = med.get(f"{t}/fdir"), med.get(f"{t}/handoff")
        if f and h and f["workers_cpu_s_per_1k"] and h["workers_cpu_s_per_1k"]:
            ratios[f"{t}_handoff_over_fdir_workers_cpu"] = round(
                h["workers_cpu_s_per_1k"] / f["workers_cpu_s_per_1k"], 3)
        if f and h and f["conns_per_s"] and h["conns_per_s"]:
            ratios[f"{t}_handoff_over_fdir_conns"] = round(h["conns_per_s"] / f["conns_per_s"], 3)
    return {"medians": med, "ratios": ratios}


def main(argv: list[str] | None = None) -> int:
    """`make compare`. Every argument is checked before anything starts (exit 2 naming the bad
    value); a run whose every case failed leaves the results folder as it was (exit 1)."""
    ap = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one lcore count, a few seconds per mode")
    ap.add_argument("--out", help=f"results folder (default {RESULTS}; with --quick {QUICK_RESULTS}, "
                                  "so that a quick run never replaces the full run's results)")
    ap.add_argument("--targets", help="comma list (default: softswitch, and bmv2 when installed)")
    ap.add_argument("--lcores", help="comma list of lcore counts (default 1,2,4,6,8)")
    ap.add_argument("--modes", help="comma list of steering modes (default fdir,rss,handoff)")
    ap.add_argument("--no-lock", action="store_true", help=f"do not take {LOCK}")
    ap.add_argument("--no-figures", action="store_true")
    ap.add_argument("--head-to-head", type=int, metavar="N",
                    help="only the goal check: fdir and handoff, 4 lcores, every target, "
                         "interleaved N times; writes head_to_head.json (not with --quick, --lcores, --modes)")
    a = ap.parse_args(argv)
    try:
        targets, plan = _checked_plan(a)
    except ValueError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    out = results_dir(a.quick, a.out)
    try:
        check_out_dir(out)             # before the first lab: a run's results must have somewhere to go
    except ValueError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("compare: needs root (Mininet network namespaces)", file=sys.stderr)
        return 2
    missing = missing_tools()
    if missing:
        print(f"compare: {', '.join(missing)} not installed: run `make setup`", file=sys.stderr)
        return 2
    from topo.signals import Terminated, stop_on_signals
    try:
        with stop_on_signals():       # SIGTERM/SIGHUP: the running lab is stopped as after its case
            return _run(a, targets, plan, out)
    except Terminated as t:
        try:
            print(f"compare: stopped on {signal.Signals(t.signum).name}: the running lab was torn down, "
                  f"nothing written to {out}", file=sys.stderr)
        except OSError:               # the terminal is gone (SIGHUP)
            pass
        return int(t.code or 1)


def _run(a: argparse.Namespace, targets: tuple[str, ...], plan: Plan, out: Path) -> int:
    if a.head_to_head is not None:
        res = head_to_head(targets, a.head_to_head, lock=not a.no_lock)
        if not res["records"]:
            print(f"compare: every case failed, {out} left as it was", file=sys.stderr)
            for f in res["failed_cases"]:
                print(f"compare: case {f['case']} failed: {f['error']}", file=sys.stderr)
            return 1
        out.mkdir(parents=True, exist_ok=True)
        (out / "head_to_head.json").write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps(res["summary"]["ratios"]))
        print(f"wrote {out / 'head_to_head.json'}")
        return 1 if res["failed_cases"] else 0
    result = run_plan(plan, lock=not a.no_lock)
    for f in result["failed_cases"]:
        print(f"compare: case {f['case']} failed: {f['error']}", file=sys.stderr)
    if not result["records"]:
        print(f"compare: every case failed, {out} left as it was", file=sys.stderr)
        return 1
    from bench.compare_report import write_all
    paths, skipped = write_all(result, out, figures=not a.no_figures)
    print("wrote " + ", ".join(str(p) for p in paths))
    for note in skipped:
        print(f"not drawn: {note}")
    return 1 if result["failed_cases"] else 0


def results_dir(quick: bool, out: str | None) -> Path:
    """--out, else results/compare (results/compare-quick for --quick: a quick run never
    replaces the committed full run's JSON and figures)."""
    return Path(out) if out else (QUICK_RESULTS if quick else RESULTS)


def check_out_dir(out: Path) -> None:
    """ValueError naming --out when the results cannot be written there: it exists and is
    not a directory, or the directory (or the nearest existing folder above it, where it
    would be made) is not a writable directory."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r}: exists and is not a directory")
    base = out
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"--out {str(out)!r}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f"--out {str(out)!r}: {base} is not writable")


def _checked_plan(a: argparse.Namespace) -> tuple[tuple[str, ...], Plan]:
    """The targets and plan the arguments ask for; ValueError naming the first bad value."""
    targets = tuple(a.targets.split(",")) if a.targets else available_targets()
    for t in targets:
        if t not in ("softswitch", "bmv2"):
            raise ValueError(f"target {t!r}: use softswitch or bmv2")
    if "bmv2" in targets and not shutil.which("simple_switch_grpc"):
        raise ValueError("target 'bmv2': simple_switch_grpc is not on PATH")
    if a.head_to_head is not None and a.head_to_head < 1:
        raise ValueError(f"--head-to-head {a.head_to_head}: must be >= 1")
    if a.head_to_head is not None:
        # the goal check is one fixed design (fdir and handoff, 4 lcores, the full plan's phases);
        # an option that would change it is refused rather than ignored
        mixed = [opt for opt, given in (("--quick", a.quick), ("--lcores", a.lcores), ("--modes", a.modes))
                 if given]
        if mixed:
            raise ValueError(f"--head-to-head always runs fdir and handoff at 4 lcores with the full plan: "
                             f"{', '.join(mixed)} cannot be combined with it")
    plan = quick_plan(targets) if a.quick else full_plan(targets)
    if a.lcores:
        counts = []
        for x in a.lcores.split(","):
            if not x.strip().isdigit() or not 1 <= int(x) <= MAX_LCORES:
                raise ValueError(f"--lcores {a.lcores!r}: {x!r} is not an lcore count in 1..{MAX_LCORES}")
            counts.append(int(x))
        plan = _replace(plan, lcores=tuple(counts))
    if a.modes:
        modes = tuple(a.modes.split(","))
        bad = [m for m in modes if m not in ("fdir", "rss", "handoff")]
        if bad:
            raise ValueError(f"--modes {a.modes!r}: mode {bad[0]!r}: use fdir, rss or handoff")
        plan = _replace(plan, modes=modes)
    return targets, plan


def _replace(plan: Plan, **kw: Any) -> Plan:
    from dataclasses import replace
    return replace(plan, **kw)


if __name__ == "__main__":
    sys.exit(main())
