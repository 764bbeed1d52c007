"""Helpers for controller tests: a synthetic P4Info shaped like fdir.p4's (for pure tests
that must not depend on the compiled build), switch processes, free ports."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from p4.config.v1 import p4info_pb2

from controller.p4names import ACTIONS, COUNTERS, TABLES

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "p4src" / "build"
P4INFO = BUILD / "fdir.p4info.txtpb"
BMV2_JSON = BUILD / "fdir.json"
TABLE_ACTIONS = {
    "port_role": ["set_wire", "set_lcore"], "lb_addr_v4": ["lb_owned", "NoAction"],
    "lb_addr_v6": ["lb_owned", "NoAction"], "fdir_v4": ["steer", "NoAction"], "fdir_v6": ["steer", "NoAction"],
    "lb_miss_policy": ["rss", "steer", "drop_miss"], "reta": ["steer", "reta_miss"],
    "l2_fwd": ["forward", "l2_miss"], "arp_responder": ["arp_answer", "arp_not_ours"],
    "nd_responder": ["nd_answer", "nd_not_ours"]}
DIRECT = ("fdir_v4", "fdir_v6", "reta", "l2_fwd")


def synthetic_p4info() -> p4info_pb2.P4Info:
    """A P4Info with fdir.p4's tables, keys, actions and counters (ids made up like p4c's)."""
    info = p4info_pb2.P4Info()
    aid = {}
    for i, (name, params) in enumerate(ACTIONS.items()):
        a = info.actions.add()
        a.preamble.id = 0x01000000 + i + 1
        a.preamble.name = name if name == "NoAction" else f"FdirIngress.{name}"
        for j, (pname, width) in enumerate(params):
            p = a.params.add()
            p.id, p.name, p.bitwidth = j + 1, pname, width
        aid[name] = a.preamble.id
    for i, (short, fields) in enumerate(TABLES.items()):
        t = info.tables.add()
        t.preamble.id = 0x02000000 + i + 1
        t.preamble.name = f"FdirIngress.{short}"
        for j, (fname, kind, width) in enumerate(fields):
            mf = t.match_fields.add()
            mf.id, mf.name, mf.bitwidth = j + 1, f"x.{fname}", width
            mf.match_type = p4info_pb2.MatchField.EXACT if kind == "exact" else p4info_pb2.MatchField.TERNARY
        for a in TABLE_ACTIONS[short]:
            t.action_refs.add().id = aid[a]
        if short in DIRECT:
            dc = info.direct_counters.add()
            dc.preamble.id = 0x13000000 + i + 1
            dc.preamble.name = f"FdirIngress.{short}_counter"
            dc.direct_table_id = t.preamble.id
    for i, full in enumerate(COUNTERS.values()):
        c = info.counters.add()
        c.preamble.id = 0x12000000 + i + 1
        c.preamble.name = full
        c.size = 512
    return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bmv2_thrift_args() -> list[str]:
    """A free --thrift-port when this BMv2 was built with Thrift (parallel switches would
    collide on 9090); nothing when it was built without (it then rejects the option)."""
    out = subprocess.run(["simple_switch_grpc", "--help"], capture_output=True, text=True)
    return ["--thrift-port", str(free_port())] if "--thrift-port" in out.stdout + out.stderr else []


def program_files() -> tuple[Path, Path] | None:
    """(p4info, json) of the compiled NIC program: the committed build, else a p4c compile
    into a scratch dir outside the repo when p4c is present, else None."""
    if P4INFO.exists() and BMV2_JSON.exists():
        return P4INFO, BMV2_JSON
    scratch = Path(f"/tmp/fdirlab-ctl-build-{os.getuid()}")
    p4i, js = scratch / "fdir.p4info.txtpb", scratch / "fdir.json"
    if p4i.exists() and js.exists() and js.stat().st_mtime >= (REPO / "p4src/fdir.p4").stat().st_mtime:
        return p4i, js
    if shutil.which("p4c") is None:
        return None
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run(["p4c", "--target", "bmv2", "--arch", "v1model", "--p4runtime-files", str(p4i),
                    "-o", str(scratch), str(REPO / "p4src/fdir.p4")], check=True, capture_output=True)
    return p4i, js


class SwitchProc:
    """One switch process (softswitch or BMv2) with no program: the controller pushes it."""

    def __init__(self, target: str, device_id: int = 1, ifaces: list[tuple[int, str]] | None = None,
                 log_dir: Path | None = None) -> None:
        self.target, self.device_id = target, device_id
        self.ifaces = ifaces or []
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.log = (log_dir or Path("/tmp")) / f"ctl-switch-{target}-{os.getpid()}-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def cmd(self) -> list[str]:
        ifs = [x for p, i in self.ifaces for x in ("-i", f"{p}@{i}")]
        if self.target == "bmv2":
            return ["simple_switch_grpc", "--device-id", str(self.device_id), "--no-p4",
                    *bmv2_thrift_args(), *ifs, "--", "--grpc-server-addr", self.addr]
        return [sys.executable, "-m", "softswitch", "--device-id", str(self.device_id), "--no-p4", *ifs,
                "--grpc-server-addr", self.addr]

    def start(self) -> None:
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(self.cmd(), stdout=logf, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.target} exited with {self.proc.returncode}: "
                                   f"{self.log.read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.target} did not listen on {self.addr} within 30s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        # the same gRPC port: a real switch comes back where it was
        self.start()


def snapshot(addr: str, p4info_path: Path, device_id: int = 1) -> list[tuple]:
    """Everything the switch holds, as comparable tuples (key, action, params, cookie),
    including the miss-policy default entry; read by a fresh controller session."""
    from controller.p4names import P4Names
    from controller.p4rt_client import P4RTClient
    from controller.state import read_state
    names = P4Names.from_file(p4info_path)
    with P4RTClient(addr, device_id, timeout=5).connect(require_primary=False) as c:
        st = read_state(c, names)
    rows = [(repr(e.key), e.action, e.params, e.cookie) for e in st.entries]
    if st.miss_default is not None:
        rows.append(("default", st.miss_default.action, st.miss_default.params, b""))
    return sorted(rows)


class Fdirctl:
    """Runs fdirctl in-process (fast) against one switch; `.sub` runs it as a real process."""

    def __init__(self, sw: SwitchProc, program: tuple[Path, Path], capsys) -> None:
        self.sw, self.program, self.capsys = sw, program, capsys

    def base(self) -> list[str]:
        p4info, js = self.program
        return ["--grpc-addr", self.sw.addr, "--device-id", str(self.sw.device_id),
                "--p4info", str(p4info), "--bmv2-json", str(js), "--timeout", "5"]

    def __call__(self, *args: str, workers: bool = False) -> tuple[int, dict, str]:
        """(exit code, JSON answer, stderr)."""
        from controller.cli import main
        argv = [*self.base(), "--json", *([] if workers else ["--no-workers"]), *args]
        self.capsys.readouterr()
        code = main(argv)
        out, err = self.capsys.readouterr()
        return code, json.loads(out.strip().splitlines()[-1]) if out.strip() else {}, err

    def sub(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        import os
        e = dict(os.environ, **(env or {}))
        return subprocess.run([sys.executable, "-m", "controller", *self.base(), "--no-workers", *args],
                              capture_output=True, text=True, cwd=REPO, env=e, timeout=120)
