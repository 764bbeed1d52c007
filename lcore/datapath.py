"""One lcore's packet processing without I/O: frame in -> conn lookup in both directions,
new-conn scheduling and laddr/lport binding, full-NAT rewrite -> frames out, plus expiry.

worker.py feeds it frames from the AF_PACKET socket and transmits `self.tx`; tests feed it
scapy-built frames. Everything here is per-lcore state, never shared (DPVS's lock-free
model); the only shared piece is the optional handoff object (VPP NAT44-ED mode).
"""
from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from typing import Any, Protocol

from fdirlab.hostport import host_port
from fdirlab.partition import Partition
from lcore import frames as F
from lcore.conn_table import Conn, ConnTable
from lcore.errors import ConfigError
from lcore.nat import rewrite
from lcore.neighbours import Neighbours, parse_addr
from lcore.sa_pool import DEFAULT_POOL_HASH_SIZE, SaPool
from lcore.scheduler import DEFAULT_MAX_TRAILS, Dest, Service, check_sched, check_weight
from lcore.stats import Stats
from lcore.tcp_state import ACK, CLIENT_SIDE, RS_SIDE, RST, SYN, TcpState, Timeouts

PROTOS = {"tcp": F.PROTO_TCP, "udp": F.PROTO_UDP}
PROTO_NAMES = {v: k for k, v in PROTOS.items()}

# drop reasons decided here (frames.py has the parsing ones)
R_OTHER_MAC = "not_our_mac"
R_NOT_LB = "not_lb_address"
R_NO_SERVICE = "no_service"
R_NOT_SYN = "tcp_not_syn"
R_NO_DEST = "no_dest"
R_NO_LPORT = "no_local_port"
R_NO_NEIGH = "no_neighbour"
R_FLOW_FULL = "flow_table_full"
R_CONGESTION = "congestion_drop"
R_REPLY_NO_CONN = "reply_no_conn"          # our port, no conn (expired, or never ours)
R_REPLY_OTHER = "reply_other_lcore"        # the partition gives this lport to another lcore
R_REPLY_UNOWNED = "reply_unowned_port"     # no lcore owns this lport (n not a power of 2 ...)
R_REPLY_NO_POOL = "reply_no_pool"          # a service laddr with no pool on this lcore

# A client SYN on a conn in one of these states (past the handshake) opens a new connection
# on the same tuple: the client reused its source port. In SYN_RECV it is a retransmission.
REUSED_IN = frozenset({TcpState.ESTABLISHED, TcpState.FIN_WAIT, TcpState.TIME_WAIT, TcpState.CLOSE,
                       TcpState.CLOSE_WAIT, TcpState.LAST_ACK})


class HandoffPort(Protocol):
    """What the datapath needs from handoff.py (the VPP-style shared flow table + rings)."""

    def lookup(self, key: bytes) -> int | None: ...
    def insert(self, key: bytes, value: int) -> bool: ...
    def remove(self, key: bytes) -> None: ...
    def enqueue(self, owner: int, frame: bytes | bytearray, value: int) -> bool: ...


def flow_key(proto: int, src: bytes, sport: int, dst: bytes, dport: int) -> bytes:
    """The shared flow table's fixed 40-byte key: proto, family, ports, then the two
    addresses zero-padded to 16 bytes (VPP's 16-byte 6-tuple key, widened for IPv6)."""
    return (bytes((proto, len(src))) + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
            + b"\0\0" + src.ljust(16, b"\0") + dst.ljust(16, b"\0"))


