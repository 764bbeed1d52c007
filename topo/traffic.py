"""Real client traffic for the lab, run inside a client host: many HTTP GETs (new TCP
connections) and UDP request/responses to a VIP; prints one JSON line of results."""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from topo.cliargs import PORT, OneLineParser, int_in, ip_addr, number_in

MAX_COUNT = 1_000_000         # requests per run (every one is a future held until the end)
MAX_PARALLEL = 4096           # client threads


def http_get(vip: str, port: int, path: str, timeout: float) -> tuple[bool, str]:
    conn = http.client.HTTPConnection(vip, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        if resp.status != 200 or path not in body:
            return False, f"bad answer {resp.status}: {body[:60]!r}"
        # "<server> <path> from <laddr>:<lport>" ([<laddr>]:<lport> for IPv6): who reached it.
        words = body.split()
        via = words[3].rsplit(":", 1)[0].removeprefix("[").removesuffix("]") if len(words) > 3 else "?"
        return True, f"{words[0]}@{via}"
    except (OSError, http.client.HTTPException) as e:
        return False, type(e).__name__
    finally:
        conn.close()


def udp_ask(vip: str, port: int, payload: bytes, timeout: float) -> tuple[bool, str]:
    with socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(payload, (vip, port))
            data, _ = s.recvfrom(65535)
        except OSError as e:
            return False, type(e).__name__
    name, _, echoed = data.partition(b" ")
    if echoed != payload:
        return False, f"bad echo {data[:60]!r}"
    return True, name.decode()


def run(args: argparse.Namespace) -> dict:
    me = args.name
    started = time.monotonic()
    servers: Counter[str] = Counter()
    errors: Counter[str] = Counter()

    def one(i: int) -> tuple[bool, str]:
        if args.proto == "tcp":
            return http_get(args.vip, args.port, f"{args.path_prefix}/{me}/{i}", args.timeout)
        return udp_ask(args.vip, args.port, f"{me}-{i}".encode(), args.timeout)

    via: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for ok, what in pool.map(one, range(args.count)):
            if ok:
                server, _, laddr = what.partition("@")
                servers[server] += 1
                if laddr:
                    via[laddr] += 1
            else:
                errors[what] += 1
    return {"host": me, "proto": args.proto, "vip": args.vip, "port": args.port,
            "count": args.count, "ok": sum(servers.values()), "failed": sum(errors.values()),
            "servers": dict(servers), "via": dict(via), "errors": dict(errors),
            "seconds": round(time.monotonic() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m topo.traffic", description="fdirlab client traffic")
    ap.add_argument("--vip", required=True, type=ip_addr)
    ap.add_argument("--port", type=PORT, default=80)
    ap.add_argument("--proto", choices=("tcp", "udp"), default="tcp")
    ap.add_argument("--count", type=int_in(1, MAX_COUNT), default=100)
    ap.add_argument("--parallel", type=int_in(1, MAX_PARALLEL), default=8)
    ap.add_argument("--timeout", type=number_in(0, 3600), default=3.0)
    ap.add_argument("--path-prefix", default="",
                    help="HTTP path prefix, e.g. /slow/3 for conns the server holds 3 s")
    ap.add_argument("--name", default="client",
                    help="this client's name in paths and payloads (Mininet hosts share one hostname)")
    args = ap.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
