"""P4Runtime client on the p4runtime protos + grpcio: connect (arbitrating as primary only
when the session will write), push the pipeline, batched writes with per-update errors,
reads of entries and counters.

Reads need no arbitration (P4Runtime spec §5, "Client Arbitration": only Write and
SetForwardingPipelineConfig are restricted to the primary), so a read-only session opens no
StreamChannel and can never demote a writer.

One object per switch (no module globals), so one process can drive several switches --
p4runtime-shell's shell cannot (its issue #48), and its client calls sys.exit on errors.
"""
from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import text_format
from google.rpc import code_pb2, status_pb2
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from controller.errors import ControllerError, StateError, SwitchUnreachable

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE
UPDATE_NAMES = {INSERT: "INSERT", MODIFY: "MODIFY", DELETE: "DELETE"}
DEFAULT_BATCH = 1000
# gRPC's default limit on received metadata is 16 KiB; a failed Write returns one p4.v1.Error
# per update in the grpc-status-details-bin trailer (P4Runtime spec §12.3), ~35 bytes each, so
# past ~460 updates the details were dropped. 64 MiB covers a million updates.
MAX_METADATA = 64 << 20
CHANNEL_OPTIONS = [("grpc.max_send_message_length", 64 << 20),
                   ("grpc.max_receive_message_length", 64 << 20),
                   ("grpc.max_metadata_size", MAX_METADATA),
                   ("grpc.absolute_max_metadata_size", MAX_METADATA)]
# Fault injection for tests (and for users who want to watch the rollback): the N-th INSERT
# (0-based) this client sends is made invalid, so the switch itself rejects it mid-batch.
INJECT_ENV = "FDIRCTL_INJECT_FAIL"
_BAD_TABLE_ID = 0x02FFFFFF


def code_name(code: int) -> str:
    try:
        name: str = code_pb2.Code.Name(code)
        return name
    except ValueError:
        return str(code)


@dataclass
class UpdateError:
    index: int              # position in the caller's list of updates
    code: str
    message: str


class P4RuntimeWriteError(ControllerError):
    """A Write that failed in whole or part. `failed` are the updates the switch rejected;
    `applied` the indexes known to have taken effect (None when the switch gave no details)."""

    def __init__(self, message: str, failed: list[UpdateError], applied: set[int] | None) -> None:
        super().__init__(message)
        self.failed = failed
        self.applied = applied


def pipeline_cookie(p4info: p4info_pb2.P4Info, device_config: bytes) -> int:
    """A 64-bit cookie naming this exact program, so reconcile can tell whether a switch
    already runs it without comparing whole configs."""
    h = hashlib.sha256(p4info.SerializeToString(deterministic=True) + device_config).digest()
    return int.from_bytes(h[:8], "big") & 0x7FFFFFFFFFFFFFFF


