#!/usr/bin/env python3
"""`make ptf`: create veth pairs, start the chosen target, run the PTF suite against it and
tear everything down, whatever the outcome. Exit code: PTF's (0 only when every test passed).
What it starts (veths, the switch, the ptf process) is recorded as it starts it
(topo/runstate.py), so `make clean` after a killed run removes exactly that.

Ports: 0..7 are lcore ports, 8..11 wire ports (see fdir_base.py). Switch side `fdsN`,
PTF side `fdpN`.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from topo.errors import SwitchStartError  # noqa: E402
from topo.runstate import RunRecord, records  # noqa: E402
from topo.switch import SwitchProcess, resolve_target  # noqa: E402

N_PORTS = 12


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def taken_links(prefix_sw: str, prefix_ptf: str) -> list[str]:
    names = [f"{pre}{p}" for p in range(N_PORTS) for pre in (prefix_sw, prefix_ptf)]
    return [n for n in names if Path(f"/sys/class/net/{n}").exists()]


def make_veths(prefix_sw: str, prefix_ptf: str, record: RunRecord) -> dict[int, tuple[str, str]]:
    pairs = {}
    for p in range(N_PORTS):
        sw, pt = f"{prefix_sw}{p}", f"{prefix_ptf}{p}"
        sh("ip", "link", "add", sw, "type", "veth", "peer", "name", pt)
        record.add_link(sw)
        for name in (sw, pt):
            # No IPv6 chatter (router solicitations, DAD) on the test ports.
            sh("sysctl", "-q", "-w", f"net.ipv6.conf.{name}.disable_ipv6=1", check=False)
            sh("ip", "link", "set", name, "mtu", "9000")
            sh("ip", "link", "set", name, "up")
        pairs[p] = (sw, pt)
    return pairs


def del_veths(names: list[str]) -> None:
    for sw in names:
        sh("ip", "link", "del", sw, check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default=os.environ.get("TARGET", "softswitch"),
                    help="softswitch (default) | bmv2 | auto")
    ap.add_argument("--grpc-addr", default="127.0.0.1:9660")
    ap.add_argument("--log-dir", default=str(ROOT / "logs" / "ptf"))
    ap.add_argument("tests", nargs="*", help="PTF test names or groups (default: all)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("ptf: needs root (veth pairs, raw sockets)", file=sys.stderr)
        return 2
    try:
        target = resolve_target(args.target)
    except SwitchStartError as e:
        print(f"ptf: {e}", file=sys.stderr)
        return 2
    taken = taken_links("fds", "fdp")
    if taken:
        owners = [f"{r.kind} run pid {r.owner.pid} ({'running' if r.owner.alive() else 'killed'})"
                  for r in records() if set(r.links) & set(taken)]
        print(f"ptf: interface(s) {', '.join(taken[:4])} exist already, from "
              + (", ".join(owners) + ": `make clean` removes a killed run's" if owners
                 else "something not recorded by fdirlab: remove them by hand"), file=sys.stderr)
        return 2
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    # SIGTERM (and SIGHUP) tear down like Ctrl-C does: the finally block below runs
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_exit)
    record = RunRecord.create("ptf", f"ptf {target}")
    pairs: dict[int, tuple[str, str]] = {}
    switch = None
    ptf: subprocess.Popen | None = None
    try:
        pairs = make_veths("fds", "fdp", record)
        switch = SwitchProcess(target, {p: sw for p, (sw, _) in pairs.items()}, grpc_addr=args.grpc_addr,
                               log_path=log_dir / f"{target}.log", record=record)
        switch.start()
        print(f"ptf: {target} up on {args.grpc_addr}, ports 0..{N_PORTS - 1}; logs in {log_dir}")
        params = f"grpc_addr='{args.grpc_addr}';device_id=1;target='{target}'"
        cmd = [str(Path(sys.executable).with_name("ptf")), "--test-dir", str(HERE),
               "--pypath", str(ROOT), "--log-dir", str(log_dir), "--test-params", params,
               "--socket-recv-size", "10240", "--qlen", "1000",
               "--default-timeout", "3", "--default-negative-timeout", "0.5"]
        for p, (_, pt) in pairs.items():
            cmd += ["-i", f"{p}@{pt}"]
        cmd += args.tests
        ptf = subprocess.Popen(cmd)
        record.add_proc(ptf.pid, "ptf")
        return ptf.wait()
    except SwitchStartError as e:
        print(f"ptf: {e}", file=sys.stderr)
        return 2
    finally:
        if ptf is not None and ptf.poll() is None:
            ptf.kill()
            ptf.wait()
        if switch is not None:
            switch.stop()
        del_veths(record.links)        # every veth made, even if making them stopped half-way
        record.close()
        time.sleep(0.1)


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
