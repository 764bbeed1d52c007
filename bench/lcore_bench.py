"""Benchmarks of one lcore worker's datapath: packets/s through established conns, new
conns/s, bytes per (laddr, lcore) sa_pool against DPVS's layout, bytes per conn.

Run: .venv/bin/python -m bench.lcore_bench [--quick]. Everything is measured side by side
in one run on this machine and printed as ratios; the datapath is exactly what a worker
process runs per frame (parse, lookup, state, NAT rewrite, checksums), without the socket.
"""
from __future__ import annotations

import argparse
import gc
import ipaddress
import time
import tracemalloc
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from fdirlab.partition import Partition
from lcore.datapath import Datapath
from lcore.sa_pool import DPVS_SA_ENTRY_BYTES, SaPool, dpvs_pool_bytes

LB = bytes.fromhex("0200000000fe")
LB_S, CL_S, RS_S = "02:00:00:00:00:fe", "02:00:00:00:01:01", "02:00:00:00:02:01"
VIP, LADDR = "10.0.0.100", "10.0.0.200"


def make_dp(n_lcores: int = 1, laddrs: int = 1, servers: int = 1) -> Datapath:
    dp = Datapath(0, n_lcores, "lsb", LB)
    la = [f"10.0.0.{200 + i}" for i in range(laddrs)]
    for slot, a in enumerate(la):
        dp.pool_add(a, slot)
    rs: list[dict[str, Any]] = [{"addr": f"10.0.{2 + i // 250}.{1 + i % 250}", "port": 8080, "weight": 1}
                                for i in range(servers)]
    for proto in ("tcp", "udp"):
        dp.service_add(VIP, 80, proto, "rr", rs, la)
    for s in rs:
        dp.neigh.add(s["addr"], RS_S)
    dp.neigh.add("10.0.1.1", CL_S)
    return dp


_TEMPLATES: dict[tuple, bytes] = {}


def client_frame(cport: int, proto: str, flags: str = "S", payload: bytes = b"x" * 64,
                 client: str = "10.0.1.1") -> bytes:
    """client:cport -> VIP:80, from a scapy-built template patched in place (scapy per
    frame would dominate the run). Checksums of patched frames are not redone: the
    worker never verifies input checksums, it only updates them."""
    key = (proto, flags, payload)
    t = _TEMPLATES.get(key)
    if t is None:
        l4 = TCP(sport=1, dport=80, flags=flags) if proto == "tcp" else UDP(sport=1, dport=80)
        t = _TEMPLATES[key] = bytes(Ether(src=CL_S, dst=LB_S) / IP(src="10.0.1.1", dst=VIP) / l4 / payload)
    b = bytearray(t)
    b[26:30] = ipaddress.ip_address(client).packed
    b[34:36] = cport.to_bytes(2, "big")
    return bytes(b)


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds:>10,.0f}/s"


def bench_pps(n_conns: int, n_packets: int) -> tuple[float, float]:
    """Frames/s through established UDP and TCP conns, both directions interleaved."""
    out = []
    for proto in ("udp", "tcp"):
        dp = make_dp()
        for cport in range(10000, 10000 + n_conns):
            dp.rx(bytearray(client_frame(cport, proto)), 0.0)
        replies = []
        for conn in list(dp.conns):
            l4 = (TCP(sport=conn.rport, dport=conn.lport, flags="A") if proto == "tcp"
                  else UDP(sport=conn.rport, dport=conn.lport))
            replies.append(bytes(Ether(src=RS_S, dst=LB_S) / IP(src=str(ipaddress.ip_address(conn.raddr)),
                                                                dst=LADDR) / l4 / (b"y" * 64)))
        inbound = [client_frame(10000 + i, proto, flags="A") for i in range(n_conns)]
        frames = [f for pair in zip(inbound, replies, strict=False) for f in pair]
        dp.tx.clear()
        before = dp.stats.packets_out
        t0 = time.perf_counter()
        i = 0
        rx, tx = dp.rx, dp.tx
        while i < n_packets:
            for f in frames:
                rx(bytearray(f), 1.0)
            tx.clear()
            i += len(frames)
        dt = time.perf_counter() - t0
        assert dp.stats.packets_out - before == i, dp.stats.as_dict()
        out.append(i / dt)
    return out[0], out[1]


