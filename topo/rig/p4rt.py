"""A small P4Runtime client for tests and benchmarks: P4Info names to entities, arbitration,
pipeline, table and counter writes and reads, packet-out (P4Runtime spec v1.3).

It is deliberately independent of controller/p4rt_client.py: tests of the controller and of
the switches must not share the code under test.
"""
from __future__ import annotations

import queue
import socket
import threading
from pathlib import Path

import grpc
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc


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

    # Built on the subclass's write() and read() (gRPC client or in-process switch).
    def write(self, *updates: tuple[str, p4runtime_pb2.Entity | p4runtime_pb2.TableEntry]) -> None:
        raise NotImplementedError

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        raise NotImplementedError

    def insert(self, table: str, match: dict, action: str, params: dict | None = None,
               priority: int = 0) -> None:
        self.write(("INSERT", self.table_entry(table, match, action, params, priority)))

    def set_default(self, table: str, action: str, params: dict | None = None) -> None:
        self.write(("MODIFY", self.table_entry(table, None, action, params, default=True)))

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

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        req.entities.extend(entities)
        return [e for resp in self.stub.Read(req) for e in resp.entities]

    def packet_out(self, payload: bytes, metadata: dict[int, bytes] | None = None) -> None:
        req = p4runtime_pb2.StreamMessageRequest()
        req.packet.payload = payload
        for mid, value in (metadata or {}).items():
            req.packet.metadata.add(metadata_id=mid, value=value)
        self.out_q.put(req)
