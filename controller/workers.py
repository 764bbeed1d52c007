"""Client of the lcore worker control protocol: one Unix stream socket per worker, one JSON
object per line each way, answers {"ok": true, ...} or {"ok": false, "error": "..."}.

WorkerSet drives all lcores of a lab together (sa_pools, services, neighbours, stats).
"""
from __future__ import annotations

import functools
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.doctor import WorkerView
from controller.errors import WorkerError
from controller.undo import Undo


class WorkerRefused(WorkerError):
    """The worker answered {"ok": false}: the request was understood and refused."""


@dataclass
class WorkerClient:
    lcore: int
    path: str
    timeout: float = 5.0

    def __post_init__(self) -> None:
        self._sock: socket.socket | None = None
        self._buf = b""

    def _connect(self) -> socket.socket:
        if self._sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            try:
                s.connect(self.path)
            except OSError as e:
                s.close()
                raise WorkerError(f"lcore {self.lcore} worker unreachable at {self.path}: "
                                  f"{e.strerror or e}", lcore=self.lcore) from None
            self._sock = s
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buf = b""

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one request, return the answer; WorkerRefused on {"ok": false}."""
        s = self._connect()
        try:
            s.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
            while b"\n" not in self._buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("connection closed by the worker")
                self._buf += chunk
        except OSError as e:
            self.close()
            raise WorkerError(f"lcore {self.lcore} worker at {self.path}: {op}: {e.strerror or e}",
                              lcore=self.lcore) from None
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            rep = json.loads(line)
        except ValueError:
            raise WorkerError(f"lcore {self.lcore} worker: {op}: answer is not JSON: {line[:80]!r}",
                              lcore=self.lcore) from None
        if not isinstance(rep, dict) or "ok" not in rep:
            raise WorkerError(f"lcore {self.lcore} worker: {op}: answer without \"ok\": {line[:80]!r}",
                              lcore=self.lcore)
        if not rep["ok"]:
            raise WorkerRefused(f"lcore {self.lcore} worker refused {op}: {rep.get('error', '?')}",
                                lcore=self.lcore, op=op)
        return rep

    # --- the protocol's ops ----------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return self.call("info")

    def pool_add(self, laddr: str, slot: int) -> dict[str, Any]:
        return self.call("pool_add", laddr=laddr, slot=slot)

    def pool_del(self, laddr: str, force: bool = False) -> dict[str, Any]:
        return self.call("pool_del", laddr=laddr, force=force)

    def pools(self) -> dict[str, Any]:
        return self.call("pools")

    def service_add(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.call("service_add", **spec)

    def service_del(self, vip: str, vport: int, proto: str) -> dict[str, Any]:
        return self.call("service_del", vip=vip, vport=vport, proto=proto)

    def services(self) -> dict[str, Any]:
        return self.call("services")

    def neigh_add(self, addr: str, mac: str) -> dict[str, Any]:
        return self.call("neigh_add", addr=addr, mac=mac)

    def neighs(self) -> dict[str, Any]:
        return self.call("neighs")

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def conns(self, limit: int = 100) -> dict[str, Any]:
        return self.call("conns", limit=limit)


def pool_laddrs(answer: dict[str, Any]) -> set[str]:
    """Local addresses in a `pools` answer; accepts {"pools": [{"laddr": ..}]} or {"pools": {laddr: ..}}."""
    pools = answer.get("pools", [])
    if isinstance(pools, dict):
        return set(pools)
    return {p["laddr"] for p in pools if isinstance(p, dict) and "laddr" in p}


class WorkerSet:
    """The workers of all lcores: lcore i listens on `<run_dir>/lcore-<i>.sock`."""

    def __init__(self, paths: list[str], timeout: float = 5.0) -> None:
        self.clients = [WorkerClient(i, p, timeout) for i, p in enumerate(paths)]

    @classmethod
    def of(cls, clients: list[WorkerClient]) -> WorkerSet:
        ws = cls([])
        ws.clients = list(clients)
        return ws

    @classmethod
    def from_run_dir(cls, run_dir: str, n_lcores: int, timeout: float = 5.0) -> WorkerSet:
        return cls([str(Path(run_dir) / f"lcore-{i}.sock") for i in range(n_lcores)], timeout)

    def __len__(self) -> int:
        return len(self.clients)

    def close(self) -> None:
        for c in self.clients:
            c.close()

    def check_reachable(self) -> None:
        for c in self.clients:
            c.info()

    def add_pools(self, laddrs: list[tuple[str, int]], skip: set[tuple[int, str]] | None = None) -> None:
        """Every worker creates its sa_pool for every address (except the (lcore, addr) pairs
        in `skip`, which it already holds); on any failure the pools this call created are
        dropped again (force) and the error is raised: WorkerError, or RollbackFailed naming
        the pools a worker could not drop again."""
        done: list[tuple[WorkerClient, str]] = []
        try:
            for addr, slot in laddrs:
                for c in self.clients:
                    if skip and (c.lcore, addr) in skip:
                        continue
                    c.pool_add(addr, slot)
                    done.append((c, addr))
        except WorkerError as exc:
            undo = Undo()
            for c, addr in reversed(done):
                undo.step(f"lcore {c.lcore} still holds the pool of {addr}",
                          functools.partial(c.pool_del, addr, force=True))
            undo.check(exc)
            raise

    def del_pools(self, laddrs: list[tuple[str, int]], force: bool) -> None:
        """Every worker drops its pool; if one refuses (conns still use it), the pools already
        dropped are re-created so the workers end as they began, and the refusal is raised
        (RollbackFailed naming the pools not re-created, if a worker refused that too)."""
        done: list[tuple[WorkerClient, str, int]] = []
        try:
            for addr, slot in laddrs:
                for c in self.clients:
                    c.pool_del(addr, force=force)
                    done.append((c, addr, slot))
        except WorkerError as exc:
            undo = Undo()
            for c, addr, slot in reversed(done):
                undo.step(f"lcore {c.lcore} lost its pool of {addr} (slot {slot})",
                          functools.partial(c.pool_add, addr, slot))
            undo.check(exc)
            raise


def _same_family(a: str, b: str) -> bool:
    return (":" in a) == (":" in b)


def attach_laddr(ws: WorkerSet, addr: str,
                 out: list[tuple[WorkerClient, dict[str, Any], str]] | None = None
                 ) -> list[tuple[WorkerClient, dict[str, Any], str]]:
    """DPVS `ipvsadm --add-laddr` on every worker: each service of the address's family
    binds new conns from it too. Appends each (worker, service, addr) attachment made to
    `out` as it is made (so a caller can undo them after a failure) and returns `out`."""
    out = [] if out is None else out
    for c in ws.clients:
        for svc in c.services().get("services", []):
            if _same_family(svc["vip"], addr) and addr not in svc.get("laddrs", []):
                c.call("service_laddr_add", vip=svc["vip"], vport=svc["vport"], proto=svc["proto"], laddr=addr)
                out.append((c, svc, addr))
    return out


def detach_laddr(ws: WorkerSet, addr: str) -> int:
    """DPVS `ipvsadm --del-laddr` on every worker: new conns stop binding the address; conns
    already bound to it keep their lport and finish. A service's last address stays."""
    n = 0
    for c in ws.clients:
        for svc in c.services().get("services", []):
            laddrs = svc.get("laddrs", [])
            if addr in laddrs and len(laddrs) > 1:
                c.call("service_laddr_del", vip=svc["vip"], vport=svc["vport"], proto=svc["proto"], laddr=addr)
                n += 1
    return n


def conns_on(ws: WorkerSet, addr: str) -> int:
    """Conns bound to local address `addr`, summed over the workers' pools."""
    total = 0
    for c in ws.clients:
        for p in c.pools().get("pools", []):
            if isinstance(p, dict) and p.get("laddr") == addr:
                total += int(p.get("conns", 0))
    return total


def read_view(c: WorkerClient, full: bool = True) -> WorkerView:
    """What one worker holds (info, pools; with `full` also services and neighbours), or a
    view with info None and the reason when it does not answer."""
    try:
        info = c.info()
        pools = [p for p in c.pools().get("pools", []) if isinstance(p, dict)]
        if not full:
            return WorkerView(c.lcore, info, pools)
        services = [s for s in c.services().get("services", []) if isinstance(s, dict)]
        neighs = [x for x in c.neighs().get("neighs", []) if isinstance(x, dict)]
        return WorkerView(c.lcore, info, pools, services, neighs)
    except WorkerError as e:
        c.close()
        return WorkerView(c.lcore, None, error=str(e))
