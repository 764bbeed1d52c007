"""An in-process fake P4Runtime server (dict store, PI-like per-update errors) so the client
and fdirctl logic can be tested without a compiled program; the real targets come on top."""
from __future__ import annotations

import threading
from concurrent import futures

import grpc
from google.rpc import code_pb2, status_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc


def _norm(b: bytes) -> bytes:
    return b.lstrip(b"\x00") or b"\x00"


class FakeP4Runtime(p4runtime_pb2_grpc.P4RuntimeServicer):
    def __init__(self, device_id: int = 1) -> None:
        self.device_id = device_id
        self.lock = threading.Lock()
        self.config: p4runtime_pb2.ForwardingPipelineConfig | None = None
        self.entries: dict[tuple, p4runtime_pb2.TableEntry] = {}
        self.defaults: dict[int, p4runtime_pb2.TableEntry] = {}
        self.primary: int = -1

    def _key(self, te: p4runtime_pb2.TableEntry) -> tuple:
        ms: list[tuple[int, bytes] | tuple[int, bytes, bytes]] = []
        for m in sorted(te.match, key=lambda m: m.field_id):
            if m.HasField("exact"):
                ms.append((m.field_id, _norm(m.exact.value)))
            else:
                ms.append((m.field_id, _norm(m.ternary.value), _norm(m.ternary.mask)))
        return (te.table_id, tuple(ms), te.priority)

    # --- RPCs -----------------------------------------------------------------------------
    def StreamChannel(self, request_iterator, context):
        for req in request_iterator:
            if req.HasField("arbitration"):
                eid = (req.arbitration.election_id.high << 64) | req.arbitration.election_id.low
                with self.lock:
                    if eid >= self.primary:
                        self.primary = eid
                    ok = eid == self.primary
                rep = p4runtime_pb2.StreamMessageResponse()
                rep.arbitration.CopyFrom(req.arbitration)
                rep.arbitration.status.code = code_pb2.OK if ok else code_pb2.ALREADY_EXISTS
                yield rep

    def SetForwardingPipelineConfig(self, request, context):
        with self.lock:
            self.config = request.config
            self.entries.clear()
            self.defaults.clear()
        return p4runtime_pb2.SetForwardingPipelineConfigResponse()

    def GetForwardingPipelineConfig(self, request, context):
        rep = p4runtime_pb2.GetForwardingPipelineConfigResponse()
        if self.config is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no pipeline")
        rep.config.p4info.CopyFrom(self.config.p4info)
        rep.config.cookie.CopyFrom(self.config.cookie)
        return rep

    def Write(self, request, context):
        errs = []
        tables = {t.preamble.id for t in self.config.p4info.tables} if self.config else set()
        with self.lock:
            for u in request.updates:
                te = u.entity.table_entry
                code, msg = code_pb2.OK, ""
                if te.table_id not in tables:
                    code, msg = code_pb2.NOT_FOUND, f"unknown table id {te.table_id}"
                elif te.is_default_action:
                    self.defaults[te.table_id] = te
                else:
                    k = self._key(te)
                    if u.type == p4runtime_pb2.Update.INSERT:
                        if k in self.entries:
                            code, msg = code_pb2.ALREADY_EXISTS, "entry exists"
                        else:
                            self.entries[k] = te
                    elif u.type == p4runtime_pb2.Update.MODIFY:
                        if k not in self.entries:
                            code, msg = code_pb2.NOT_FOUND, "no such entry"
                        else:
                            self.entries[k] = te
                    else:
                        if self.entries.pop(k, None) is None:
                            code, msg = code_pb2.NOT_FOUND, "no such entry"
                errs.append((code, msg))
        if any(c != code_pb2.OK for c, _ in errs):
            st = status_pb2.Status(code=code_pb2.UNKNOWN, message="write failed")
            for c, m in errs:
                st.details.add().Pack(p4runtime_pb2.Error(canonical_code=c, message=m))
            context.abort_with_status(_RichStatus(st))
        return p4runtime_pb2.WriteResponse()

    def Read(self, request, context):
        rep = p4runtime_pb2.ReadResponse()
        with self.lock:
            for ent in request.entities:
                q = ent.table_entry
                if q.is_default_action:
                    if q.table_id in self.defaults:
                        rep.entities.add().table_entry.CopyFrom(self.defaults[q.table_id])
                    continue
                for te in self.entries.values():
                    if q.table_id in (0, te.table_id):
                        out = rep.entities.add().table_entry
                        out.CopyFrom(te)
                        if q.HasField("counter_data"):
                            out.counter_data.SetInParent()
        yield rep

    def Capabilities(self, request, context):
        return p4runtime_pb2.CapabilitiesResponse(p4runtime_api_version="1.4.1")


class _RichStatus(grpc.Status):
    def __init__(self, st: status_pb2.Status) -> None:
        self.code = grpc.StatusCode.UNKNOWN
        self.details = st.message
        self.trailing_metadata = (("grpc-status-details-bin", st.SerializeToString()),)


class FakeSwitch:
    """Serve FakeP4Runtime on a free localhost port."""

    def __init__(self) -> None:
        self.servicer = FakeP4Runtime()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        p4runtime_pb2_grpc.add_P4RuntimeServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.addr = f"127.0.0.1:{self.port}"
        self.device_id = 1
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0)

    def restart(self) -> None:
        """Like a switch restart: the program and every entry are gone."""
        with self.servicer.lock:
            self.servicer.config = None
            self.servicer.entries.clear()
            self.servicer.defaults.clear()
