"""Per-lcore conn table of full-NAT conns, hashed twice like DPVS's: by the inbound tuple
(client:cport -> VIP:vport) and the outbound one (RS:rport -> laddr:lport), with expiry.

Expiry uses a heap of (deadline, seq, conn) with lazy re-arming: a packet only moves
conn.expires forward (one attribute store on the hot path); when the heap pops an entry
whose conn has a later deadline it is pushed back, so each conn has one heap entry.
Session indices (VPP's session_index) come from a free-index stack so the handoff table
can name a conn by `owner << 32 | index`.
"""
from __future__ import annotations

import heapq
import ipaddress
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from lcore.frames import PROTO_TCP
from lcore.sa_pool import SaPool
from lcore.scheduler import Dest, Service
from lcore.tcp_state import TcpState

Key = tuple[int, bytes, int, bytes, int]  # (proto, src bytes, sport, dst bytes, dport) as seen on the wire

UDP_STATE = "UDP"


class Conn:
    """One full-NAT conn. c=client, v=VIP, l=local (laddr:lport), r=real server."""

    __slots__ = ("proto", "caddr", "cport", "vaddr", "vport", "laddr", "lport", "raddr",
                 "rport", "state", "expires", "armed", "index", "service", "dest", "pool",
                 "pkts_in", "pkts_out", "created")

    def __init__(self, proto: int, caddr: bytes, cport: int, vaddr: bytes, vport: int,
                 laddr: bytes, lport: int, raddr: bytes, rport: int, service: Service, dest: Dest,
                 pool: SaPool) -> None:
        self.proto = proto
        self.caddr = caddr
        self.cport = cport
        self.vaddr = vaddr
        self.vport = vport
        self.laddr = laddr
        self.lport = lport
        self.raddr = raddr
        self.rport = rport
        self.state = TcpState.NONE if proto == PROTO_TCP else None
        self.expires = 0.0
        self.armed = 0.0          # the deadline of this conn's live entry in the expiry heap
        self.index = -1
        self.service = service
        self.dest = dest
        self.pool = pool
        self.pkts_in = 0
        self.pkts_out = 0
        self.created = 0.0

    def in_key(self) -> Key:
        return (self.proto, self.caddr, self.cport, self.vaddr, self.vport)

    def out_key(self) -> Key:
        return (self.proto, self.raddr, self.rport, self.laddr, self.lport)

    @property
    def state_name(self) -> str:
        return self.state.name if self.state is not None else UDP_STATE

    def describe(self, now: float) -> dict[str, Any]:
        return {"proto": "tcp" if self.proto == PROTO_TCP else "udp",
                "client": _ep(self.caddr, self.cport), "vip": _ep(self.vaddr, self.vport),
                "local": _ep(self.laddr, self.lport), "rs": _ep(self.raddr, self.rport),
                "state": self.state_name, "expires_in": round(max(0.0, self.expires - now), 3),
                "index": self.index, "pkts_in": self.pkts_in, "pkts_out": self.pkts_out}


def _ep(addr: bytes, port: int) -> str:
    """addr:port, with IPv6 addresses in brackets."""
    a = ipaddress.ip_address(addr)
    return f"[{a}]:{port}" if a.version == 6 else f"{a}:{port}"


class ConnTable:
    """Both hash tables, the expiry heap and the session-index allocator of one lcore."""

    def __init__(self) -> None:
        self.by_in: dict[Key, Conn] = {}
        self.by_out: dict[Key, Conn] = {}
        self.sessions: list[Conn | None] = []
        self._free_idx: list[int] = []
        self._heap: list[tuple[float, int, Conn]] = []
        self._seq = itertools.count()
        self.created = 0
        self.expired = 0
        self.removed = 0

    def __len__(self) -> int:
        return len(self.by_in)

    def add(self, conn: Conn, now: float, timeout: float) -> None:
        if self._free_idx:
            conn.index = self._free_idx.pop()
            self.sessions[conn.index] = conn
        else:
            conn.index = len(self.sessions)
            self.sessions.append(conn)
        conn.created = now
        conn.expires = conn.armed = now + timeout
        self.by_in[conn.in_key()] = conn
        self.by_out[conn.out_key()] = conn
        heapq.heappush(self._heap, (conn.expires, next(self._seq), conn))
        self.created += 1

    def remove(self, conn: Conn) -> bool:
        """Unlink a conn (its heap entry is skipped when it surfaces). False if gone."""
        if self.by_in.get(conn.in_key()) is not conn:
            return False
        del self.by_in[conn.in_key()]
        self.by_out.pop(conn.out_key(), None)
        self.sessions[conn.index] = None
        self._free_idx.append(conn.index)
        conn.index = -1
        self.removed += 1
        return True

    def expire(self, now: float, on_expire: Callable[[Conn], None], limit: int = 100000) -> int:
        """Remove conns idle past their deadline, calling on_expire (which releases the
        lport) for each; at most `limit` per call so one sweep cannot stall the datapath."""
        heap = self._heap
        n = 0
        while heap and heap[0][0] <= now and n < limit:
            deadline, _, conn = heapq.heappop(heap)
            if conn.index < 0 or deadline != conn.armed:
                continue                        # removed already, or superseded by an earlier arm
            if conn.expires > now:               # refreshed since: re-arm
                conn.armed = conn.expires
                heapq.heappush(heap, (conn.expires, next(self._seq), conn))
                continue
            self.remove(conn)
            self.expired += 1
            n += 1
            on_expire(conn)
        return n

    def shorten(self, conn: Conn) -> None:
        """conn.expires moved before its armed deadline (e.g. ESTABLISHED 90 s -> TIME_WAIT
        7 s): arm it again so it expires on time, not when the old deadline surfaces."""
        conn.armed = conn.expires
        heapq.heappush(self._heap, (conn.expires, next(self._seq), conn))

    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def by_state(self) -> dict[str, int]:
        return dict(Counter(c.state_name for c in self.by_in.values()))

    def __iter__(self) -> Iterator[Conn]:
        return iter(list(self.by_in.values()))
