"""The P4Runtime server under many open StreamChannels (issue 11 point 2), and Write updates whose
type is not in the enum. Real gRPC, no root.
"""
from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from p4.v1 import p4runtime_pb2
from ss_helpers import P4RTClient, free_port

from softswitch.device import Device
from softswitch.p4runtime_server import serve

IDLE_CLIENTS = 200


@pytest.fixture
def server_and_service():
    device = Device(device_id=0)
    addr = f"127.0.0.1:{free_port()}"
    srv, service = serve(device, addr, inject=lambda frame: None)
    yield addr, service
    srv.stop(0)


def test_200_idle_streams_do_not_block_a_new_client(server_and_service, features_program):
    addr, service = server_and_service
    idle = []
    try:
        for i in range(IDLE_CLIENTS):
            c = P4RTClient(addr, election_id=(0, i + 1))     # arbitration done, then idle
            assert c.arb_reply is not None and not isinstance(c.arb_reply, grpc.RpcError)
            idle.append(c)
        assert service.open_streams == IDLE_CLIENTS
        new = P4RTClient(addr, election_id=(0, 10_000))     # the new primary
        try:
            assert new.arb_reply.status.code == 0
            new.set_pipeline(*features_program)
            new.insert("t_exact", {"hdr.eth.dst": 5}, "fwd", {"port": 1})
            ent = p4runtime_pb2.Entity()
            ent.table_entry.table_id = new.table("t_exact").preamble.id
            got = new.stub.Read(p4runtime_pb2.ReadRequest(device_id=0, entities=[ent]), timeout=5)
            assert sum(len(r.entities) for r in got) == 1
            assert service.open_streams == IDLE_CLIENTS + 1
        finally:
            new.close()
    finally:
        for c in idle:
            c.close()


def test_stream_limit_is_refused_by_name(features_program):
    device = Device(device_id=0)
    addr = f"127.0.0.1:{free_port()}"
    srv, _ = serve(device, addr, inject=lambda frame: None, max_streams=2)
    clients = []
    try:
        clients = [P4RTClient(addr, election_id=(0, i + 1)) for i in range(2)]
        extra = P4RTClient(addr, election_id=(0, 9))
        try:
            assert isinstance(extra.arb_reply, grpc.RpcError)
            assert extra.arb_reply.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "at most 2" in extra.arb_reply.details()
            # unary RPCs are still served with every stream slot taken
            extra.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=5)
        finally:
            extra.close()
        clients[1].set_pipeline(*features_program)
    finally:
        for c in clients:
            c.close()
        srv.stop(0)


@pytest.mark.parametrize("utype", [4, 99])
def test_update_type_outside_the_enum_is_an_error(server_and_service, features_program, utype):
    addr, _ = server_and_service
    c = P4RTClient(addr)
    try:
        c.set_pipeline(*features_program)
        good = c.table_entry("t_exact", {"hdr.eth.dst": 1}, "fwd", {"port": 1})
        bad = c.table_entry("t_exact", {"hdr.eth.dst": 2}, "fwd", {"port": 1})
        req = c.write_request(("INSERT", good), ("INSERT", bad))
        req.updates[1].type = utype
        with pytest.raises(grpc.RpcError) as info:
            c.stub.Write(req)
        assert info.value.code() == grpc.StatusCode.UNKNOWN
        md = dict(info.value.trailing_metadata())
        status = status_pb2.Status.FromString(md["grpc-status-details-bin"])
        errs = []
        for d in status.details:
            e = p4runtime_pb2.Error()
            assert d.Unpack(e)
            errs.append((e.canonical_code, e.message))
        assert errs[0][0] == code_pb2.OK
        assert errs[1][0] == code_pb2.INVALID_ARGUMENT and str(utype) in errs[1][1]
        ent = p4runtime_pb2.Entity()
        ent.table_entry.table_id = c.table("t_exact").preamble.id
        assert len(c.read(ent)) == 1                              # only the valid update applied
    finally:
        c.close()
