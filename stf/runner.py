"""Run one STF test on one P4Runtime target: TUN ports, the switch process, the pipeline, the
commands in file order, then the comparison. Needs root (TUN devices, raw sockets).

Verdicts:
- pass: every port sent exactly the expected frames;
- refused: the target refused the program at SetForwardingPipelineConfig (the reason is its
  error), or p4c could not compile it;
- fail: anything else: a write the target rejected, a frame missing, extra or different,
  the switch not starting or exiting, a command the runner cannot map.

Timing (bmv2stf.py writes every frame to pcap files and looks at the output after 2 s): after
each frame the runner waits for its first output frame (at most `gap` s), so frames enter the
switch one after the other; before a control-plane write that follows frames, and at `wait`,
it waits for the frames expected so far and then for `settle` s of silence, so earlier frames
never see later entries; at the end it waits for every expected frame (at most `out_wait` s)
and `settle` s more for frames nobody expected.
"""

from __future__ import annotations

import functools
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import text_format
from google.rpc import code_pb2, status_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from controller.errors import ControllerError, SwitchUnreachable
from controller.p4rt_client import P4RTClient
from stf.compare import check, expectations
from stf.errors import StfError
from stf.p4rt_map import DELETE, INSERT, MODIFY, P4RuntimeMap
from stf.parser import Add, Command, Expect, Packet, SetDefault, Unsupported, Wait, ports_of
from stf.tunports import PortSet
from topo.errors import SwitchStartError
from topo.switch import BMV2_BINARY, SwitchProcess

PASS, FAIL, REFUSED = "pass", "fail", "refused"
DEVICE_ID = 1
UPDATE_NAMES = {INSERT: "INSERT", MODIFY: "MODIFY", DELETE: "DELETE"}


@dataclass
class RunOptions:
    port_kind: str = "tun"
    start_timeout: float = 30.0  # s for the switch to open its gRPC port
    rpc_timeout: float = 20.0  # s for one P4Runtime call
    gap: float = 0.05  # s to wait for a frame's first output before the next frame
    settle: float = 0.2  # s of silence at barriers and at the end
    out_wait: float = 3.0  # s to wait for the expected frames after the last one
    log_dir: Path = Path("/tmp/fdirlab-stf/logs")


@dataclass
class RunResult:
    program: str
    target: str
    status: str
    reason: str = ""
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reason": self.reason,
            "details": self.details,
            "seconds": round(self.seconds, 2),
        }


