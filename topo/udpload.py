"""UDP request/response load, run inside a client host: `python -m topo.udpload`.

Requests go out at a fixed rate over `--flows` sockets (each its own source port, so its
own UDP conn through the load balancer and its own RSS hash); every answer of the lab's
UDP echo server (`"<server> <payload>"`) is matched to its request by sequence number.
Prints one JSON line: sent, answered, lost, late, p50/p99 round trip in ms, answers per server.
"""
from __future__ import annotations

import json
import selectors
import socket
import sys
import time
from collections import Counter

from topo.cliargs import PORT, OneLineParser, int_in, ip_addr, number_in
from topo.loadgen import percentile

MAX_FLOWS = 4096              # sockets (source ports)


def run(vip: str, port: int, rate: float, seconds: float, flows: int, wait: float) -> dict[str, object]:
    family = socket.AF_INET6 if ":" in vip else socket.AF_INET
    socks = []
    sel = selectors.DefaultSelector()
    for _ in range(flows):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((vip, port))
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    sent_at: dict[int, float] = {}
    rtts: list[float] = []
    servers: Counter[str] = Counter()
    bad = 0
    total = max(1, int(rate * seconds))
    start = time.monotonic()
    seq = 0

    def receive(timeout: float) -> None:
        nonlocal bad
        for key, _ in sel.select(timeout):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            while True:
                try:
                    data = sock.recv(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:       # ICMP port unreachable and the like
                    bad += 1
                    break
                name, _, payload = data.partition(b" ")
                try:
                    n = int(payload.split(b"-", 1)[1])
                except (IndexError, ValueError):
                    bad += 1
                    continue
                t0 = sent_at.pop(n, None)
                if t0 is None:
                    bad += 1
                    continue
                rtts.append((time.monotonic() - t0) * 1000)
                servers[name.decode(errors="replace")] += 1

    while seq < total:
        now = time.monotonic()
        due = start + seq / rate
        if now < due:
            receive(due - now)
            continue
        try:
            socks[seq % flows].send(f"q-{seq}".encode())
            sent_at[seq] = time.monotonic()
        except (BlockingIOError, OSError):
            pass
        seq += 1
    deadline = time.monotonic() + wait
    while sent_at and time.monotonic() < deadline:
        receive(0.05)
    for s in socks:
        s.close()
    out: dict[str, object] = {"proto": "udp", "vip": vip, "port": port, "rate": rate,
                              "sent": total, "answered": len(rtts), "lost": len(sent_at),
                              "bad": bad, "servers": dict(servers),
                              "seconds": round(time.monotonic() - start, 2)}
    if rtts:
        out.update(p50_ms=round(percentile(rtts, 50), 3), p99_ms=round(percentile(rtts, 99), 3))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m topo.udpload", description="fdirlab UDP request/response load")
    ap.add_argument("--vip", required=True, type=ip_addr)
    ap.add_argument("--port", type=PORT, default=5353)
    ap.add_argument("--rate", type=number_in(0, 1e7), default=500.0, help="requests per second")
    ap.add_argument("--seconds", type=number_in(0, 86400), default=3.0)
    ap.add_argument("--flows", type=int_in(1, MAX_FLOWS), default=16, help="source ports (UDP conns)")
    ap.add_argument("--wait", type=number_in(0, 3600, lo_open=False), default=1.0,
                    help="seconds to wait for late answers")
    a = ap.parse_args(argv)
    print(json.dumps(run(a.vip, a.port, a.rate, a.seconds, a.flows, a.wait)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
