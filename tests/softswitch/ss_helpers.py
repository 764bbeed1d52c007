"""Helpers for softswitch tests: a small P4Runtime client, veth pairs, target processes, frame I/O.

The same helpers drive softswitch and BMv2's simple_switch_grpc so that tests run unchanged on both.
"""
from __future__ import annotations

import itertools
import os
import queue
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
FDIR_BUILD = REPO / "p4src" / "build"
PYTHON = sys.executable
BMV2 = shutil.which("simple_switch_grpc")
TARGETS = ["softswitch", "bmv2"]
_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_p4info(path: Path) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse(path.read_text(), info)
    return info


def enc(value: int, width: int) -> bytes:
    return value.to_bytes((width + 7) // 8, "big")


# --------------------------------------------------------------------------- P4Runtime client
class Names:
    """Builds P4Runtime entities from P4Info names (full or last component)."""

    def __init__(self, p4info: p4info_pb2.P4Info | None = None) -> None:
        self.p4info = p4info

    # --------------------------------------------------------------- names
    def table(self, name: str) -> p4info_pb2.Table:
        assert self.p4info is not None
        for t in self.p4info.tables:
            if t.preamble.name == name or t.preamble.name.split(".")[-1] == name:
                return t
        raise KeyError(name)

    def action(self, name: str) -> p4info_pb2.Action:
        assert self.p4info is not None
        for a in self.p4info.actions:
            if a.preamble.name == name or a.preamble.name.split(".")[-1] == name:
                return a
        raise KeyError(name)

    def counter_id(self, name: str) -> int:
        assert self.p4info is not None
        for c in list(self.p4info.counters) + list(self.p4info.registers):
            if c.preamble.name == name or c.preamble.name.split(".")[-1] == name:
                return c.preamble.id
        raise KeyError(name)

    def table_entry(self, table: str, match: dict | None = None, action: str | None = None,
                    params: dict | None = None, priority: int = 0, default: bool = False,
                    cookie: bytes = b"") -> p4runtime_pb2.TableEntry:
        t = self.table(table)
        te = p4runtime_pb2.TableEntry(table_id=t.preamble.id, priority=priority,
                                      is_default_action=default, metadata=cookie)
        for fname, spec in (match or {}).items():
            mf = next(m for m in t.match_fields if m.name == fname or m.name.split(".")[-1] == fname)
            fm = te.match.add(field_id=mf.id)
            w = mf.bitwidth
            if mf.match_type == p4info_pb2.MatchField.EXACT:
                fm.exact.value = enc(spec, w)
            elif mf.match_type == p4info_pb2.MatchField.TERNARY:
                fm.ternary.value, fm.ternary.mask = enc(spec[0], w), enc(spec[1], w)
            elif mf.match_type == p4info_pb2.MatchField.LPM:
                fm.lpm.value, fm.lpm.prefix_len = enc(spec[0], w), spec[1]
            elif mf.match_type == p4info_pb2.MatchField.RANGE:
                fm.range.low, fm.range.high = enc(spec[0], w), enc(spec[1], w)
            elif mf.match_type == p4info_pb2.MatchField.OPTIONAL:
                fm.optional.value = enc(spec, w)
        if action is not None:
            a = self.action(action)
            te.action.action.action_id = a.preamble.id
            for pname, value in (params or {}).items():
                p = next(p for p in a.params if p.name == pname)
                te.action.action.params.add(param_id=p.id, value=enc(value, p.bitwidth))
        return te

    def write_request(self, *updates, device_id: int = 0,
                      election_id: tuple[int, int] = (0, 1)) -> p4runtime_pb2.WriteRequest:
        req = p4runtime_pb2.WriteRequest(device_id=device_id)
        req.election_id.high, req.election_id.low = election_id
        for kind, ent in updates:
            u = req.updates.add(type=p4runtime_pb2.Update.Type.Value(kind))
            if isinstance(ent, p4runtime_pb2.TableEntry):
                u.entity.table_entry.CopyFrom(ent)
            else:
                u.entity.CopyFrom(ent)
        return req


class P4RTClient(Names):
    """Just enough P4Runtime for tests: arbitration, pipeline, table/counter writes and reads."""

    def __init__(self, addr: str, device_id: int = 0, election_id: tuple[int, int] = (0, 1)) -> None:
        super().__init__()
        self.channel = grpc.insecure_channel(addr)
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.device_id = device_id
        self.election_id = election_id
        self.out_q: queue.Queue = queue.Queue()
        self.arbitration: queue.Queue = queue.Queue()
        self.packets: queue.Queue = queue.Queue()
        self.notes: queue.Queue = queue.Queue()      # DigestList / IdleTimeoutNotification
        self.stream = self.stub.StreamChannel(iter(self.out_q.get, None))
        self.reader = threading.Thread(target=self._read_stream, daemon=True)
        self.reader.start()
        req = p4runtime_pb2.StreamMessageRequest()
        req.arbitration.device_id = device_id
        req.arbitration.election_id.high, req.arbitration.election_id.low = election_id
        self.out_q.put(req)
        self.arb_reply = self.arbitration.get(timeout=10)

    def _read_stream(self) -> None:
        try:
            for msg in self.stream:
                if msg.HasField("arbitration"):
                    self.arbitration.put(msg.arbitration)
                elif msg.HasField("packet"):
                    self.packets.put(msg.packet)
                elif msg.HasField("digest"):
                    self.notes.put(msg.digest)
                elif msg.HasField("idle_timeout_notification"):
                    self.notes.put(msg.idle_timeout_notification)
        except grpc.RpcError as exc:
            self.arbitration.put(exc)

    def close(self) -> None:
        self.out_q.put(None)
        self.channel.close()

    def digest_ack(self, digest_id: int, list_id: int) -> None:
        req = p4runtime_pb2.StreamMessageRequest()
        req.digest_ack.digest_id, req.digest_ack.list_id = digest_id, list_id
        self.out_q.put(req)

    def note(self, wait: float = 3.0):
        """The next DigestList or IdleTimeoutNotification, or None within `wait` s."""
        try:
            return self.notes.get(timeout=wait)
        except queue.Empty:
            return None

    # ----------------------------------------------------------- pipeline
    def set_pipeline(self, p4info_path: Path, json_path: Path) -> None:
        self.p4info = load_p4info(p4info_path)
        req = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT)
        req.election_id.high, req.election_id.low = self.election_id
        req.config.p4info.CopyFrom(self.p4info)
        req.config.p4_device_config = json_path.read_bytes()
        self.stub.SetForwardingPipelineConfig(req)

    def write(self, *updates: tuple[str, p4runtime_pb2.Entity | p4runtime_pb2.TableEntry]) -> None:
        self.stub.Write(self.write_request(*updates, device_id=self.device_id,
                                           election_id=self.election_id))

    def insert(self, table: str, match: dict, action: str, params: dict | None = None,
               priority: int = 0) -> None:
        self.write(("INSERT", self.table_entry(table, match, action, params, priority)))

    def set_default(self, table: str, action: str, params: dict | None = None) -> None:
        self.write(("MODIFY", self.table_entry(table, None, action, params, default=True)))

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        req.entities.extend(entities)
        return [e for resp in self.stub.Read(req) for e in resp.entities]

    def counter(self, name: str, index: int) -> tuple[int, int]:
        ent = p4runtime_pb2.Entity()
        ent.counter_entry.counter_id = self.counter_id(name)
        ent.counter_entry.index.index = index
        (got,) = self.read(ent)
        return got.counter_entry.data.packet_count, got.counter_entry.data.byte_count

    def direct_counters(self, table: str) -> list[tuple[p4runtime_pb2.TableEntry, int, int]]:
        ent = p4runtime_pb2.Entity()
        ent.direct_counter_entry.table_entry.table_id = self.table(table).preamble.id
        return [(e.direct_counter_entry.table_entry, e.direct_counter_entry.data.packet_count,
                 e.direct_counter_entry.data.byte_count) for e in self.read(ent)]

    def packet_out(self, payload: bytes, metadata: dict[int, bytes] | None = None) -> None:
        req = p4runtime_pb2.StreamMessageRequest()
        req.packet.payload = payload
        for mid, value in (metadata or {}).items():
            req.packet.metadata.add(metadata_id=mid, value=value)
        self.out_q.put(req)