class _Verdict(Exception):
    def __init__(self, status: str, reason: str, details: list[str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.details = details or []


@dataclass
class StfSwitch(SwitchProcess):
    """topo's switch process, with BMv2's other listeners (Thrift, notifications) moved off
    their defaults, so concurrent runs and a lab's BMv2 do not collide."""

    slot: str = "0"

    def command(self) -> list[str]:
        cmd = super().command()
        if self.target == "bmv2":
            extra = [
                "--notifications-addr",
                f"ipc:///tmp/fdirlab-stf-{self.slot}-notifications.ipc",
            ]
            if _bmv2_has_thrift():
                extra += ["--thrift-port", str(free_tcp_port())]
            at = cmd.index("--")
            cmd[at:at] = extra
        return cmd


@functools.cache
def _bmv2_has_thrift() -> bool:
    """Whether simple_switch_grpc was built with Thrift (then it listens on 9090 unless told)."""
    try:
        r = subprocess.run([BMV2_BINARY, "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--thrift-port" in r.stdout + r.stderr


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_p4info(path: Path) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    try:
        text_format.Merge(path.read_text(), info, allow_unknown_field=True)
    except (OSError, text_format.ParseError) as exc:
        raise StfError(f"P4Info {path}: {exc}") from None
    return info


def _rpc_reason(exc: grpc.RpcError, n: int) -> str:
    """The first per-update error of a failed Write (P4Runtime spec §12.3), else its status."""
    metadata: Any = exc.trailing_metadata() or ()          # (key, value) pairs (grpc.Call)
    for key, value in metadata:
        if key == "grpc-status-details-bin":
            st = status_pb2.Status()
            st.ParseFromString(value)
            for anyv in st.details:
                err = p4runtime_pb2.Error()
                anyv.Unpack(err)
                if err.canonical_code != code_pb2.OK:
                    return f"{code_pb2.Code.Name(err.canonical_code)}: {err.message}"
    return f"{exc.code().name}: {exc.details()}"


def write(
    client: P4RTClient, updates: list[tuple[int, p4runtime_pb2.Entity]], timeout: float
) -> None:
    """One Write with these updates; raises _Verdict(FAIL) naming the target's error."""
    if not updates:
        return
    req = p4runtime_pb2.WriteRequest(device_id=client.device_id)
    req.election_id.high = client.election_id >> 64
    req.election_id.low = client.election_id & ((1 << 64) - 1)
    for typ, ent in updates:
        req.updates.add(type=typ, entity=ent)
    assert client.stub is not None
    try:
        client.stub.Write(req, timeout=timeout)
    except grpc.RpcError as exc:
        raise _Verdict(FAIL, _rpc_reason(exc, len(updates))) from None


def _describe(typ: int, ent: p4runtime_pb2.Entity) -> str:
    pre = ent.packet_replication_engine_entry
    if pre.HasField("multicast_group_entry"):
        g = pre.multicast_group_entry
        n = len(g.replicas)
        return f"{UPDATE_NAMES[typ]} multicast group {g.multicast_group_id} ({n} replicas)"
    if pre.HasField("clone_session_entry"):
        return f"{UPDATE_NAMES[typ]} clone session {pre.clone_session_entry.session_id}"
    return UPDATE_NAMES[typ] + " entity"


class _Execution:
    """The commands of one STF file against one started target."""

    def __init__(
        self, client: P4RTClient, ports: PortSet, mapper: P4RuntimeMap, opts: RunOptions
    ) -> None:
        self.client = client
        self.ports = ports
        self.mapper = mapper
        self.opts = opts
        self.expected_so_far: dict[int, int] = {}
        self.any_ports: set[int] = set()
        self.frames_since_barrier = 0

    def barrier(self) -> None:
        if not self.frames_since_barrier:
            return
        want = {p: n for p, n in self.expected_so_far.items() if p not in self.any_ports}
        self.ports.wait_for_counts(want, self.opts.out_wait)
        self.ports.wait_quiet(self.opts.settle, self.opts.out_wait)
        self.frames_since_barrier = 0

    def do_write(
        self, line: int, what: str, updates: list[tuple[int, p4runtime_pb2.Entity]]
    ) -> None:
        self.barrier()
        try:
            write(self.client, updates, self.opts.rpc_timeout)
        except _Verdict as v:
            raise _Verdict(FAIL, f"line {line}: {what}: {v.reason}") from None

    def flush_groups(self, line: int) -> None:
        for typ, ent in self.mapper.pending_groups():
            self.do_write(line, _describe(typ, ent), [(typ, ent)])

    def run(self, commands: list[Command]) -> None:
        for cmd in commands:
            try:
                self.step(cmd)
            except StfError as exc:
                raise _Verdict(FAIL, f"line {cmd.line}: {exc}") from None

    def step(self, cmd: Command) -> None:
        if isinstance(cmd, Add):
            self.flush_groups(cmd.line)
            entry = self.mapper.table_entry(cmd)
            ent = p4runtime_pb2.Entity(table_entry=entry)
            self.do_write(cmd.line, f"add {cmd.table}", [(INSERT, ent)])
        elif isinstance(cmd, SetDefault):
            self.flush_groups(cmd.line)
            ent = p4runtime_pb2.Entity(table_entry=self.mapper.default_entry(cmd))
            self.do_write(cmd.line, f"setdefault {cmd.table}", [(MODIFY, ent)])
        elif isinstance(cmd, Packet):
            self.flush_groups(cmd.line)
            before = self.ports.total
            self.ports.send(cmd.port, cmd.data)
            self.frames_since_barrier += 1
            self.ports.wait_for_output(before, self.opts.gap)
        elif isinstance(cmd, Expect):
            if cmd.pattern is None:
                self.any_ports.add(cmd.port)
            else:
                self.expected_so_far[cmd.port] = self.expected_so_far.get(cmd.port, 0) + 1
        elif isinstance(cmd, Wait):
            self.flush_groups(cmd.line)
            self.barrier()
        elif isinstance(cmd, Unsupported):
            raise _Verdict(FAIL, f"line {cmd.line}: the runner does not carry out {cmd.keyword!r}")
        else:
            for typ, ent in self.mapper.replication(cmd):
                self.do_write(cmd.line, _describe(typ, ent), [(typ, ent)])

    def finish(self) -> None:
        self.flush_groups(0)
        want = {p: n for p, n in self.expected_so_far.items() if p not in self.any_ports}
        self.ports.wait_for_counts(want, self.opts.out_wait)
        self.ports.wait_quiet(self.opts.settle, self.opts.out_wait)


def run_program(
    name: str,
    commands: list[Command],
    p4info_path: Path,
    json_path: Path,
    target: str,
    slot: str,
    opts: RunOptions,
) -> RunResult:
    """Run one compiled program's STF commands on `target` (bmv2 | softswitch). `slot` makes
    the device names unique among concurrent runs (`stf{slot}p{port}`)."""
    t0 = time.monotonic()
    try:
        _run(name, commands, p4info_path, json_path, target, slot, opts)
        result = RunResult(name, target, PASS)
    except _Verdict as v:
        result = RunResult(name, target, v.status, v.reason, v.details)
    except StfError as exc:
        result = RunResult(name, target, FAIL, str(exc))
    except Exception as exc:
        result = RunResult(name, target, FAIL, f"runner error: {type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - t0
    return result


def _run(
    name: str,
    commands: list[Command],
    p4info_path: Path,
    json_path: Path,
    target: str,
    slot: str,
    opts: RunOptions,
) -> None:
    unsupported = [c for c in commands if isinstance(c, Unsupported)]
    if unsupported:
        c = unsupported[0]
        raise _Verdict(FAIL, f"line {c.line}: the runner does not carry out {c.keyword!r}")
    p4info = load_p4info(p4info_path)
    try:
        device_config = json_path.read_bytes()
    except OSError as exc:
        raise StfError(f"BMv2 JSON {json_path}: {exc.strerror or exc}") from None
    ports_used = ports_of(commands)
    opts.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = opts.log_dir / f"{name}.{target}.log"
    with PortSet(f"stf{slot}p", ports_used, opts.port_kind) as ports:
        sw = StfSwitch(
            target,
            dict(ports.names),
            grpc_addr=f"127.0.0.1:{free_tcp_port()}",
            device_id=DEVICE_ID,
            log_path=log_path,
            slot=slot,
        )
        try:
            sw.start(timeout=opts.start_timeout)
        except SwitchStartError as exc:
            raise _Verdict(FAIL, "switch did not start: " + str(exc).splitlines()[0]) from None
        try:
            _drive(commands, p4info, device_config, ports, sw, opts)
        finally:
            sw.stop()


def _drive(
    commands: list[Command],
    p4info: p4info_pb2.P4Info,
    device_config: bytes,
    ports: PortSet,
    sw: SwitchProcess,
    opts: RunOptions,
) -> None:
    try:
        client = P4RTClient(sw.grpc_addr, device_id=DEVICE_ID, timeout=opts.rpc_timeout).connect()
    except ControllerError as exc:
        raise _Verdict(FAIL, f"P4Runtime session: {exc}") from None
    try:
        try:
            client.set_pipeline(p4info, device_config)
        except ControllerError as exc:
            reason = str(exc).split("set pipeline: ", 1)[-1]
            if not sw.running():
                raise _Verdict(
                    FAIL, f"switch exited at SetForwardingPipelineConfig: {reason}"
                ) from None
            if isinstance(exc, SwitchUnreachable):  # no answer is not a refusal
                raise _Verdict(FAIL, f"SetForwardingPipelineConfig: {reason}") from None
            raise _Verdict(REFUSED, reason) from None
        ports.clear()
        ex = _Execution(client, ports, P4RuntimeMap(p4info), opts)
        ex.run(commands)
        ex.finish()
        if not sw.running():
            raise _Verdict(
                FAIL,
                "switch exited while running the test; log: "
                + sw.log_tail(3).strip().replace("\n", " | "),
            )
        problems = check(
            expectations([c for c in commands if isinstance(c, Expect)]),
            ports.snapshot(),
            ports_of(commands),
        )
        if problems:
            raise _Verdict(FAIL, problems[0], problems)
    finally:
        client.close()
