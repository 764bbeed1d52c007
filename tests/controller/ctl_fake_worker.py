"""A tiny in-test lcore worker speaking the control protocol over a real Unix socket: pools,
services, neighbours; `in_use` marks pools with live conns, `refuse` makes one op fail."""
from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any


class FakeWorker:
    def __init__(self, path: str, lcore: int) -> None:
        self.path, self.lcore = path, lcore
        self.pools: dict[str, int] = {}          # laddr -> slot
        self.services: list[dict[str, Any]] = []
        self.neighs: dict[str, str] = {}
        self.in_use: set[str] = set()
        self.refuse: dict[str, str] = {}          # op -> error message
        self.log: list[dict[str, Any]] = []
        self.hook = None                          # called with each request before it is handled
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn: socket.socket) -> None:
        f = conn.makefile("rwb")
        for line in f:
            try:
                req = json.loads(line)
                rep = self.handle(req)
            except Exception as e:  # report as the protocol says
                rep = {"ok": False, "error": str(e)}
            f.write(json.dumps(rep).encode() + b"\n")
            f.flush()
        conn.close()

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        self.log.append(req)
        if self.hook is not None:
            self.hook(req)
        if op in self.refuse:
            return {"ok": False, "error": self.refuse[op]}
        if op == "info":
            return {"ok": True, "lcore": self.lcore}
        if op == "pool_add":
            if req["laddr"] in self.pools:
                return {"ok": False, "error": f"pool for {req['laddr']} exists"}
            self.pools[req["laddr"]] = req["slot"]
            return {"ok": True}
        if op == "pool_del":
            if req["laddr"] not in self.pools:
                return {"ok": False, "error": f"no pool for {req['laddr']}"}
            if req["laddr"] in self.in_use and not req.get("force"):
                return {"ok": False, "error": f"pool {req['laddr']} in use by 3 conns"}
            del self.pools[req["laddr"]]
            return {"ok": True}
        if op == "pools":
            return {"ok": True, "pools": [{"laddr": a, "slot": s, "sa_used": 0, "sa_free": 100, "sa_miss": 0}
                                          for a, s in self.pools.items()]}
        if op == "service_add":
            self.services.append({k: req[k] for k in ("vip", "vport", "proto", "sched", "servers", "laddrs")})
            return {"ok": True}
        if op == "services":
            return {"ok": True, "services": self.services}
        if op == "service_del":
            self.services = [s for s in self.services
                             if (s["vip"], s["vport"], s["proto"]) != (req["vip"], req["vport"], req["proto"])]
            return {"ok": True}
        if op in ("service_laddr_add", "service_laddr_del"):
            for s in self.services:
                if (s["vip"], s["vport"], s["proto"]) == (req["vip"], req["vport"], req["proto"]):
                    if op == "service_laddr_add":
                        s["laddrs"] = s["laddrs"] + [req["laddr"]]
                    else:
                        s["laddrs"] = [a for a in s["laddrs"] if a != req["laddr"]]
                    return {"ok": True, "laddrs": s["laddrs"]}
            return {"ok": False, "error": "no such service"}
        if op == "neigh_add":
            self.neighs[req["addr"]] = req["mac"]
            return {"ok": True}
        if op == "neighs":
            return {"ok": True, "neighs": [{"addr": a, "mac": m} for a, m in self.neighs.items()]}
        if op == "stats":
            return {"ok": True, "conns": {}}
        return {"ok": False, "error": f"unknown op {op!r}"}
