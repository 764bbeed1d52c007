"""Control socket of one lcore worker: a local Unix stream socket (--ctl PATH, mode 0600)
speaking one JSON object per line each way. This is the contract fdirctl uses.

Every reply is `{"ok": true, ...}` or `{"ok": false, "error": "<one line naming the bad
value>"}`; a bad request never changes anything. Unknown ops and unknown fields are errors.

  {"op":"info"}
      -> lcore, n_lcores, scheme, mode, iface, mac, port_range [low, high], pid,
         pool_hash_size, control {clients, max_clients, accepted, evicted, accept_errors,
         long_lines}, handoff_depth (handoff mode)
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
         no_dest, conns_new, conns_reused (a client SYN on the tuple of a conn past its
         handshake: the client reused a port, DPVS keeps that conn), conns_expired, conns_dropped
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
import logging
import os
import socket
import stat
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fdirlab import limits
from lcore import ipvs_ops
from lcore.config import WorkerConfig
from lcore.control_schema import parse_request, validate
from lcore.datapath import Datapath
from lcore.errors import ConfigError, LcoreError

MAX_LINE = 1 << 20           # bytes of one request line
MAX_CLIENTS = 32             # control connections held at once (the longest-idle one yields)
OUT_HIGH = 256 << 10         # reply bytes queued per connection before its requests wait
RECV_CHUNK = 65536

log = logging.getLogger("lcore")


class ControlHandler:
    """Turns one request dict into one reply dict against a worker's datapath."""

    def __init__(self, dp: Datapath, cfg: WorkerConfig, now: Callable[[], float]) -> None:
        self.dp = dp
        self.cfg = cfg
        self.now = now
        self.control_view: Callable[[], dict[str, int]] | None = None   # set by ControlServer

    def handle(self, req: Any) -> dict[str, Any]:
        """One decoded request -> one reply; never raises (the worker must stay up)."""
        try:
            return {"ok": True, **self._dispatch(validate(req))}
        except LcoreError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:                    # a bug, not the client's fault
            log.exception("control request %.200r failed", req)
            return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"[:300]}

    def handle_line(self, line: bytes) -> dict[str, Any]:
        try:
            req = parse_request(line)
        except LcoreError as exc:
            return {"ok": False, "error": str(exc)}
        return self.handle(req)

    def _dispatch(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]                          # validate() admits only known ops
        if op in ipvs_ops.HANDLERS:
            return ipvs_ops.HANDLERS[op](self.dp, req)
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, f"op_{op}")
        return handler(req)

    def op_info(self, req: dict[str, Any]) -> dict[str, Any]:
        c = self.cfg
        out = {"lcore": c.lcore_id, "n_lcores": c.n_lcores, "scheme": c.scheme, "mode": c.mode,
               "iface": c.iface, "mac": c.mac.lower(), "port_range": [c.port_low, c.port_high],
               "pid": os.getpid(), "pool_hash_size": c.pool_hash_size}
        if self.control_view is not None:
            out["control"] = self.control_view()
        if c.mode == "handoff":
            out["handoff_depth"] = c.handoff_depth
            out["handoff_dir"] = c.handoff_dir
        return out

    def op_pool_add(self, req: dict[str, Any]) -> dict[str, Any]:
        if "slot" not in req and self.cfg.scheme == "laddr":
            raise ConfigError("pool_add needs slot with the laddr scheme")
        slot = req.get("slot", 0)
        self.dp.pool_add(req["laddr"], slot)
        laddr = str(req["laddr"])
        view = [p for p in self.dp.pools_view() if p["laddr"] == _norm(laddr)]
        return {"pool": view[0] if view else None}

    def op_pool_del(self, req: dict[str, Any]) -> dict[str, Any]:
        force = req.get("force", False)
        if not isinstance(force, bool):
            raise ConfigError(f"force must be true or false, got {force!r}")
        return {"dropped_conns": self.dp.pool_del(req["laddr"], force)}

    def op_pools(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pools": self.dp.pools_view()}

    def op_service_add(self, req: dict[str, Any]) -> dict[str, Any]:
        args = {k: v for k, v in req.items() if k != "op"}
        return {"service": self.dp.service_add(**args).describe()}

    def op_service_del(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"dropped_conns": self.dp.service_del(req["vip"], req["vport"], req["proto"])}

    def op_service_laddr_add(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"laddrs": self.dp.service_laddr(req["vip"], req["vport"], req["proto"], req["laddr"], True)}

    def op_service_laddr_del(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"laddrs": self.dp.service_laddr(req["vip"], req["vport"], req["proto"], req["laddr"], False)}

    def op_services(self, req: dict[str, Any]) -> dict[str, Any]:
        out = []
        for svc in self.dp.services.values():
            d = svc.describe()
            d["laddr_pools"] = {name: (packed in self.dp.pools)
                                for name, packed in zip(svc.laddr_names, svc.laddrs, strict=True)}
            out.append(d)
        return {"services": out}

    def op_neigh_add(self, req: dict[str, Any]) -> dict[str, Any]:
        self.dp.neigh.add(req["addr"], req["mac"])
        return {}

    def op_neigh_del(self, req: dict[str, Any]) -> dict[str, Any]:
        if not self.dp.neigh.delete(req["addr"]):
            raise ConfigError(f"no neighbour {req['addr']}")
        return {}

    def op_neighs(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"neighs": self.dp.neigh.describe()}

    def op_stats(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.dp.stats_view()

    def op_conns(self, req: dict[str, Any]) -> dict[str, Any]:
        limit = req.get("limit", 100)               # 0..MAX_CONNS_DUMP (control_schema)
        now = self.now()
        conns: list[dict[str, Any]] = []
        for conn in self.dp.conns.by_in.values():
            if len(conns) >= limit:
                break
            conns.append(conn.describe(now))
        return {"total": len(self.dp.conns), "conns": conns}

    def op_set_timeouts(self, req: dict[str, Any]) -> dict[str, Any]:
        changes = {k: v for k, v in req.items() if k != "op"}
        for k, v in changes.items():
            if not limits.timeout_ok(v):
                raise ConfigError(f"timeout {k} must be {limits.TIMEOUT_RANGE}, got {v!r}")
        if changes:
            self.dp.set_timeouts(replace(self.dp.timeouts, **changes))
        return {"timeouts": asdict(self.dp.timeouts)}


def _norm(addr: str) -> str:
    import ipaddress
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


@dataclass
class _Client:
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    last: float = 0.0              # monotonic time of the last byte in or out
    skipping: bool = False         # discarding the rest of an over-long line


class ControlServer:
    """Non-blocking listener + per-client line buffers, driven by the worker's selector
    (one thread: requests run between frames, so no locks around the datapath).

    Bounds, so that no client can stop the worker or grow it without limit:
    - at most `max_clients` connections; a new one beyond that closes the connection that
      has been idle longest (a client that holds a socket and says nothing yields first);
    - a request line is at most MAX_LINE bytes (longer: one error reply, the line skipped);
    - while OUT_HIGH bytes of replies wait for a client that does not read, its further
      requests stay unread in the kernel (backpressure), so one connection holds at most
      OUT_HIGH + one reply + MAX_LINE + RECV_CHUNK bytes;
    - accept() errors (EMFILE, ENFILE, ENOBUFS...) are counted, never raised.
    `on_drop(conn)` is called before a connection the server closes on its own is closed.
    """

    def __init__(self, path: str, handler: ControlHandler, max_clients: int = MAX_CLIENTS,
                 now: Callable[[], float] = time.monotonic, sock: socket.socket | None = None) -> None:
        """`sock`: a listener from bind_control_socket(path) claimed earlier (the worker claims
        --ctl before it touches shared handoff state); None binds here. Raises ConfigError."""
        self.path = path
        self.handler = handler
        self.max_clients = max_clients
        self.now = now
        self.on_drop: Callable[[socket.socket], None] | None = None
        self.counters = {"accepted": 0, "evicted": 0, "accept_errors": 0, "long_lines": 0}
        handler.control_view = self.view
        self.sock = sock if sock is not None else bind_control_socket(path)
        self.clients: dict[socket.socket, _Client] = {}

    def view(self) -> dict[str, int]:
        return {"clients": len(self.clients), "max_clients": self.max_clients, **self.counters}

    def accept(self) -> socket.socket | None:
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:                  # EMFILE, ENFILE, ENOBUFS, ECONNABORTED...
            self.counters["accept_errors"] += 1
            log.warning("control accept failed: %s", exc.strerror or exc)
            return None
        conn.setblocking(False)
        while len(self.clients) >= self.max_clients:
            idlest = min(self.clients, key=lambda c: self.clients[c].last)
            self.counters["evicted"] += 1
            self._close(idlest)
        self.clients[conn] = _Client(last=self.now())
        self.counters["accepted"] += 1
        return conn

    def on_readable(self, conn: socket.socket) -> bool:
        """Read and answer complete lines; False when the client is gone."""
        c = self.clients[conn]
        if len(c.outbuf) >= OUT_HIGH:           # backpressure: answer what is queued first
            return self.flush(conn)
        try:
            data = conn.recv(RECV_CHUNK)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not data:
            return False
        c.last = self.now()
        c.inbuf += data
        self._answer(c)
        return self.flush(conn)

    def _answer(self, c: _Client) -> None:
        """Answer the complete lines in c.inbuf until OUT_HIGH bytes of replies wait."""
        inbuf = c.inbuf
        while len(c.outbuf) < OUT_HIGH and (nl := inbuf.find(b"\n")) >= 0:
            line = bytes(inbuf[:nl])
            del inbuf[:nl + 1]
            if c.skipping:                      # the tail of an over-long line
                c.skipping = False
                continue
            if line.strip():
                c.outbuf += json.dumps(self.handler.handle_line(line)).encode() + b"\n"
        if len(inbuf) > MAX_LINE and inbuf.find(b"\n") < 0:
            self.counters["long_lines"] += 1
            c.outbuf += json.dumps({"ok": False, "error": f"request line longer than {MAX_LINE} "
                                    "bytes (skipped)"}).encode() + b"\n"
            inbuf.clear()
            c.skipping = True

    def flush(self, conn: socket.socket) -> bool:
        """Send queued replies, answering waiting lines as room frees; False when gone."""
        c = self.clients[conn]
        while c.outbuf:
            try:
                n = conn.send(c.outbuf)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            del c.outbuf[:n]
            c.last = self.now()
            if len(c.outbuf) < OUT_HIGH:
                self._answer(c)
        return True

    def wants_read(self, conn: socket.socket) -> bool:
        return len(self.clients[conn].outbuf) < OUT_HIGH

    def wants_write(self, conn: socket.socket) -> bool:
        return bool(self.clients[conn].outbuf)

    def buffered(self, conn: socket.socket) -> int:
        """Bytes held for this connection (requests not yet answered + replies not yet sent)."""
        c = self.clients[conn]
        return len(c.inbuf) + len(c.outbuf)

    def _close(self, conn: socket.socket) -> None:
        if self.on_drop is not None:
            self.on_drop(conn)
        self.drop(conn)

    def drop(self, conn: socket.socket) -> None:
        self.clients.pop(conn, None)
        conn.close()

    def close(self) -> None:
        for c in list(self.clients):
            self.drop(c)
        # Unlink while still listening: until then a successor on the same --ctl path is refused
        # ("in use by a running worker"), so the file removed is ours, never a successor's.
        release_control_socket(self.path, self.sock)


def bind_control_socket(path: str) -> socket.socket:
    """Claim `path` and listen on it: a stale socket file of a dead worker is removed, a live
    worker's socket or a non-socket refused. Returns the non-blocking listener; raises
    ConfigError naming the path (e.g. "AF_UNIX path too long", unix(7): 107 bytes)."""
    _claim_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o177)               # local only: owner may connect
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--ctl {path}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def release_control_socket(path: str, sock: socket.socket) -> None:
    """Undo bind_control_socket: unlink while still listening (a successor is refused until
    then, so the file removed is ours), then close."""
    try:
        os.unlink(path)
    except OSError:
        pass
    sock.close()


def _claim_path(path: str) -> None:
    """Remove a stale socket file left by a dead worker; refuse a live one or a non-socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:                  # ENOTDIR, EACCES, ENAMETOOLONG...
        raise ConfigError(f"--ctl {path}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError(f"--ctl {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        holder = _peer(probe)
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            os.unlink(path)
            return
        raise ConfigError(f"--ctl {path}: {exc.strerror or exc}") from None
    finally:
        probe.close()
    raise ConfigError(f"--ctl {path} is in use by a running worker ({holder})")


def _peer(sock: socket.socket) -> str:
    """'pid N: <command line>' of the process listening on a connected Unix socket
    (SO_PEERCRED, unix(7))."""
    pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          struct.calcsize("3i")))
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = "?"
    return f"pid {pid}: {cmd[:120]}"


def request(path: str, req: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
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
    reply: dict[str, Any] = json.loads(buf)
    return reply