class Datapath:
    def __init__(self, lcore_id: int, n_lcores: int, scheme: str, mac: bytes,
                 port_low: int = 1025, port_high: int = 65535,
                 pool_hash_size: int = DEFAULT_POOL_HASH_SIZE,
                 timeouts: Timeouts | None = None, handoff: HandoffPort | None = None,
                 rng: random.Random | None = None) -> None:
        self.lcore_id = lcore_id
        self.partition = Partition(scheme, n_lcores)
        self.mac = mac
        self.port_low = port_low
        self.port_high = port_high
        self.pool_hash_size = pool_hash_size
        self.pools: dict[bytes, SaPool] = {}
        self.services: dict[tuple[int, bytes, int], Service] = {}
        self.vips: dict[bytes, int] = {}        # VIP -> number of services on it
        self.conns = ConnTable()
        self.neigh = Neighbours()
        self.stats = Stats()
        self.tx: list[bytearray] = []
        self.handoff = handoff
        self.rng = rng or random.Random()
        self.set_timeouts(timeouts or Timeouts())

    # --- configuration ----------------------------------------------------------------

    def set_timeouts(self, timeouts: Timeouts) -> None:
        self.timeouts = timeouts
        self._tcp_to = timeouts.tcp_table()
        self._udp_to = timeouts.udp

    def pool_add(self, laddr: str, slot: int) -> SaPool:
        addr = parse_addr(laddr, "laddr")
        if addr.packed in self.pools:
            raise ConfigError(f"pool for laddr {addr} exists")
        if addr.packed in self.vips:
            raise ConfigError(f"laddr {addr} is a VIP")
        pool = SaPool(str(addr), slot, self.lcore_id, self.partition, self.port_low,
                      self.port_high, self.pool_hash_size)
        self.pools[addr.packed] = pool
        return pool

    def pool_del(self, laddr: str, force: bool = False) -> int:
        """Delete a pool; returns how many conns were dropped (only with force)."""
        addr = parse_addr(laddr, "laddr")
        pool = self.pools.get(addr.packed)
        if pool is None:
            raise ConfigError(f"no pool for laddr {addr}")
        if pool.conns and not force:
            raise ConfigError(f"laddr {addr} is used by {pool.conns} conn(s): use force to drop them")
        dropped = self._drop_conns(lambda c: c.pool is pool)
        del self.pools[addr.packed]
        return dropped

    def service_add(self, vip: object, vport: object, proto: object, sched: object,
                    servers: object, laddrs: object, max_trails: object = DEFAULT_MAX_TRAILS) -> Service:
        v = parse_addr(vip, "vip")
        port = _check_port(vport, "vport")
        if proto not in PROTOS:
            raise ConfigError(f"unknown proto {proto!r}: use tcp or udp")
        p = PROTOS[proto]
        key = (p, v.packed, port)
        if key in self.services:
            raise ConfigError(f"service {proto} {host_port(str(v), port)} exists")
        if v.packed in self.pools:
            raise ConfigError(f"vip {v} is a local address (it has a pool)")
        check_sched(sched)
        if not isinstance(servers, list) or not servers:
            raise ConfigError(f"servers must be a non-empty list, got {servers!r}")
        dests = []
        for s in servers:
            if not isinstance(s, dict):
                raise ConfigError(f"server must be an object with addr, port, weight: {s!r}")
            a = parse_addr(s.get("addr"), "server addr")
            if a.version != v.version:
                raise ConfigError(f"server {a} is IPv{a.version} but vip {v} is IPv{v.version}")
            dests.append(Dest(str(a), a.packed, _check_port(s.get("port"), "server port"),
                              check_weight(s.get("weight", 1))))
        if not isinstance(laddrs, list) or not laddrs:
            raise ConfigError(f"laddrs must be a non-empty list, got {laddrs!r}")
        packed, names = [], []
        for la in laddrs:
            a = parse_addr(la, "laddr")
            if a.version != v.version:
                raise ConfigError(f"laddr {a} is IPv{a.version} but vip {v} is IPv{v.version}")
            packed.append(a.packed)
            names.append(str(a))
        if isinstance(max_trails, bool) or not isinstance(max_trails, int) or max_trails < 1:
            raise ConfigError(f"max_trails must be an integer >= 1, got {max_trails!r}")
        svc = Service(p, str(v), v.packed, port, sched, dests, packed, names, max_trails,  # type: ignore[arg-type]
                      rng=self.rng)
        self.services[key] = svc
        self.vips[v.packed] = self.vips.get(v.packed, 0) + 1
        return svc

    def _service(self, vip: object, vport: object, proto: object) -> Service:
        v = parse_addr(vip, "vip")
        port = _check_port(vport, "vport")
        if proto not in PROTOS:
            raise ConfigError(f"unknown proto {proto!r}: use tcp or udp")
        svc = self.services.get((PROTOS[proto], v.packed, port))
        if svc is None:
            raise ConfigError(f"no service {proto} {host_port(str(v), port)}")
        return svc

    def service_laddr(self, vip: object, vport: object, proto: object, laddr: object,
                      add: bool) -> list[str]:
        """Attach a local address to a service or detach it (conns already bound to it
        finish normally: each holds its own pool). Returns the service's laddrs."""
        svc = self._service(vip, vport, proto)
        a = parse_addr(laddr, "laddr")
        if ipaddress.ip_address(svc.vip).version != a.version:
            raise ConfigError(f"laddr {a} is IPv{a.version} but vip {svc.vip} is not")
        if add:
            if a.packed in svc.laddrs:
                raise ConfigError(f"laddr {a} is already a local address of {proto} {host_port(svc.vip, svc.vport)}")
            svc.add_laddr(str(a), a.packed)
        else:
            if a.packed not in svc.laddrs:
                raise ConfigError(f"laddr {a} is not a local address of {proto} {host_port(svc.vip, svc.vport)}")
            if len(svc.laddrs) == 1:
                raise ConfigError(f"laddr {a} is the last local address of {proto} {host_port(svc.vip, svc.vport)}")
            svc.del_laddr(a.packed)
        return list(svc.laddr_names)

    def service_del(self, vip: object, vport: object, proto: object) -> int:
        v = parse_addr(vip, "vip")
        port = _check_port(vport, "vport")
        if proto not in PROTOS:
            raise ConfigError(f"unknown proto {proto!r}: use tcp or udp")
        key = (PROTOS[proto], v.packed, port)
        svc = self.services.pop(key, None)
        if svc is None:
            raise ConfigError(f"no service {proto} {host_port(str(v), port)}")
        self.vips[v.packed] -= 1
        if not self.vips[v.packed]:
            del self.vips[v.packed]
        return self._drop_conns(lambda c: c.service is svc)

    def _drop_conns(self, pred: Callable[[Conn], bool]) -> int:
        n = 0
        for conn in self.conns:
            if pred(conn) and self.conns.remove(conn):
                self._release(conn)
                n += 1
        self.stats.conns_dropped += n
        return n

    # --- packets ----------------------------------------------------------------------

    def rx(self, frame: bytearray, now: float) -> None:
        """One frame from the wire (RSS or flow director picked this lcore)."""
        st = self.stats
        st.packets_in += 1
        st.bytes_in += len(frame)
        if frame[0:6] != self.mac:
            # promiscuous socket: frames the switch flooded, broadcasts (ARP is the switch's)
            st.drops[R_OTHER_MAC] += 1
            return
        p = F.parse(frame)
        if p.__class__ is str:
            st.drops[p] += 1
            return
        self.neigh.learn(p.src, p.smac)  # type: ignore[union-attr]
        ho = self.handoff
        if ho is not None:
            value = ho.lookup(flow_key(p.proto, p.src, p.sport, p.dst, p.dport))  # type: ignore[union-attr]
            if value is not None and (value >> 32) != self.lcore_id:
                if ho.enqueue(value >> 32, frame, value):
                    st.do_handoff += 1
                else:
                    st.congestion_drop += 1         # visible, never silent
                    st.drops[R_CONGESTION] += 1
                return
            st.same_worker += 1
        self._process(frame, p, now)  # type: ignore[arg-type]

    def rx_tagged(self, frame: bytearray) -> None:
        """A frame that arrived with an 802.1Q tag the kernel moved into PACKET_AUXDATA:
        counted and dropped as vlan_tagged, like a frame whose tag is still in its bytes."""
        st = self.stats
        st.packets_in += 1
        st.bytes_in += len(frame)
        st.drops[F.R_VLAN] += 1

    def handoff_rx(self, frame: bytearray, now: float) -> None:
        """A frame another worker handed to us because we own its session."""
        st = self.stats
        st.handoff_in += 1
        p = F.parse(frame)
        if p.__class__ is str:
            st.drops[p] += 1
            return
        self._process(frame, p, now)  # type: ignore[arg-type]

    def _process(self, frame: bytearray, p: F.Parsed, now: float) -> None:
        key = (p.proto, p.src, p.sport, p.dst, p.dport)
        conns = self.conns
        conn = conns.by_in.get(key)
        if conn is not None:
            if p.flags & (SYN | ACK) == SYN and conn.state in REUSED_IN:
                # A client reused its source port while the LB still holds the old conn
                # (closing, or never seen to close). DPVS (dp_vs_in, no synproxy) keeps that
                # conn, its RS and its lport: no new conn is counted. Linux IPVS's
                # conn_reuse_mode would expire it and schedule a new one instead.
                self.stats.conns_reused += 1
            self._inbound(frame, p, conn, now)
            return
        conn = conns.by_out.get(key)
        if conn is not None:
            self.stats.reply_hits += 1
            self._outbound(frame, p, conn, now)
            return
        svc = self.services.get((p.proto, p.dst, p.dport))
        if svc is None:
            self._miss(p)
            return
        conn = self._new_conn(p, svc, now)
        if conn is not None:
            self._inbound(frame, p, conn, now)

    def _inbound(self, frame: bytearray, p: F.Parsed, conn: Conn, now: float) -> None:
        if conn.state is not None:
            conn.state = st = CLIENT_SIDE[p.flags][conn.state]
            conn.expires = now + self._tcp_to[st]
            if conn.expires < conn.armed:
                self.conns.shorten(conn)
        else:
            conn.expires = now + self._udp_to
        conn.pkts_in += 1
        d = conn.dest
        d.inpkts += 1
        d.inbytes += len(frame)
        dmac = self.neigh.lookup(conn.raddr)
        if dmac is None:
            self.stats.drops[R_NO_NEIGH] += 1
            return
        rewrite(frame, p, conn.laddr, conn.lport, conn.raddr, conn.rport, self.mac, dmac)
        self._send(frame)

    def _outbound(self, frame: bytearray, p: F.Parsed, conn: Conn, now: float) -> None:
        if conn.state is not None:
            conn.state = st = RS_SIDE[p.flags][conn.state]
            conn.expires = now + self._tcp_to[st]
            if conn.expires < conn.armed:
                self.conns.shorten(conn)
        else:
            conn.expires = now + self._udp_to
        conn.pkts_out += 1
        d = conn.dest
        d.outpkts += 1
        d.outbytes += len(frame)
        dmac = self.neigh.lookup(conn.caddr)
        if dmac is None:
            self.stats.drops[R_NO_NEIGH] += 1
            return
        rewrite(frame, p, conn.vaddr, conn.vport, conn.caddr, conn.cport, self.mac, dmac)
        self._send(frame)

    def _send(self, frame: bytearray) -> None:
        self.tx.append(frame)
        self.stats.packets_out += 1
        self.stats.bytes_out += len(frame)

    def _miss(self, p: F.Parsed) -> None:
        """No conn and no service: a return packet we do not hold, or not ours at all."""
        st = self.stats
        pool = self.pools.get(p.dst)
        if pool is not None:
            st.reply_misses += 1
            owner = self.partition.owner(p.dport, pool.slot)
            if owner is None or not pool.low <= p.dport <= pool.high:
                st.drops[R_REPLY_UNOWNED] += 1
            elif owner == self.lcore_id:
                st.drops[R_REPLY_NO_CONN] += 1
            else:
                st.drops[R_REPLY_OTHER] += 1
        elif any(p.dst in svc.laddrs for svc in self.services.values()):
            st.reply_misses += 1
            st.drops[R_REPLY_NO_POOL] += 1
        elif p.dst in self.vips:
            st.drops[R_NO_SERVICE] += 1
        else:
            st.drops[R_NOT_LB] += 1

    def _new_conn(self, p: F.Parsed, svc: Service, now: float) -> Conn | None:
        st = self.stats
        if p.proto == F.PROTO_TCP and (p.flags & (SYN | ACK | RST)) != SYN:
            st.drops[R_NOT_SYN] += 1        # DPVS: only a SYN may create a TCP conn
            return None
        dest = svc.schedule()
        if dest is None:
            st.no_dest += 1
            st.drops[R_NO_DEST] += 1
            return None
        # dp_vs_laddr_bind(): up to max_trails laddrs, each pool hashed by the RS
        # A laddr without ports on this lcore (no pool here, or the laddr scheme gives it
        # to another lcore) is stepped over without spending a trail.
        pools = self.pools
        trails, budget = svc.trails(), 2 * len(svc.laddrs) + svc.max_trails
        lport = chosen = None
        while trails and budget:
            budget -= 1
            la = svc.next_laddr()
            pool = pools.get(la)  # type: ignore[arg-type]
            if pool is None or not pool.ports:
                continue
            trails -= 1
            lport = pool.fetch(dest.addr_bytes, dest.port)
            if lport is not None:
                chosen = pool
                break
        if lport is None or chosen is None:
            st.no_local_port += 1
            st.drops[R_NO_LPORT] += 1
            return None
        conn = Conn(p.proto, p.src, p.sport, p.dst, p.dport, la, lport, dest.addr_bytes, dest.port,  # type: ignore[arg-type]
                    svc, dest, chosen)
        self.conns.add(conn, now, self._udp_to if conn.state is None else self._tcp_to[conn.state])
        chosen.conns += 1
        dest.conns += 1
        dest.total_conns += 1
        svc.conns += 1
        st.conns_new += 1
        ho = self.handoff
        if ho is not None:
            value = (self.lcore_id << 32) | conn.index
            k_in = flow_key(p.proto, conn.caddr, conn.cport, conn.vaddr, conn.vport)
            k_out = flow_key(p.proto, conn.raddr, conn.rport, conn.laddr, conn.lport)
            if not ho.insert(k_in, value):
                self._abort(conn, R_FLOW_FULL)
                return None
            if not ho.insert(k_out, value):
                ho.remove(k_in)
                self._abort(conn, R_FLOW_FULL)
                return None
        return conn

    def _abort(self, conn: Conn, reason: str) -> None:
        self.conns.remove(conn)
        self._release(conn, unregister=False)
        self.stats.drops[reason] += 1

    def _release(self, conn: Conn, unregister: bool = True) -> None:
        """Give the lport back to its pool bucket and drop every reference to the conn."""
        pool = conn.pool
        pool.release(conn.raddr, conn.rport, conn.lport)
        pool.conns -= 1
        conn.dest.conns -= 1
        conn.service.conns -= 1
        if unregister and self.handoff is not None:
            self.handoff.remove(flow_key(conn.proto, conn.caddr, conn.cport, conn.vaddr, conn.vport))
            self.handoff.remove(flow_key(conn.proto, conn.raddr, conn.rport, conn.laddr, conn.lport))

    def tick(self, now: float) -> int:
        """Expire idle conns (releasing their lports); returns how many."""
        n = self.conns.expire(now, self._release)
        self.stats.conns_expired += n
        return n

    # --- views for the control socket ---------------------------------------------------

    def pools_view(self) -> list[dict[str, Any]]:
        out = []
        for pool in self.pools.values():
            s = pool.stats()
            out.append({"laddr": pool.laddr, "slot": pool.slot, "lcore": self.lcore_id,
                        "ports_per_bucket": pool.capacity, "buckets_total": pool.hash_size,
                        "sa_used": s.sa_used, "sa_free": s.sa_free, "sa_miss": s.sa_miss,
                        "buckets": s.buckets, "bytes": s.bytes, "conns": pool.conns})
        return out

    def stats_view(self) -> dict[str, Any]:
        d = self.stats.as_dict()
        d["conns"] = {"total": len(self.conns), "by_state": self.conns.by_state()}
        d["pools"] = self.pools_view()
        return d


def _check_port(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{what} must be an integer 1..65535, got {value!r}")
    return value
