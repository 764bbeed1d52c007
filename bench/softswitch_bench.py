"""Frames/s forwarded by softswitch for fdir.p4 (64-byte frames, each hitting one of 1,000 filters),
and by BMv2's simple_switch_grpc on the same traffic in the same run when it is on PATH; prints the ratio.

By default every frame differs (`--frames distinct`): the IP id and the TCP sequence number change
per frame over 200,000 frames, more than softswitch's flow cache holds (65,536), as in live TCP
traffic, so no cache helps. `--frames repeat` sends the same 1,000 frames over and over (the
flow cache's best case).

Run as root: `python -m bench.softswitch_bench [--duration S] [--rates R1,R2,...]`.
The offered load is paced (an unpaced Python sender would starve the switch on 2 cores); the figure
reported per target is the best delivered rate over the sweep, counted by the kernel on the
receiving veths.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from topo.rig.p4rt import P4RTClient
from topo.rig.switches import Target
from topo.rig.veth import VethSet

REPO = Path(__file__).resolve().parents[1]

N_FILTERS = 1000
LCORES = 4          # mask 3: 250 local addresses x 4 lcores = 1,000 filters
FRAME_LEN = 64      # without FCS


DISTINCT_VARIANTS = 200     # x 1,000 filters: 200,000 frames that all differ


def _frames(variants: int = 1) -> list[bytes]:
    """variants x N_FILTERS frames, filter-major within each variant; variant v gives every
    frame its own IP id and TCP sequence number."""
    frames = []
    eth = bytes.fromhex("02000000000a" "020000000201") + b"\x08\x00"
    src = socket.inet_aton("10.2.0.1")
    for v in range(variants):
        for i in range(N_FILTERS):
            n = v * N_FILTERS + i
            laddr = 0x0A010000 + i // LCORES
            dport = 1024 + (i % LCORES)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, FRAME_LEN - 14, n & 0xFFFF, 0, 64, 6, 0,
                             src, struct.pack("!I", laddr))
            ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
            tcp = struct.pack("!HHIIBBHHH", 8080, dport, n + 1, 0, 0x50, 0x10, 8192, 0, 0)
            frame = eth + ip + tcp
            frames.append(frame + b"\x00" * (FRAME_LEN - len(frame)))
    return frames


def _csum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _program() -> tuple[Path, Path]:
    build = REPO / "p4src" / "build"
    p4info, js = build / "fdir.p4info.txtpb", build / "fdir.json"
    if not js.exists():
        tmp = Path("/tmp/ssbench-build")
        tmp.mkdir(exist_ok=True)
        p4info, js = tmp / "fdir.p4info.txtpb", tmp / "fdir.json"
        if not js.exists():
            if not shutil.which("p4c"):
                sys.exit("bench: p4src/build/fdir.json is missing and p4c is not on PATH")
            subprocess.run(["p4c", "--target", "bmv2", "--arch", "v1model", "--p4runtime-files", str(p4info),
                            "-o", str(tmp), str(REPO / "p4src" / "fdir.p4")], check=True)
    return p4info, js


def _configure(c: P4RTClient) -> None:
    c.set_pipeline(*_program())
    for p in (2, 3):
        c.insert("port_role", {"std.ingress_port": p}, "set_lcore")
    for a in range(N_FILTERS // LCORES):
        c.insert("lb_addr_v4", {"hdr.ipv4.dst_addr": 0x0A010000 + a}, "lb_owned")
    from p4.v1 import p4runtime_pb2
    req = []
    for i in range(N_FILTERS):
        te = c.table_entry("fdir_v4", {"hdr.ipv4.dst_addr": (0x0A010000 + i // LCORES, 0xFFFFFFFF),
                                       "meta.l4_dport": (i % LCORES, LCORES - 1), "hdr.ipv4.protocol": 6},
                           "steer", {"port": 2 + (i % 2)}, priority=10)
        req.append(("INSERT", te))
    for k in range(0, len(req), 250):
        c.write(*req[k:k + 250])
    del p4runtime_pb2


def _sender(iface: str, frames: list[bytes], rate: float, duration: float, out: mp.Queue) -> None:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    send = s.send
    n = len(frames)
    burst = max(1, int(rate / 2000))          # a burst every 0.5 ms
    interval = burst / rate
    i = sent = 0
    t0 = time.perf_counter()
    nxt = t0
    while True:
        now = time.perf_counter()
        if now - t0 >= duration:
            break
        if now < nxt:
            if nxt - now > 0.0003:
                time.sleep(nxt - now - 0.0002)
            continue
        for _ in range(burst):
            try:
                send(frames[i])
                sent += 1
            except OSError:
                pass
            i = i + 1 if i + 1 < n else 0
        nxt += interval
    out.put((sent, time.perf_counter() - t0))


def _rx(ifaces: list[str]) -> int:
    return sum(int(Path(f"/sys/class/net/{i}/statistics/rx_packets").read_text()) for i in ifaces)


def measure(kind: str, rates: list[float], duration: float,
            extra: list[str] | None = None, variants: int = 1) -> list[tuple[float, float]]:
    veths = VethSet(3)
    target = Target(kind, veths, extra=extra)
    results = []
    try:
        c = P4RTClient(target.addr)
        _configure(c)
        frames = _frames(variants)
        sinks = [veths.host[2], veths.host[3]]
        ctx = mp.get_context("fork")
        # Warm up: every flow once, then let the switch settle.
        q = ctx.Queue()
        p = ctx.Process(target=_sender, args=(veths.host[1], frames[:N_FILTERS], 20000, 0.2, q))
        p.start()
        p.join()
        q.get()
        time.sleep(0.5)
        for rate in rates:
            before = _rx(sinks)
            q = ctx.Queue()
            p = ctx.Process(target=_sender, args=(veths.host[1], frames, rate, duration, q))
            p.start()
            sent, elapsed = q.get()
            p.join()
            time.sleep(0.3)                      # let the switch drain its socket buffer
            got = _rx(sinks) - before
            delivered = got / elapsed
            results.append((sent / elapsed, delivered))
            print(f"  {kind:10s} offered {sent / elapsed:9.0f} fps  delivered {delivered:9.0f} fps "
                  f"({100 * got / max(sent, 1):5.1f}%)", flush=True)
            if got < 0.9 * sent:
                break                            # saturated: higher offered loads only add loss
        c.close()
    finally:
        target.stop()
        veths.close()
    return results


def _checked(args: argparse.Namespace) -> list[float]:
    """The offered rates (frames/s); ValueError naming the first bad argument value."""
    if not args.duration > 0:
        raise ValueError(f"--duration {args.duration:g}: must be > 0 seconds")
    rates = []
    for r in args.rates.split(","):
        try:
            rate = float(r)
        except ValueError:
            rate = 0.0
        if not 0 < rate < float("inf"):
            raise ValueError(f"--rates {args.rates!r}: {r!r} is not a positive frame rate")
        rates.append(rate)
    for t in args.targets.split(","):
        if t not in ("softswitch", "bmv2"):
            raise ValueError(f"--targets {args.targets!r}: target {t!r}: use softswitch or bmv2")
    if args.no_flow_cache and "softswitch" not in args.targets.split(","):
        # the flow cache is softswitch's; refused rather than ignored
        raise ValueError(f"--no-flow-cache: softswitch only, and --targets {args.targets!r} has no softswitch")
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.softswitch_bench", description=__doc__)
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per offered rate")
    ap.add_argument("--rates", default="10000,20000,30000,40000,50000,60000,80000,100000,130000",
                    help="offered frame rates to sweep (frames/s)")
    ap.add_argument("--targets", default="softswitch,bmv2")
    ap.add_argument("--frames", choices=("distinct", "repeat"), default="distinct",
                    help="distinct: every frame differs (IP id, TCP seq), as in live traffic; "
                         "repeat: the same 1,000 frames again and again")
    ap.add_argument("--no-flow-cache", action="store_true",
                    help="run softswitch with --no-flow-cache (every frame through the generated pipeline)")
    args = ap.parse_args(argv)
    try:
        rates = _checked(args)
    except ValueError as e:
        print(f"softswitch_bench: {e}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("bench: needs root (veth pairs and raw sockets)", file=sys.stderr)
        return 2
    best = {}
    for kind in args.targets.split(","):
        if kind == "bmv2" and shutil.which("simple_switch_grpc") is None:
            print("bmv2: simple_switch_grpc not on PATH; softswitch measured alone")
            continue
        variants = DISTINCT_VARIANTS if args.frames == "distinct" else 1
        print(f"{kind}: fdir.p4, {FRAME_LEN}-byte frames over {N_FILTERS} flow-director entries, "
              f"{variants * N_FILTERS} distinct frames")
        extra = ["--no-flow-cache"] if kind == "softswitch" and args.no_flow_cache else None
        res = measure(kind, rates, args.duration, extra, variants)
        best[kind] = max((d for _, d in res), default=0.0)
    for kind, fps in best.items():
        print(f"RESULT {kind}: {fps:.0f} frames/s (best delivered)")
    if "softswitch" in best and best.get("bmv2"):
        print(f"RATIO softswitch/bmv2: {best['softswitch'] / best['bmv2']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
