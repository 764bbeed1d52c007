"""Services (VIP:vport/proto -> real servers) with IPVS rr and wrr scheduling, and DPVS's
local-address choice: round robin over the service's laddrs, 5% of picks stepping one further.

The 5% step-over exists because the RS scheduler (rr/wrr) and the laddr round robin can
fall into lockstep, pinning each RS to one laddr and so to one lcore's port share.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from fdirlab.limits import MAX_WEIGHT, SCHEDULERS
from lcore.errors import ConfigError

DEFAULT_MAX_TRAILS = 16     # DPVS dp_vs_laddr_max_trails
STEP_OVER_PERCENT = 5


@dataclass
class Dest:
    """One real server of a service."""

    addr: str
    addr_bytes: bytes
    port: int
    weight: int = 1
    conns: int = 0          # active conns scheduled to it (shown by `services`)
    # ipvsadm -L --stats counters (IPVS struct ip_vs_stats): conns scheduled, packets and
    # bytes client->RS (in) and RS->client (out)
    total_conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0


@dataclass
class Service:
    proto: int
    vip: str
    vip_bytes: bytes
    vport: int
    sched: str
    dests: list[Dest]
    laddrs: list[bytes]                       # packed local addresses, in the given order
    laddr_names: list[str]
    max_trails: int = DEFAULT_MAX_TRAILS
    rng: random.Random = field(default_factory=random.Random, repr=False)
    # rr / wrr cursors (IPVS ip_vs_rr / ip_vs_wrr)
    _rr: int = -1
    _wrr_i: int = -1
    _wrr_cw: int = 0
    _laddr_curr: int = -1
    conns: int = 0

    def add_laddr(self, name: str, packed: bytes) -> None:
        """DPVS `ipvsadm --add-laddr`: new conns may bind this local address too."""
        self.laddrs.append(packed)
        self.laddr_names.append(name)

    def del_laddr(self, packed: bytes) -> None:
        """DPVS `ipvsadm --del-laddr`: new conns stop binding it; open conns keep their lport."""
        i = self.laddrs.index(packed)
        del self.laddrs[i]
        del self.laddr_names[i]
        if self._laddr_curr >= i:
            self._laddr_curr -= 1

    def schedule(self) -> Dest | None:
        """The next real server, or None when every server has weight 0 (quiesced)."""
        if self.sched == "rr":
            return self._schedule_rr()
        if self.sched == "wlc":
            return self._schedule_wlc()
        return self._schedule_wrr()

    def _schedule_wlc(self) -> Dest | None:
        # IPVS ip_vs_wlc: least overhead/weight, compared by cross-multiplication; the
        # overhead is the conns this lcore holds for the server; weight 0 is quiesced.
        best: Dest | None = None
        for d in self.dests:
            if d.weight <= 0:
                continue
            if best is None or d.conns * best.weight < best.conns * d.weight:
                best = d
        return best

    def _schedule_rr(self) -> Dest | None:
        n = len(self.dests)
        for step in range(1, n + 1):
            i = (self._rr + step) % n
            if self.dests[i].weight > 0:
                self._rr = i
                return self.dests[i]
        return None

    def _schedule_wrr(self) -> Dest | None:
        # IPVS wrr: walk the list, lowering the current weight by gcd each full round;
        # a server is picked while its weight >= the current weight.
        weights = [d.weight for d in self.dests]
        mw = max(weights, default=0)
        if mw <= 0:
            return None
        g = 0
        for w in weights:
            if w > 0:
                g = math.gcd(g, w)
        n = len(self.dests)
        while True:
            self._wrr_i = (self._wrr_i + 1) % n
            if self._wrr_i == 0:
                self._wrr_cw -= g
                if self._wrr_cw <= 0:
                    self._wrr_cw = mw
            if self.dests[self._wrr_i].weight >= self._wrr_cw:
                return self.dests[self._wrr_i]

    def laddr_step(self) -> int:
        """__laddr_step(): 2 for 5% of rr/wrr picks, else 1."""
        if self.sched in ("rr", "wrr") and self.rng.randrange(100) < STEP_OVER_PERCENT:
            return 2
        return 1

    def next_laddr(self) -> bytes | None:
        """__get_laddr(): advance the cursor by laddr_step() over the circular list."""
        if not self.laddrs:
            return None
        self._laddr_curr = (self._laddr_curr + self.laddr_step()) % len(self.laddrs)
        return self.laddrs[self._laddr_curr]

    def trails(self) -> int:
        return min(self.max_trails, len(self.laddrs))

    def describe(self) -> dict[str, Any]:
        proto = {6: "tcp", 17: "udp"}[self.proto]
        return {"vip": self.vip, "vport": self.vport, "proto": proto, "sched": self.sched,
                "conns": self.conns,
                "servers": [{"addr": d.addr, "port": d.port, "weight": d.weight, "conns": d.conns}
                            for d in self.dests],
                "laddrs": list(self.laddr_names), "max_trails": self.max_trails}


def check_sched(name: object) -> str:
    if name not in SCHEDULERS:
        raise ConfigError(f"unknown scheduler {name!r}: use one of {', '.join(SCHEDULERS)}")
    return name


def check_weight(w: object) -> int:
    if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= MAX_WEIGHT:
        raise ConfigError(f"server weight must be an integer 0..{MAX_WEIGHT}, got {w!r}")
    return w
