"""Control socket of one lcore worker: a local Unix stream socket (--ctl PATH, mode 0600)
speaking one JSON object per line each way. This is the contract fdirctl uses.

Every reply is `{"ok": true, ...}` or `{"ok": false, "error": "<one line naming the bad
value>"}`; a bad request never changes anything. Unknown ops and unknown fields are errors.

  {"op":"info"}
      -> lcore, n_lcores, scheme, mode, iface, mac, port_range [low, high], pid,
         pool_hash_size, handoff_depth (handoff mode)
  {"op":"pool_add","laddr":"10.0.0.200","slot":0}
      creates this lcore's sa_pool for laddr; slot = the address's position among the
      local addresses (the laddr scheme gives slot k to lcore k % n; required there,
      default 0 otherwise). Existing pool -> error "... exists". -> {"pool": {...}}
  {"op":"pool_del","laddr":"10.0.0.200","force":false}
      refuses with "laddr X is used by N conn(s)" unless force; with force the conns are
      dropped and counted (stats conns_dropped). -> {"dropped_conns": N}
  {"op":"pools"}
      -> {"pools": [{laddr, slot, lcore, ports_per_bucket, buckets_total, sa_used, sa_free,
                     sa_miss, buckets (allocated), bytes, conns}]}
  {"op":"service_add","vip":"10.0.0.100","vport":80,"proto":"tcp","sched":"rr"|"wrr",
   "servers":[{"addr":"10.0.2.1","port":8080,"weight":1}],"laddrs":["10.0.0.200"],
   "max_trails":16 (optional)}                          -> {"service": {...}}
  {"op":"service_del","vip":"10.0.0.100","vport":80,"proto":"tcp"}
  {"op":"service_laddr_add"|"service_laddr_del","vip":...,"vport":...,"proto":...,"laddr":"10.0.0.202"}
      (DPVS ipvsadm --add-laddr/--del-laddr: new conns bind / stop binding it; open conns finish)
      its conns are dropped and counted                 -> {"dropped_conns": N}
  {"op":"services"}                                     -> {"services": [...]}
  {"op":"neigh_add","addr":"10.0.2.1","mac":"00:00:00:00:02:01"}
  {"op":"neigh_del","addr":"10.0.2.1"}
  {"op":"neighs"}                  -> {"neighs": [{addr, mac, type: static|learned}]}
  {"op":"stats"}
      -> conns {total, by_state}, pools [...], packets {in, out, dropped, bytes_in,
         bytes_out}, drops {reason: count}, reply_hits, reply_misses,
         handoff {same_worker, do_handoff, congestion_drop, handoff_in}, no_local_port,
         no_dest, conns_new, conns_expired, conns_dropped
  {"op":"conns","limit":100}       -> {"total": N, "conns": [{proto, client, vip, local, rs,
                                       state, expires_in, index, pkts_in, pkts_out}]}
  {"op":"set_timeouts","established":90,"udp":300,...}
      any of none, established, syn_sent, syn_recv, fin_wait, time_wait, close,
      close_wait, last_ack, listen, synack, udp (seconds > 0); no field reads them.
      -> {"timeouts": {...}}
  ipvsadm's ops (svc_add, svc_edit, dest_add, dest_edit, dest_del, ipvs_stats, ipvs_zero):
      see lcore/ipvs_ops.py
"""
from __future__ import annotations

import errno
import json
import os
import socket
import stat
from dataclasses import asdict, replace
from typing import Any, Callable

from lcore import ipvs_ops
from lcore.config import WorkerConfig
from lcore.datapath import Datapath
from lcore.errors import ConfigError, LcoreError
from lcore.tcp_state import Timeouts

MAX_LINE = 1 << 20
MAX_CONNS_DUMP = 100000

