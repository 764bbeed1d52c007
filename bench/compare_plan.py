"""What `make compare` measures (pure: no I/O): the plan of lab runs, the counters it reads
from the workers, and the numbers derived from them.

A case is one lab: (target, steering mode, lcore count, partition scheme). Each case runs
  - saturation: wrk, closed loop, `wrk_conns` conns, one request per TCP conn;
  - fixed rate: h2load at `rate` new conns/s (open loop), p50/p99 of the request time;
  - an offered-load sweep (some cases): h2load at each of `sweep_rates`, handoffs per conn
    and congestion drops at each rate;
  - extras (some cases): iperf3 TCP and UDP, and a UDP request/response load.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fdirlab.partition import SCHEMES, Partition

MODES = ("fdir", "rss", "handoff")
LCORE_COUNTS = (1, 2, 4, 6, 8)


@dataclass(frozen=True)
class Case:
    target: str
    mode: str
    lcores: int
    scheme: str = "lsb"
    sweep: bool = False
    extras: bool = False
    http_server: str = "nginx"      # "python": the lab's Python server, as a baseline
    handoff_depth: int | None = None   # None: the lab's (64); a shallow ring shows congestion drops

    @property
    def name(self) -> str:
        base = f"{self.target}-{self.mode}-{self.lcores}-{self.scheme}"
        if self.handoff_depth is not None:
            base += f"-r{self.handoff_depth}"        # ring depth (lab names: 32 characters)
        return base if self.http_server == "nginx" else f"{base}-{self.http_server}"


@dataclass(frozen=True)
class Plan:
    targets: tuple[str, ...]
    modes: tuple[str, ...] = MODES
    lcores: tuple[int, ...] = LCORE_COUNTS
    schemes: tuple[str, ...] = SCHEMES
    scheme_lcores: int = 6          # where schemes are compared (6: not a power of two)
    sweep_lcores: int = 4
    sat_seconds: float = 4.0
    wrk_conns: int = 32
    rate: int = 300                 # fixed offered rate for latency (new conns/s)
    rate_seconds: float = 3.0
    sweep_rates: tuple[int, ...] = (500, 1000, 2000, 3000, 4000)   # past saturation: drops show
    sweep_seconds: float = 2.0
    shallow_depth: int = 4          # handoff ring depth (frames) of the extra sweep case
    extras: bool = True
    quick: bool = False
    laddrs: int = 2                 # local addresses of the default lab
    notes: list[str] = field(default_factory=list)

    def cases(self) -> list[Case]:
        out: list[Case] = []
        for target in self.targets:
            for n in self.lcores:
                for mode in self.modes:
                    at_sweep = n == self.sweep_lcores and not self.quick
                    out.append(Case(target, mode, n, "lsb", sweep=at_sweep and mode != "rss",
                                    extras=at_sweep and self.extras))
            if not self.quick:
                for scheme in self.schemes:
                    if scheme != "lsb":
                        out.append(Case(target, "fdir", self.scheme_lcores, scheme))
                # VPP sizes its handoff frame queues (frame-queue-nelts); the same sweep with a
                # shallow ring shows what congestion drops look like when the ring is too small
                if "handoff" in self.modes:
                    out.append(Case(target, "handoff", self.sweep_lcores, "lsb", sweep=True,
                                    handoff_depth=self.shallow_depth))
                # the same lab with the Python HTTP server (what the lab had before nginx)
                out.append(Case(target, "fdir", self.sweep_lcores, http_server="python"))
        return out


def quick_plan(targets: tuple[str, ...] = ("softswitch",)) -> Plan:
    """One lcore count (4), the three modes, a few seconds each: what `make test` runs."""
    return Plan(targets=targets, lcores=(4,), schemes=("lsb",), sat_seconds=2.0, wrk_conns=8,
                rate=120, rate_seconds=2.0, sweep_rates=(), extras=False, quick=True)


def full_plan(targets: tuple[str, ...]) -> Plan:
    return Plan(targets=targets)


# --- counters ------------------------------------------------------------------------------

COUNTERS = ("conns_new", "reply_hits", "reply_misses", "no_local_port", "no_dest",
            "packets_in", "packets_out", "dropped", "same_worker", "do_handoff",
            "congestion_drop", "handoff_in")


def flat_counters(stats: dict) -> dict[str, int]:
    """One worker's `stats` answer (lcore/stats.py as_dict) as flat integer counters, with
    its drops as `drop:<reason>`."""
    pk = stats.get("packets", {})
    ho = stats.get("handoff", {})
    out = {"conns_new": stats.get("conns_new", 0), "reply_hits": stats.get("reply_hits", 0),
           "reply_misses": stats.get("reply_misses", 0),
           "no_local_port": stats.get("no_local_port", 0), "no_dest": stats.get("no_dest", 0),
           "packets_in": pk.get("in", 0), "packets_out": pk.get("out", 0),
           "dropped": pk.get("dropped", 0)}
    for k in ("same_worker", "do_handoff", "congestion_drop", "handoff_in"):
        out[k] = ho.get(k, 0)
    for reason, n in stats.get("drops", {}).items():
        out[f"drop:{reason}"] = n
    out["sa_used"] = sum(int(p.get("sa_used", 0)) for p in stats.get("pools", []))
    out["conns"] = stats.get("conns", {}).get("total", 0)
    return {k: int(v) for k, v in out.items()}


GAUGES = ("sa_used", "conns")       # levels, not counters: a delta keeps the later value


def delta(before: list[dict[str, int]], after: list[dict[str, int]]) -> list[dict[str, int]]:
    """Per-lcore counter differences (gauges keep their later value)."""
    out = []
    for b, a in zip(before, after, strict=False):
        out.append({k: (v if k in GAUGES else v - b.get(k, 0)) for k, v in a.items()})
    return out


def summarize(per_lcore: list[dict[str, int]], answered: int) -> dict[str, object]:
    """Totals over lcores and the derived figures: affinity (% of replies that found their
    conn on the lcore they reached), handoffs per answered conn (VPP "do handoff"),
    failure causes (drop reasons), and the spread of new conns over lcores (max/mean)."""
    tot: dict[str, int] = {}
    for row in per_lcore:
        for k, v in row.items():
            tot[k] = tot.get(k, 0) + v
    hits, misses = tot.get("reply_hits", 0), tot.get("reply_misses", 0)
    conns = [row.get("conns_new", 0) for row in per_lcore]
    mean = sum(conns) / len(conns) if conns else 0
    causes = {k[5:]: v for k, v in sorted(tot.items()) if k.startswith("drop:") and v}
    return {
        "conns_new": tot.get("conns_new", 0),
        "affinity": round(100.0 * hits / (hits + misses), 2) if hits + misses else None,
        "reply_hits": hits, "reply_misses": misses,
        "same_worker": tot.get("same_worker", 0), "do_handoff": tot.get("do_handoff", 0),
        "congestion_drop": tot.get("congestion_drop", 0),
        "handoffs_per_conn": round(tot.get("do_handoff", 0) / answered, 3) if answered else None,
        "no_local_port": tot.get("no_local_port", 0),
        "drop_causes": causes,
        "conns_per_lcore": conns,
        "spread_max_over_mean": round(max(conns) / mean, 3) if mean else None,
    }


def usable_ports(scheme: str, n_lcores: int, n_laddrs: int,
                 low: int = 1025, high: int = 65535) -> dict[str, object]:
    """Local ports each (local address, lcore) may hand out under a scheme
    (fdirlab/partition.py, the predicate filters and sa_pools share): the matrix, the
    smallest per-lcore total, and the ports per local address nobody owns."""
    part = Partition(scheme, n_lcores)
    matrix = [[len(part.owned_ports(i, slot, low, high)) for i in range(n_lcores)]
              for slot in range(n_laddrs)]
    per_lcore = [sum(row[i] for row in matrix) for i in range(n_lcores)]
    per_laddr = [sum(row) for row in matrix]
    span = high - low + 1
    return {"scheme": scheme, "lcores": n_lcores, "laddrs": n_laddrs, "per_laddr_lcore": matrix,
            "min_per_lcore": min(per_lcore), "max_per_lcore": max(per_lcore),
            "usable_total": sum(per_laddr),
            "unowned_per_laddr": span - min(per_laddr) if per_laddr else span}


def cpu_per_1k(cpu_s: float, conns: int) -> float | None:
    """CPU seconds per 1,000 answered conns."""
    return round(1000.0 * cpu_s / conns, 4) if conns else None


# --- which figures a phase may show ----------------------------------------------------------

#: The fewest answered conns a phase needs before its per-conn figures are shown. Two reasons:
#: a p99 of fewer than 100 requests is just their largest value (no 1% lies above it), and
#: the CPU times come from /proc/<pid>/stat in clock ticks (USER_HZ = 100: 10 ms), so one tick
#: moves a per-1,000-conn figure by 10 / n CPU s: at n < 100 that is more than 0.1 CPU s, the
#: size of the workers' whole figure in the matrix (0.09-0.35), i.e. the figure is tick noise.
#: A phase that works answers far more (the plans' smallest: 120/s for 2 s = 240 conns; wrk at
#: saturation thousands); rss under wrk answered 0-9 before its closed loop stalled.
MIN_CONNS = 100

#: per-conn figures of a phase (top level, then under "lb" and "cpu_s_per_1k_conns")
PER_CONN = ("conns_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "load_tool_vs_lb_cpu")


def answered(phase: dict) -> int:
    """Conns a phase answered: wrk's `ok`, h2load's `succeeded` (0 when neither)."""
    return int(phase.get("ok", phase.get("succeeded", 0)) or 0)


def too_few(phase: dict) -> bool:
    """True when the phase answered fewer than MIN_CONNS conns (see there): its rates,
    percentiles and CPU per conn are not measurements."""
    return answered(phase) < MIN_CONNS


def shown(phase: dict) -> dict:
    """The phase as tables, CSV and figures show it: unchanged when it answered at least
    MIN_CONNS conns; else a copy whose per-conn figures (PER_CONN, CPU s per 1k conns,
    handoffs per conn) are None and with `too_few_conns: True`. Counts (answered, total,
    drops, affinity of the replies seen) are kept. compare.json keeps the raw phase."""
    if not too_few(phase):
        return phase
    out = {k: (None if k in PER_CONN else v) for k, v in phase.items()}
    if isinstance(phase.get("cpu_s_per_1k_conns"), dict):
        out["cpu_s_per_1k_conns"] = {k: None for k in phase["cpu_s_per_1k_conns"]}
    if isinstance(phase.get("lb"), dict):
        out["lb"] = {**phase["lb"], "handoffs_per_conn": None}
    out["too_few_conns"] = True
    return out
