"""fdirctl bench: `laddr add` of 1,000 local addresses with 8 lcores (16,000 filters, plus
each address's lb_addr and ARP entry) versus one plain batched P4Runtime Write loop.

Both write the very same entries to the same switch in the same run (checked by reading
them back); the ratio of entries/s is what matters (goal >= 0.8). `python -m bench.fdirctl_bench`.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from p4.v1 import p4runtime_pb2

from topo.rig.fake_p4rt import FakeSwitch
from topo.rig.fdir_p4info import snapshot, synthetic_p4info
from topo.rig.switches import bmv2_thrift_args, program_files  # program: the committed build, else p4c

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _program() -> tuple[Path, Path]:
    files = program_files()
    if files is None:
        sys.exit("fdirctl_bench: compiled program absent (p4src/build) and p4c not on PATH")
    return files


def _start(target: str, addr: str, log: Path) -> subprocess.Popen:
    if target == "bmv2":
        cmd = ["simple_switch_grpc", "--device-id", "1", "--no-p4", *bmv2_thrift_args(),
               "--", "--grpc-server-addr", addr]
    else:
        cmd = [sys.executable, "-m", "softswitch", "--device-id", "1", "--no-p4", "--grpc-server-addr", addr]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    port = int(addr.rsplit(":", 1)[1])
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"fdirctl_bench: {target} exited: {log.read_text()[-500:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    proc.terminate()
    sys.exit(f"fdirctl_bench: {target} did not listen on {addr}")


def _fdirctl(argv: list[str]) -> int:
    from controller.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    if code != 0:
        sys.exit(f"fdirctl_bench: fdirctl {' '.join(argv[-3:])} exited {code}: {out.getvalue()[-300:]}")
    return code


def _plain_loop(addr: str, p4info_path: Path, laddrs: list[str], n_lcores: int, lb_mac: int,
                batch: int) -> tuple[float, int]:
    """The baseline: build TableEntry protobufs straight from P4Info ids and write them in
    batches -- the least any P4Runtime program must do for these entries."""
    from controller.p4names import canonical, load_p4info
    from controller.p4rt_client import P4RTClient
    info = load_p4info(p4info_path)
    tid = {t.preamble.name: t.preamble.id for t in info.tables}
    aid = {a.preamble.name: a.preamble.id for a in info.actions}
    t_fdir, t_lb, t_arp = tid["FdirIngress.fdir_v4"], tid["FdirIngress.lb_addr_v4"], tid["FdirIngress.arp_responder"]
    a_steer, a_lb, a_arp = aid["FdirIngress.steer"], aid["FdirIngress.lb_owned"], aid["FdirIngress.arp_answer"]
    mask = (1 << (n_lcores - 1).bit_length()) - 1
    client = P4RTClient(addr, 1).connect()
    try:
        t0 = time.perf_counter()
        # (the same as fdirctl: entries are built in place in the request, no copies)
        n = 0
        req = None

        def new_entry(table_id: int) -> p4runtime_pb2.TableEntry:
            nonlocal req, n
            if req is None or len(req.updates) >= batch:
                if req is not None:
                    client.stub.Write(req)          # a full batch goes out as soon as it is built
                req = p4runtime_pb2.WriteRequest(device_id=1)
                req.election_id.high = client.election_id >> 64
                req.election_id.low = client.election_id & ((1 << 64) - 1)
            u = req.updates.add()
            u.type = p4runtime_pb2.Update.INSERT
            n += 1
            te = u.entity.table_entry
            te.table_id = table_id
            return te

        for slot, a in enumerate(laddrs):
            ip = int(ipaddress.IPv4Address(a))
            cookie = f"fdirlab:laddr:{a};slot={slot}".encode()
            for lc in range(n_lcores):
                for proto in (6, 17):
                    te = new_entry(t_fdir)
                    te.priority = 10
                    te.metadata = cookie
                    m = te.match.add()
                    m.field_id = 1
                    m.ternary.value = canonical(ip)
                    m.ternary.mask = canonical(0xFFFFFFFF)
                    if mask:
                        m = te.match.add()
                        m.field_id = 2
                        m.ternary.value = canonical(lc)
                        m.ternary.mask = canonical(mask)
                    m = te.match.add()
                    m.field_id = 3
                    m.exact.value = canonical(proto)
                    act = te.action.action
                    act.action_id = a_steer
                    p = act.params.add()
                    p.param_id = 1
                    p.value = canonical(lc + 1)
            te = new_entry(t_lb)
            te.metadata = cookie
            m = te.match.add()
            m.field_id = 1
            m.exact.value = canonical(ip)
            te.action.action.action_id = a_lb
            te = new_entry(t_arp)
            te.metadata = cookie
            m = te.match.add()
            m.field_id = 1
            m.exact.value = canonical(ip)
            act = te.action.action
            act.action_id = a_arp
            p = act.params.add()
            p.param_id = 1
            p.value = canonical(lb_mac)
        if req is not None and len(req.updates):
            assert client.stub is not None          # connected above
            client.stub.Write(req)
        return time.perf_counter() - t0, n
    finally:
        client.close()


def _entries_now(addr: str, p4info_path: Path) -> list:
    return snapshot(addr, p4info_path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fdirctl_bench", description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=("softswitch", "bmv2", "fake"), default="softswitch",
                    help="fake: the tests' in-process P4Runtime dict store (checks the bench itself)")
    ap.add_argument("--laddrs", type=int, default=1000)
    ap.add_argument("--lcores", type=int, default=8)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is compared")
    args = ap.parse_args(argv)
    from fdirlab.mask_math import MAX_LCORES
    # (option, value, lowest, highest): laddrs are 10.1.0.1 onwards, one /16
    for opt, v, lo, hi in (("--laddrs", args.laddrs, 1, 65534), ("--lcores", args.lcores, 1, MAX_LCORES),
                           ("--batch", args.batch, 1, None), ("--rounds", args.rounds, 1, None)):
        if v < lo or (hi is not None and v > hi):
            print(f"fdirctl_bench: {opt} {v}: must be " + (f"in {lo}..{hi}" if hi is not None else f"at least {lo}"),
                  file=sys.stderr)
            return 2
    if args.target == "bmv2" and shutil.which("simple_switch_grpc") is None:
        sys.exit("fdirctl_bench: simple_switch_grpc is not on PATH")
    tmp = Path(tempfile.mkdtemp(prefix="fdirctl-bench-"))
    if args.target == "fake":
        from google.protobuf import text_format
        p4info, js = tmp / "fdir.p4info.txtpb", tmp / "fdir.json"
        p4info.write_text(text_format.MessageToString(synthetic_p4info()))
        js.write_text("{}")
        fake = FakeSwitch()
        addr, proc = fake.addr, None
    else:
        p4info, js = _program()
        addr = f"127.0.0.1:{_free_port()}"
        proc = _start(args.target, addr, tmp / "switch.log")
    laddrs = [str(ipaddress.IPv4Address(0x0A010000 + i + 1)) for i in range(args.laddrs)]
    (tmp / "laddrs.txt").write_text("\n".join(laddrs) + "\n")
    base = ["--grpc-addr", addr, "--p4info", str(p4info), "--bmv2-json", str(js), "--no-workers",
            "--batch-size", str(args.batch)]
    init = [*base, "init", "--lcores", str(args.lcores), "--force"]
    try:
        from fdirlab.lab_config import DEFAULT_LB_MAC
        t_ctl, t_plain, n = [], [], 0
        for rnd in range(args.rounds):
            _fdirctl(init)
            t0 = time.perf_counter()
            _fdirctl([*base, "laddr", "add", "--from-file", str(tmp / "laddrs.txt")])
            t_ctl.append(time.perf_counter() - t0)
            ref = _entries_now(addr, p4info) if rnd == 0 else None
            _fdirctl(init)
            dt, n = _plain_loop(addr, p4info, laddrs, args.lcores, int(DEFAULT_LB_MAC.replace(":", ""), 16), args.batch)
            t_plain.append(dt)
            # once: both wrote exactly the same entries (same keys, actions, cookies)
            if ref is not None and _entries_now(addr, p4info) != ref:
                sys.exit("fdirctl_bench: the plain loop did not write the same entries as fdirctl")
        fdir = args.laddrs * args.lcores * 2
        best_ctl, best_plain = min(t_ctl), min(t_plain)
        print(f"fdirctl_bench on {args.target}: {args.laddrs} local addresses x {args.lcores} lcores = "
              f"{fdir} filters + {n - fdir} lb_addr/ARP entries = {n} entries (batch {args.batch})")
        print(f"  fdirctl laddr add : {best_ctl:7.2f} s  {n / best_ctl:9.0f} entries/s  (rounds: "
              + ", ".join(f"{t:.2f}" for t in t_ctl) + ")")
        print(f"  plain Write loop  : {best_plain:7.2f} s  {n / best_plain:9.0f} entries/s  (rounds: "
              + ", ".join(f"{t:.2f}" for t in t_plain) + ")")
        ratio = best_plain / best_ctl
        print(f"  ratio fdirctl / plain = {ratio:.2f}  (goal >= 0.8)  -- same entries verified by read-back")
        return 0
    finally:
        if proc is None:
            fake.stop()
        else:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