# op -> (required fields, optional fields)
OPS: dict[str, tuple[set[str], set[str]]] = {
    "info": (set(), set()),
    "pool_add": ({"laddr"}, {"slot"}),
    "pool_del": ({"laddr"}, {"force"}),
    "pools": (set(), set()),
    "service_add": ({"vip", "vport", "proto", "sched", "servers", "laddrs"}, {"max_trails"}),
    "service_del": ({"vip", "vport", "proto"}, set()),
    "service_laddr_add": ({"vip", "vport", "proto", "laddr"}, set()),
    "service_laddr_del": ({"vip", "vport", "proto", "laddr"}, set()),
    "services": (set(), set()),
    "neigh_add": ({"addr", "mac"}, set()),
    "neigh_del": ({"addr"}, set()),
    "neighs": (set(), set()),
    "stats": (set(), set()),
    "conns": (set(), {"limit"}),
    "set_timeouts": (set(), set(Timeouts.names())),
    **ipvs_ops.OPS,              # ipvsadm: svc_add/edit, dest_add/edit/del, ipvs_stats/zero
}


class ControlHandler:
    """Turns one request dict into one reply dict against a worker's datapath."""

    def __init__(self, dp: Datapath, cfg: WorkerConfig, now: Callable[[], float]) -> None:
        self.dp = dp
        self.cfg = cfg
        self.now = now

    def handle(self, req: Any) -> dict:
        try:
            return {"ok": True, **self._dispatch(req)}
        except LcoreError as exc:
            return {"ok": False, "error": str(exc)}

    def handle_line(self, line: bytes) -> dict:
        try:
            req = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            return {"ok": False, "error": f"bad JSON: {str(exc).splitlines()[0]}"}
        return self.handle(req)

    def _dispatch(self, req: Any) -> dict:
        if not isinstance(req, dict):
            raise ConfigError(f"request must be a JSON object, got {type(req).__name__}")
        op = req.get("op")
        if op not in OPS:
            raise ConfigError(f"unknown op {op!r}: use one of {', '.join(OPS)}")
        required, optional = OPS[op]
        fields = set(req) - {"op"}
        if missing := sorted(required - fields):
            raise ConfigError(f"op {op} needs field(s) {', '.join(missing)}")
        if unknown := sorted(fields - required - optional):
            raise ConfigError(f"op {op} has unknown field(s) {', '.join(unknown)}")
        if op in ipvs_ops.HANDLERS:
            return ipvs_ops.HANDLERS[op](self.dp, req)
        return getattr(self, f"op_{op}")(req)

    def op_info(self, req: dict) -> dict:
        c = self.cfg
        out = {"lcore": c.lcore_id, "n_lcores": c.n_lcores, "scheme": c.scheme, "mode": c.mode,
               "iface": c.iface, "mac": c.mac.lower(), "port_range": [c.port_low, c.port_high],
               "pid": os.getpid(), "pool_hash_size": c.pool_hash_size}
        if c.mode == "handoff":
            out["handoff_depth"] = c.handoff_depth
            out["handoff_dir"] = c.handoff_dir
        return out

    def op_pool_add(self, req: dict) -> dict:
        if "slot" not in req and self.cfg.scheme == "laddr":
            raise ConfigError("pool_add needs slot with the laddr scheme")
        slot = req.get("slot", 0)
        self.dp.pool_add(req["laddr"], slot)
        laddr = str(req["laddr"])
        view = [p for p in self.dp.pools_view() if p["laddr"] == _norm(laddr)]
        return {"pool": view[0] if view else None}

    def op_pool_del(self, req: dict) -> dict:
        force = req.get("force", False)
        if not isinstance(force, bool):
            raise ConfigError(f"force must be true or false, got {force!r}")
        return {"dropped_conns": self.dp.pool_del(req["laddr"], force)}

    def op_pools(self, req: dict) -> dict:
        return {"pools": self.dp.pools_view()}

    def op_service_add(self, req: dict) -> dict:
        args = {k: v for k, v in req.items() if k != "op"}
        return {"service": self.dp.service_add(**args).describe()}

    def op_service_del(self, req: dict) -> dict:
        return {"dropped_conns": self.dp.service_del(req["vip"], req["vport"], req["proto"])}

    def op_service_laddr_add(self, req: dict) -> dict:
        return {"laddrs": self.dp.service_laddr(req["vip"], req["vport"], req["proto"], req["laddr"], True)}

    def op_service_laddr_del(self, req: dict) -> dict:
        return {"laddrs": self.dp.service_laddr(req["vip"], req["vport"], req["proto"], req["laddr"], False)}

    def op_services(self, req: dict) -> dict:
        out = []
        for svc in self.dp.services.values():
            d = svc.describe()
            d["laddr_pools"] = {name: (packed in self.dp.pools)
                                for name, packed in zip(svc.laddr_names, svc.laddrs)}
            out.append(d)
        return {"services": out}

    def op_neigh_add(self, req: dict) -> dict:
        self.dp.neigh.add(req["addr"], req["mac"])
        return {}

    def op_neigh_del(self, req: dict) -> dict:
        if not self.dp.neigh.delete(req["addr"]):
            raise ConfigError(f"no neighbour {req['addr']}")
        return {}

    def op_neighs(self, req: dict) -> dict:
        return {"neighs": self.dp.neigh.describe()}

    def op_stats(self, req: dict) -> dict:
        return self.dp.stats_view()

    def op_conns(self, req: dict) -> dict:
        limit = req.get("limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_CONNS_DUMP:
            raise ConfigError(f"limit must be an integer 0..{MAX_CONNS_DUMP}, got {limit!r}")
        now = self.now()
        conns = []
        for conn in self.dp.conns.by_in.values():
            if len(conns) >= limit:
                break
            conns.append(conn.describe(now))
        return {"total": len(self.dp.conns), "conns": conns}

    def op_set_timeouts(self, req: dict) -> dict:
        changes = {k: v for k, v in req.items() if k != "op"}
        for k, v in changes.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 86400 * 7:
                raise ConfigError(f"timeout {k} must be seconds in (0, 604800], got {v!r}")
        if changes:
            self.dp.set_timeouts(replace(self.dp.timeouts, **changes))
        return {"timeouts": asdict(self.dp.timeouts)}


def _norm(addr: str) -> str:
    import ipaddress
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


class ControlServer:
    """Non-blocking listener + per-client line buffers, driven by the worker's selector
    (one thread: requests run between frames, so no locks around the datapath)."""

    def __init__(self, path: str, handler: ControlHandler) -> None:
        self.path = path
        self.handler = handler
        _claim_path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            old = os.umask(0o177)               # local only: owner may connect
            try:
                self.sock.bind(path)
            finally:
                os.umask(old)
            self.sock.listen(16)
        except OSError as exc:
            self.sock.close()
            raise ConfigError(f"--ctl {path}: {exc.strerror}") from None
        self.sock.setblocking(False)
        self.clients: dict[socket.socket, tuple[bytearray, bytearray]] = {}

    def accept(self) -> socket.socket | None:
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return None
        conn.setblocking(False)
        self.clients[conn] = (bytearray(), bytearray())
        return conn

    def on_readable(self, conn: socket.socket) -> bool:
        """Read and answer complete lines; False when the client is gone."""
        inbuf, outbuf = self.clients[conn]
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not data:
            return False
        inbuf += data
        while (nl := inbuf.find(b"\n")) >= 0:
            line = bytes(inbuf[:nl])
            del inbuf[:nl + 1]
            if line.strip():
                outbuf += json.dumps(self.handler.handle_line(line)).encode() + b"\n"
        if len(inbuf) > MAX_LINE:
            outbuf += json.dumps({"ok": False, "error": f"request line longer than {MAX_LINE} bytes"}).encode() + b"\n"
            inbuf.clear()
        return self.flush(conn)

    def flush(self, conn: socket.socket) -> bool:
        _, outbuf = self.clients[conn]
        while outbuf:
            try:
                n = conn.send(outbuf)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            del outbuf[:n]
        return True

    def wants_write(self, conn: socket.socket) -> bool:
        return bool(self.clients[conn][1])

    def drop(self, conn: socket.socket) -> None:
        self.clients.pop(conn, None)
        conn.close()

    def close(self) -> None:
        for c in list(self.clients):
            self.drop(c)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _claim_path(path: str) -> None:
    """Remove a stale socket file left by a dead worker; refuse a live one or a non-socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError(f"--ctl {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            os.unlink(path)
            return
        raise ConfigError(f"--ctl {path}: {exc.strerror}") from None
    finally:
        probe.close()
    raise ConfigError(f"--ctl {path} is in use by a running worker")


def request(path: str, req: dict, timeout: float = 5.0) -> dict:
    """Client helper (tests, tools): send one request, return the reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)
