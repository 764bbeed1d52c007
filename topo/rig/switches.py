"""Switch processes for tests and benchmarks: softswitch or BMv2's simple_switch_grpc, with no
program (the test or the controller pushes it), on veth pairs or on no interface at all; and
softswitch's Device in this process (LocalSwitch). Also where the compiled fdir.p4 is.
"""
from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from p4.v1 import p4runtime_pb2

from softswitch.device import Device
from topo.rig.p4rt import Names, free_port, load_p4info
from topo.rig.record import forget, record_proc
from topo.rig.veth import VethSet

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "p4src" / "build"
P4INFO = BUILD / "fdir.p4info.txtpb"
BMV2_JSON = BUILD / "fdir.json"
PYTHON = sys.executable
BMV2 = shutil.which("simple_switch_grpc")


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
        record_proc(self.proc.pid, f"{self.target} (rig, {self.addr})")
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
        if self.proc is not None:
            forget(pid=self.proc.pid)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        # the same gRPC port: a real switch comes back where it was
        self.start()


class Target:
    """A switch process (softswitch or simple_switch_grpc) on the switch side of a VethSet."""

    def __init__(self, kind: str, veths: VethSet, cpu_port: int | None = None,
                 extra: list[str] | None = None) -> None:
        self.kind = kind
        self.grpc_port = free_port()
        self.addr = f"127.0.0.1:{self.grpc_port}"
        ifs = [a for i, name in veths.sw.items() for a in ("-i", f"{i}@{name}")]
        if kind == "softswitch":
            cmd = [PYTHON, "-m", "softswitch", "--no-p4", *ifs, "--grpc-server-addr", self.addr]
            if cpu_port is not None:
                cmd += ["--cpu-port", str(cpu_port)]
        else:
            assert BMV2, "simple_switch_grpc not on PATH"
            cmd = [BMV2, "--no-p4", *ifs, "--", "--grpc-server-addr", self.addr]
            if cpu_port is not None:
                cmd += ["--cpu-port", str(cpu_port)]
        cmd += extra or []
        self.log = open(f"/tmp/ss-test-{kind}-{self.grpc_port}.log", "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)
        record_proc(self.proc.pid, f"{kind} (rig, {self.addr})")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} exited with {self.proc.returncode}: "
                                   f"{Path(self.log.name).read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.grpc_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{kind} did not open its gRPC port")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        forget(pid=self.proc.pid)
        self.log.close()
        return self.proc.returncode


class LocalSwitch(Names):
    """softswitch's Device in this process, with the same API as a Rig plus its P4RTClient.

    Lets the scenario tests run without root: frames go straight through Dataplane.process.
    """

    def __init__(self, cpu_port: int | None = None) -> None:
        super().__init__()
        self.device = Device(0, cpu_port)
        self.notes: queue.Queue = queue.Queue()
        self.device.digests.send = self.notes.put
        self.device.idle_send = self.notes.put
        self.pending: dict[int, list[bytes]] = {}
        self.packet_ins_list: list = []

    # Rig-like
    def load(self, program: tuple[Path, Path]) -> LocalSwitch:
        p4info_path, json_path = program
        self.p4info = load_p4info(p4info_path)
        req = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=0, action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT)
        req.config.p4info.CopyFrom(self.p4info)
        req.config.p4_device_config = json_path.read_bytes()
        self.device.set_pipeline(req)
        return self

    def send(self, port: int, frame: bytes) -> None:
        dp = self.device.dp
        assert dp is not None
        res = dp.process(port, frame)
        if res is None:
            return
        for out_port, out in (res if isinstance(res, list) else [res]):
            if out_port == self.device.cpu_port:
                self.packet_ins_list.append(self.device.packet_in(out))
            else:
                self.pending.setdefault(out_port, []).append(out)

    def outputs(self, wait: float = 0.0) -> dict[int, list[bytes]]:
        out, self.pending = self.pending, {}
        return out

    def nothing_out(self, wait: float = 0.0) -> bool:
        return not self.outputs()

    # P4RTClient-like
    def digest_ack(self, digest_id: int, list_id: int) -> None:
        self.device.digests.ack(digest_id, list_id)

    def note(self, wait: float = 3.0):
        try:
            return self.notes.get(timeout=wait)
        except queue.Empty:
            return None

    def write(self, *updates) -> None:
        errors = self.device.write(self.write_request(*updates))
        bad = [e for e in errors if e is not None]
        if bad:
            raise bad[0]

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        req = p4runtime_pb2.ReadRequest(device_id=0)
        req.entities.extend(entities)
        return list(self.device.read(req))

    def packet_out(self, payload: bytes, metadata: dict[int, bytes] | None = None) -> None:
        po = p4runtime_pb2.PacketOut(payload=payload)
        for mid, value in (metadata or {}).items():
            po.metadata.add(metadata_id=mid, value=value)
        assert self.device.cpu_port is not None
        self.send(self.device.cpu_port, self.device.packet_out_frame(po))

    def packet_ins(self, wait: float = 0.0) -> list:
        got, self.packet_ins_list = self.packet_ins_list, []
        return got