class P4RTClient:
    """A P4Runtime session with one switch (device)."""

    def __init__(self, grpc_addr: str, device_id: int = 1, election_id: int | None = None,
                 timeout: float = 5.0) -> None:
        self.grpc_addr = grpc_addr
        self.device_id = device_id
        # Newest controller wins: a restarted fdirctl must become primary even while an old
        # session has not yet been torn down by the switch.
        self.election_id = election_id if election_id is not None else time.time_ns() // 1000
        self.timeout = timeout
        self.channel: grpc.Channel | None = None
        self.stub: p4runtime_pb2_grpc.P4RuntimeStub | None = None
        self.is_primary = False
        self._out: queue.Queue[p4runtime_pb2.StreamMessageRequest | None] = queue.Queue()
        self._arb: queue.Queue[Any] = queue.Queue()         # arbitration updates, or the stream's RpcError
        self._stream: Any = None                            # the StreamChannel call
        self._thread: threading.Thread | None = None
        inj = os.environ.get(INJECT_ENV)
        self.inject_fail_at: int | None = int(inj) if inj and inj.isdigit() else None
        self._inserts_sent = 0

    # --- session -----------------------------------------------------------------------
    def connect(self, require_primary: bool = True, arbitrate: bool = True) -> P4RTClient:
        """Open the channel; with `arbitrate` also the StreamChannel, asking to be primary
        (needed to write). arbitrate=False: a read-only session, invisible to arbitration."""
        opts = CHANNEL_OPTIONS
        self.channel = grpc.insecure_channel(self.grpc_addr, options=opts)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        # A Capabilities call that waits for the connection (grpc.channel_ready_future would
        # do too, but leaves a poller that makes channel.close() take 0.2 s).
        try:
            self.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=self.timeout,
                                   wait_for_ready=True)
        except grpc.RpcError as e:
            self.close()
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise SwitchUnreachable(f"switch {self.grpc_addr} unreachable: no P4Runtime server answered "
                                        f"within {self.timeout:g}s") from None
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise SwitchUnreachable(f"switch {self.grpc_addr} unreachable: {e.code().name}: "
                                        f"{e.details()}") from None
            self.channel = grpc.insecure_channel(self.grpc_addr, options=opts)
            self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        if not arbitrate:
            return self

        def requests() -> Iterator[p4runtime_pb2.StreamMessageRequest]:
            while True:
                item = self._out.get()
                if item is None:
                    return
                yield item

        self._stream = self.stub.StreamChannel(requests())

        def receive() -> None:
            try:
                for msg in self._stream:
                    if msg.HasField("arbitration"):
                        self._arb.put(msg.arbitration)
            except grpc.RpcError as e:
                self._arb.put(e)

        self._thread = threading.Thread(target=receive, daemon=True, name=f"p4rt-{self.grpc_addr}")
        self._thread.start()
        req = p4runtime_pb2.StreamMessageRequest()
        req.arbitration.device_id = self.device_id
        req.arbitration.election_id.high = self.election_id >> 64
        req.arbitration.election_id.low = self.election_id & ((1 << 64) - 1)
        self._out.put(req)
        try:
            rep = self._arb.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            raise SwitchUnreachable(
                f"switch {self.grpc_addr}: no arbitration answer within {self.timeout:g}s") from None
        if isinstance(rep, grpc.RpcError):
            self.close()
            raise SwitchUnreachable(f"switch {self.grpc_addr} device {self.device_id}: "
                                    f"{rep.code().name}: {rep.details()}") from None
        self.is_primary = rep.status.code == code_pb2.OK
        if require_primary and not self.is_primary:
            self.close()
            raise SwitchUnreachable(f"switch {self.grpc_addr}: another controller is primary "
                                    f"(election id {self.election_id} lost)")
        return self

    def close(self) -> None:
        self._out.put(None)
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def __enter__(self) -> P4RTClient:
        return self if self.stub else self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _live_stub(self) -> p4runtime_pb2_grpc.P4RuntimeStub:
        if self.stub is None:
            raise SwitchUnreachable(f"switch {self.grpc_addr}: not connected")
        return self.stub

    def _election(self, msg: Any) -> None:
        msg.election_id.high = self.election_id >> 64
        msg.election_id.low = self.election_id & ((1 << 64) - 1)

    def _rpc_error(self, what: str, e: grpc.RpcError) -> ControllerError:
        if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return SwitchUnreachable(f"switch {self.grpc_addr}: {what}: {e.code().name}: {e.details()}")
        return StateError(f"switch {self.grpc_addr}: {what}: {e.code().name}: {e.details()}")

    # --- pipeline ------------------------------------------------------------------------
    def get_pipeline(self) -> tuple[p4info_pb2.P4Info | None, int | None]:
        """(P4Info, cookie) of the running pipeline; (None, None) when none is set."""
        req = p4runtime_pb2.GetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            response_type=p4runtime_pb2.GetForwardingPipelineConfigRequest.P4INFO_AND_COOKIE)
        try:
            rep = self._live_stub().GetForwardingPipelineConfig(req, timeout=self.timeout)
        except grpc.RpcError as e:
            if e.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                return None, None
            raise self._rpc_error("get pipeline", e) from None
        cfg = rep.config
        if not cfg.HasField("p4info") or not cfg.p4info.tables:
            return None, None
        cookie = cfg.cookie.cookie if cfg.HasField("cookie") else None
        return cfg.p4info, cookie

    def set_pipeline(self, p4info: p4info_pb2.P4Info, device_config: bytes, cookie: int | None = None) -> None:
        """VERIFY_AND_COMMIT: the switch drops every entry and runs the program from scratch."""
        req = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT)
        self._election(req)
        req.config.p4info.CopyFrom(p4info)
        req.config.p4_device_config = device_config
        req.config.cookie.cookie = pipeline_cookie(p4info, device_config) if cookie is None else cookie
        try:
            self._live_stub().SetForwardingPipelineConfig(req, timeout=max(self.timeout, 30))
        except grpc.RpcError as e:
            raise self._rpc_error("set pipeline", e) from None

    # --- write ---------------------------------------------------------------------------
    def write(self, updates: list[tuple[int, Any]], batch_size: int = DEFAULT_BATCH,
              fill: Callable[[p4runtime_pb2.TableEntry, Any], object] | None = None) -> None:
        """Write (type, item) updates in batches, in order; item is a TableEntry, or anything
        `fill(table_entry, item)` writes into the request's own entry. On the first batch with
        a failure, stop and raise P4RuntimeWriteError naming every failed update (indexes into
        `updates`) and which ones were applied, so the caller can undo exactly those."""
        applied: set[int] = set()

        def build(start: int) -> p4runtime_pb2.WriteRequest:
            req = p4runtime_pb2.WriteRequest(device_id=self.device_id)
            self._election(req)
            for typ, item in updates[start:start + batch_size]:
                u = req.updates.add()
                u.type = typ
                if fill is None:
                    u.entity.table_entry.CopyFrom(item)
                else:
                    fill(u.entity.table_entry, item)
                if typ == INSERT:
                    if self.inject_fail_at is not None and self._inserts_sent == self.inject_fail_at:
                        u.entity.table_entry.table_id = _BAD_TABLE_ID
                        self.inject_fail_at = None
                    self._inserts_sent += 1
            return req

        # Strictly sequential: one Write in flight, in order (filters reach the switch
        # before the address becomes LB-owned; deletes before inserts in reconcile).
        for start in range(0, len(updates), batch_size):
            req = build(start)
            n = len(req.updates)
            try:
                self._live_stub().Write(req, timeout=max(self.timeout, 60))
            except grpc.RpcError as e:
                failed, ok_in_chunk = self._parse_write_error(e, n)
                for f in failed:
                    f.index += start
                chunk_applied = None if ok_in_chunk is None else {start + i for i in ok_in_chunk}
                first = failed[0] if failed else UpdateError(start, e.code().name, e.details() or "")
                if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise P4RuntimeWriteError(f"switch {self.grpc_addr} unreachable during write: "
                                              f"{e.code().name}", failed or [first], None) from None
                msg = f"update {first.index} rejected: {first.code}: {first.message}"
                raise P4RuntimeWriteError(msg, failed or [first],
                                          None if chunk_applied is None else applied | chunk_applied) from None
            applied.update(range(start, start + n))

    @staticmethod
    def _parse_write_error(e: grpc.RpcError, n: int) -> tuple[list[UpdateError], set[int] | None]:
        """Per-update errors from grpc-status-details-bin (P4Runtime spec 12.3)."""
        status = None
        metadata: Any = e.trailing_metadata() or ()         # (key, value) pairs (grpc.Call)
        for k, v in metadata:
            if k == "grpc-status-details-bin":
                status = status_pb2.Status()
                status.ParseFromString(v)
        if status is None or len(status.details) != n:
            return [UpdateError(0, e.code().name, e.details() or "")], None
        failed, ok = [], set()
        for i, anyv in enumerate(status.details):
            err = p4runtime_pb2.Error()
            anyv.Unpack(err)
            if err.canonical_code == code_pb2.OK:
                ok.add(i)
            else:
                failed.append(UpdateError(i, code_name(err.canonical_code), err.message))
        return failed, ok

    # --- read ----------------------------------------------------------------------------
    def read(self, entities: Iterable[p4runtime_pb2.Entity]) -> Iterator[p4runtime_pb2.Entity]:
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        req.entities.extend(entities)
        try:
            for rep in self._live_stub().Read(req, timeout=max(self.timeout, 60)):
                yield from rep.entities
        except grpc.RpcError as e:
            raise self._rpc_error("read", e) from None

    def read_table_entries(self, entities: list[p4runtime_pb2.Entity]) -> list[p4runtime_pb2.TableEntry]:
        return [e.table_entry for e in self.read(entities) if e.HasField("table_entry")]

    def read_counter(self, counter_id: int) -> dict[int, tuple[int, int]]:
        """Every cell of an indirect counter: index -> (packets, bytes)."""
        ent = p4runtime_pb2.Entity()
        ent.counter_entry.counter_id = counter_id
        out = {}
        for e in self.read([ent]):
            ce = e.counter_entry
            out[ce.index.index] = (ce.data.packet_count, ce.data.byte_count)
        return out


def load_device_config(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise StateError(f"program {str(path)!r}: {e.strerror or e}") from None


def load_p4info_text(path: str | Path) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    try:
        text_format.Merge(Path(path).read_text(), info, allow_unknown_field=True)
    except OSError as e:
        raise StateError(f"P4Info {str(path)!r}: {e.strerror or e}") from None
    return info