def bench_new_conns(n: int) -> tuple[float, float]:
    out = []
    for proto in ("udp", "tcp"):
        dp = make_dp(laddrs=4, servers=16)
        frames = [client_frame(1024 + i % 64000, proto, client=f"10.1.{i // 64000}.1") for i in range(n)]
        t0 = time.perf_counter()
        for f in frames:
            dp.rx(bytearray(f), 0.0)
        dt = time.perf_counter() - t0
        assert len(dp.conns) == n, dp.stats.as_dict()
        out.append(n / dt)
    return out[0], out[1]


def traced(fn):
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    obj = fn()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return obj, used


def bench_pool_memory(n_lcores: int = 8) -> list[tuple[str, int, int]]:
    """(case, bytes by tracemalloc, bytes by nbytes()) for one (laddr, lcore) pool."""
    part = Partition("lsb", n_lcores)
    rs = [ipaddress.ip_address(f"10.0.2.{i}").packed for i in range(1, 65)]
    cases = []

    def fresh():
        return SaPool(LADDR, 0, 0, part)

    def one_rs():
        p = SaPool(LADDR, 0, 0, part)
        for _ in range(1000):
            p.fetch(rs[0], 8080)
        return p

    def all_buckets_half():
        p = SaPool(LADDR, 0, 0, part)
        for d in rs:
            for _ in range(64):
                p.fetch(d, 8080)
        for b in p.buckets:                       # every bucket half used
            for _ in range(b.free // 2):
                b.fetch()
        return p

    def worst():
        p = SaPool(LADDR, 0, 0, part)
        for d in rs:
            p.fetch(d, 8080)
        for b in p.buckets:                       # every port fetched and released once:
            taken = [b.fetch() for _ in range(b.free)]   # rings at full size
            for port in taken:
                b.release(port)
        return p

    for name, fn in (("created, no conn yet", fresh), ("1 RS (1 bucket), 1000 conns", one_rs),
                     ("64 RSs, all 16 buckets half full", all_buckets_half),
                     ("worst: all buckets, full rings", worst)):
        pool, used = traced(fn)
        cases.append((name, used, pool.nbytes()))
    return cases


def bench_conn_memory(n: int) -> tuple[int, int, int]:
    """Bytes per conn (conn object, both table entries, heap entry, pool share)."""
    frames = [client_frame(1024 + i % 64000, "udp", client=f"10.1.{i // 64000}.1") for i in range(n)]

    def fill():
        dp = make_dp(laddrs=4, servers=16)
        for f in frames:
            dp.rx(bytearray(f), 0.0)
        dp.tx.clear()
        return dp

    empty, base = traced(lambda: make_dp(laddrs=4, servers=16))
    dp, used = traced(fill)
    assert len(dp.conns) == n
    cap = sum(p.capacity * p.hash_size for p in dp.pools.values())
    return used - base, len(dp.conns), cap


def bench_worker_process(n_frames: int, n_conns: int = 1000) -> tuple[float, float] | None:
    """Root only: a real worker process on a veth pair in its own namespace; frames are
    injected on the peer with AF_PACKET. Returns (new conns/s, packets/s) as the worker
    processed them (its own packets_in counter over time), or None without root."""
    import os
    import socket
    import subprocess
    import sys
    import tempfile

    from lcore.control import request

    if os.geteuid() != 0:
        return None
    tag = f"{os.getpid() % 100000}"
    ns, w_if, p_if = f"lcb{tag}", f"lbw{tag}", f"lbp{tag}"
    run = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
    tmp = tempfile.mkdtemp(prefix="lcore-bench-")
    ctl = os.path.join(tmp, "ctl.sock")
    worker = None
    try:
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", w_if, "type", "veth", "peer", "name", p_if)
        run("ip", "link", "set", w_if, "netns", ns)
        run("ip", "netns", "exec", ns, "ip", "link", "set", w_if, "address", LB_S)
        run("ip", "netns", "exec", ns, "ip", "link", "set", w_if, "up")
        run("ip", "link", "set", p_if, "up")
        worker = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "lcore", "--iface", w_if,
                                   "--lcore-id", "0", "--n-lcores", "1", "--scheme", "lsb", "--mode", "fdir",
                                   "--mac", LB_S, "--ctl", ctl], stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(ctl):
                break
            time.sleep(0.05)
        for req in ({"op": "pool_add", "laddr": LADDR, "slot": 0},
                    {"op": "service_add", "vip": VIP, "vport": 80, "proto": "udp", "sched": "rr",
                     "servers": [{"addr": "10.0.2.1", "port": 8080, "weight": 1}], "laddrs": [LADDR]},
                    {"op": "neigh_add", "addr": "10.0.2.1", "mac": RS_S}):
            assert request(ctl, req)["ok"]
        tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        tx.bind((p_if, 0))
        frames = [client_frame(10000 + i % n_conns, "udp") for i in range(n_frames)]

        def push(batch: list[bytes]) -> float:
            start = request(ctl, {"op": "stats"})["packets"]["in"]
            t0 = time.perf_counter()
            for f in batch:
                while True:
                    try:
                        tx.send(f)
                        break
                    except OSError:          # peer queue full: let the worker catch up
                        time.sleep(0.0005)
            last, t_last = start, t0
            while True:                       # wait until the worker stops making progress
                time.sleep(0.05)
                cur = request(ctl, {"op": "stats"})["packets"]["in"]
                if cur == last:
                    break
                last, t_last = cur, time.perf_counter()
            return (last - start) / max(1e-9, t_last - t0)

        cps = push(frames[:n_conns])
        pps = push(frames)
        return cps, pps
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(5)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", p_if], capture_output=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="lcore_bench")
    ap.add_argument("--quick", action="store_true", help="smaller counts (about 10 s)")
    a = ap.parse_args(argv)
    k = 1 if a.quick else 4
    print("== lcore worker datapath (one process, one core) ==")
    udp_pps, tcp_pps = bench_pps(n_conns=1000, n_packets=50000 * k)
    print(f"packets/s through established conns (64 B payload, both directions): "
          f"UDP {rate(udp_pps, 1)}  TCP {rate(tcp_pps, 1)}")
    udp_cps, tcp_cps = bench_new_conns(20000 * k)
    print(f"new conns/s (schedule + laddr bind + sa_pool fetch + NAT):            "
          f"UDP {rate(udp_cps, 1)}  TCP {rate(tcp_cps, 1)}")
    proc = bench_worker_process(20000 * k)
    if proc is None:
        print("worker process on a veth pair: skipped (needs root)")
    else:
        print(f"worker process on a veth pair (AF_PACKET in and out, UDP):             "
              f"new conns {rate(proc[0], 1)}  packets {rate(proc[1], 1)}")
        print(f"socket I/O share of the per-packet cost: {1 - proc[1] / udp_pps:.0%} "
              f"(worker process vs. datapath alone)")
    print()
    print("== sa_pool bytes per (laddr, lcore), n = 8 lcores, 16 buckets ==")
    dpvs = dpvs_pool_bytes(16)
    print(f"DPVS layout: 16 buckets x 65536 sa_entry x {DPVS_SA_ENTRY_BYTES} B (+ list heads) "
          f"= {dpvs:,} B, whatever n is (only 1/8 of the entries are ever on a free list)")
    print(f"{'case':40s} {'tracemalloc':>12s} {'nbytes()':>10s} {'DPVS / ours':>12s}")
    for name, used, nb in bench_pool_memory(8):
        print(f"{name:40s} {used:>12,d} {nb:>10,d} {dpvs / max(used, nb):>11,.0f}x")
    print("goal: DPVS / ours >= 50 in every case")
    print()
    n = 50000 * k
    used, held, cap = bench_conn_memory(n)
    print("== conns held in one worker ==")
    print(f"{held:,} UDP conns (4 laddrs, 16 RSs, n = 1): {used:,} B traced = {used / held:,.0f} B/conn "
          f"(conn object, in/out index entries, expiry heap entry, pool share)")
    print(f"port capacity of those pools: {cap:,} concurrent conns "
          f"(laddrs x 16 buckets x owned ports; RSs must spread over buckets to use it)")


if __name__ == "__main__":
    main()
