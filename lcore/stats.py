"""Counters of one lcore worker: packets in/out, drops by reason, return-path hits and
misses, handoff counters under VPP's names, and conn-binding failures.

Plain integer attributes (the hot path does `stats.x += 1`); drops are a dict keyed by the
reason strings of frames.py and datapath.py, so every dropped frame has a named cause.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    packets_in: int = 0
    packets_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    drops: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    reply_hits: int = 0          # RS -> laddr:lport frames that found their conn here
    reply_misses: int = 0        # RS -> laddr:lport frames with no conn here
    conns_new: int = 0
    conns_reused: int = 0        # a client SYN found its tuple's conn past the handshake
    conns_expired: int = 0
    conns_dropped: int = 0       # removed by pool_del force / service_del
    no_local_port: int = 0       # every laddr's pool was empty for a new conn
    no_dest: int = 0             # service has no schedulable real server
    # VPP NAT44-ED handoff counters
    same_worker: int = 0
    do_handoff: int = 0
    congestion_drop: int = 0
    handoff_in: int = 0

    def drop(self, reason: str) -> None:
        self.drops[reason] += 1

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "packets": {"in": self.packets_in, "out": self.packets_out, "dropped": self.dropped,
                        "bytes_in": self.bytes_in, "bytes_out": self.bytes_out},
            "drops": dict(sorted(self.drops.items())),
            "reply_hits": self.reply_hits, "reply_misses": self.reply_misses,
            "handoff": {"same_worker": self.same_worker, "do_handoff": self.do_handoff,
                        "congestion_drop": self.congestion_drop, "handoff_in": self.handoff_in},
            "no_local_port": self.no_local_port, "no_dest": self.no_dest,
            "conns_new": self.conns_new, "conns_reused": self.conns_reused,
            "conns_expired": self.conns_expired,
            "conns_dropped": self.conns_dropped,
        }