# ------------------------------------------------------------------------------- veth pairs
def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@dataclass
class VethSet:
    """n veth pairs: switch side s<tag>p<i>, test side t<tag>p<i> (names unique per pid and call)."""
    n: int
    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}{next(_counter)}")
    sw: dict[int, str] = field(default_factory=dict)
    host: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            for i in range(1, self.n + 1):
                s, t = f"s{self.tag}p{i}", f"t{self.tag}p{i}"
                sh("ip", "link", "add", s, "type", "veth", "peer", "name", t)
                self.sw[i], self.host[i] = s, t
                for name in (s, t):
                    # No IPv6 on the test links: router/neighbour solicitations would be stray frames.
                    subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1"],
                                   capture_output=True)
                    sh("ip", "link", "set", name, "up")
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for name in self.sw.values():
            subprocess.run(["ip", "link", "del", name], capture_output=True)


class HostPort:
    """Raw socket on the test side of a veth: send a frame, collect what arrives."""

    def __init__(self, iface: str) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.sock.bind((iface, 0))
        self.sock.setsockopt(263, 23, 1)  # PACKET_IGNORE_OUTGOING
        self.sock.setsockopt(263, 8, 1)   # PACKET_AUXDATA: the kernel strips received VLAN tags
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    def recv_frame(self) -> bytes:
        """One frame as it was on the wire (802.1Q/802.1ad tag put back from the auxdata)."""
        from softswitch.ports import AUX_SPACE, TP_STATUS_VLAN_VALID, _with_tag
        data, anc, _, _ = self.sock.recvmsg(1 << 18, AUX_SPACE)
        if anc:
            aux = anc[0][2]
            if aux[0] & TP_STATUS_VLAN_VALID or aux[16] or aux[17]:
                return _with_tag(data, aux)
        return data

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65536)
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def recv_all(self, wait: float) -> list[bytes]:
        """Frames arriving within `wait` seconds of the last one (or of the call)."""
        frames = []
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return frames
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                frames.append(self.recv_frame())

    def close(self) -> None:
        self.sock.close()


# ------------------------------------------------------------------------------- targets
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
        self.log = open(f"/tmp/ss-test-{kind}-{self.grpc_port}.log", "wb")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)
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
        self.log.close()
        return self.proc.returncode


def skip_if_absent(kind: str) -> None:
    import pytest
    if kind == "bmv2" and BMV2 is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH; the softswitch variant of this test ran")


# ------------------------------------------------------------------------- in-process switch
class LocalSwitch(Names):
    """softswitch's Device in this process, with the same API as a Rig plus its P4RTClient.

    Lets the scenario tests run without root: frames go straight through Dataplane.process.
    """

    def __init__(self, cpu_port: int | None = None) -> None:
        super().__init__()
        from softswitch.device import Device
        self.device = Device(0, cpu_port)
        self.notes: queue.Queue = queue.Queue()
        self.device.digests.send = self.notes.put
        self.device.idle_send = self.notes.put
        self.pending: dict[int, list[bytes]] = {}
        self.packet_ins_list: list = []

    # Rig-like
    def load(self, program: tuple[Path, Path]) -> "LocalSwitch":
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

    def insert(self, table: str, match: dict, action: str, params: dict | None = None,
               priority: int = 0) -> None:
        self.write(("INSERT", self.table_entry(table, match, action, params, priority)))

    def set_default(self, table: str, action: str, params: dict | None = None) -> None:
        self.write(("MODIFY", self.table_entry(table, None, action, params, default=True)))

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        req = p4runtime_pb2.ReadRequest(device_id=0)
        req.entities.extend(entities)
        return list(self.device.read(req))

    def counter(self, name: str, index: int) -> tuple[int, int]:
        ent = p4runtime_pb2.Entity()
        ent.counter_entry.counter_id = self.counter_id(name)
        ent.counter_entry.index.index = index
        (got,) = self.read(ent)
        return got.counter_entry.data.packet_count, got.counter_entry.data.byte_count

    def direct_counters(self, table: str) -> list[tuple[p4runtime_pb2.TableEntry, int, int]]:
        ent = p4runtime_pb2.Entity()
        ent.direct_counter_entry.table_entry.table_id = self.table(table).preamble.id
        return [(e.direct_counter_entry.table_entry, e.direct_counter_entry.data.packet_count,
                 e.direct_counter_entry.data.byte_count) for e in self.read(ent)]

    def packet_out(self, payload: bytes, metadata: dict[int, bytes] | None = None) -> None:
        po = p4runtime_pb2.PacketOut(payload=payload)
        for mid, value in (metadata or {}).items():
            po.metadata.add(metadata_id=mid, value=value)
        assert self.device.cpu_port is not None
        self.send(self.device.cpu_port, self.device.packet_out_frame(po))

    def packet_ins(self, wait: float = 0.0) -> list:
        got, self.packet_ins_list = self.packet_ins_list, []
        return got
