"""P4Runtime semantics over real gRPC (no root): errors as the spec and PI/BMv2 give them,
Read wildcards, cookies, counters, arbitration, pipeline config actions, unsupported constructs.
"""
from __future__ import annotations

import json

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from p4.v1 import p4runtime_pb2
from ss_helpers import P4RTClient, enc, free_port, load_p4info

from softswitch.device import Device
from softswitch.p4runtime_server import serve

SFP = p4runtime_pb2.SetForwardingPipelineConfigRequest


@pytest.fixture
def server():
    device = Device(device_id=0)
    addr = f"127.0.0.1:{free_port()}"
    srv, _ = serve(device, addr, inject=lambda frame: None)
    yield addr
    srv.stop(0)


@pytest.fixture
def client(server, features_program):
    c = P4RTClient(server)
    c.set_pipeline(*features_program)
    yield c
    c.close()


def write_errors(c: P4RTClient, *updates) -> list[tuple[int, str]]:
    """Per-update (code, message) from a failed Write, decoded as p4runtime-shell does."""
    with pytest.raises(grpc.RpcError) as info:
        c.write(*updates)
    err = info.value
    assert err.code() == grpc.StatusCode.UNKNOWN
    md = dict(err.trailing_metadata())
    status = status_pb2.Status.FromString(md["grpc-status-details-bin"])
    out = []
    for d in status.details:
        e = p4runtime_pb2.Error()
        assert d.Unpack(e)
        out.append((e.canonical_code, e.message))
    return out


def code_of(c: P4RTClient, *updates) -> int:
    errs = write_errors(c, *updates)
    assert len(errs) == len(updates)
    return errs[0][0]


def test_failed_precondition_before_pipeline(server):
    c = P4RTClient(server)
    with pytest.raises(grpc.RpcError) as info:
        c.stub.Write(p4runtime_pb2.WriteRequest(device_id=0, election_id=p4runtime_pb2.Uint128(low=1)))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as info:
        list(c.stub.Read(p4runtime_pb2.ReadRequest(device_id=0, entities=[p4runtime_pb2.Entity()])))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    c.close()


def test_insert_read_modify_delete_with_cookie(client):
    te = client.table_entry("t_tern", {"hdr.probe.c": (0x0A000000, 0xFF000000)}, "fwd", {"port": 3},
                            priority=7, cookie=b"hand-made")
    client.write(("INSERT", te))
    assert code_of(client, ("INSERT", te)) == code_pb2.ALREADY_EXISTS
    ent = p4runtime_pb2.Entity()
    ent.table_entry.table_id = 0                                   # wildcard: all tables
    every = [e.table_entry for e in client.read(ent)]
    assert len(every) == 3                                         # ours + t_const's two (as BMv2)
    got = [e for e in every if e.table_id == te.table_id]
    assert len(got) == 1
    assert got[0].metadata == b"hand-made" and got[0].priority == 7
    assert got[0].match[0].ternary.value == b"\x0a\x00\x00\x00"    # canonical: no padding needed
    te.action.action.params[0].value = enc(1, 9)
    client.write(("MODIFY", te))
    ent.table_entry.table_id = te.table_id
    (got,) = [e.table_entry for e in client.read(ent)]
    assert got.action.action.params[0].value == b"\x01"
    client.write(("DELETE", te))
    assert client.read(ent) == []
    assert code_of(client, ("DELETE", te)) == code_pb2.NOT_FOUND
    assert code_of(client, ("MODIFY", te)) == code_pb2.NOT_FOUND


def test_batch_reports_each_update(client):
    ok = client.table_entry("t_exact", {"hdr.eth.dst": 1}, "fwd", {"port": 1})
    bad = client.table_entry("t_exact", {"hdr.eth.dst": 2}, "fwd", {"port": 1})
    bad.match[0].exact.value = b"\x01" * 7                         # 56 bits into a 48-bit field
    errs = write_errors(client, ("INSERT", ok), ("INSERT", bad))
    assert [e[0] for e in errs] == [code_pb2.OK, code_pb2.INVALID_ARGUMENT]
    assert "48 bits" in errs[1][1]


@pytest.mark.parametrize("mutate", [
    "mask_too_wide", "value_outside_mask", "no_priority", "unknown_table", "unknown_action",
    "action_not_in_table", "missing_param", "lpm_bits_beyond_prefix", "range_inverted",
    "missing_exact", "priority_on_exact", "zero_mask",
])
def test_invalid_argument(client, mutate):
    te = client.table_entry("t_tern", {"hdr.probe.c": (0x0A000000, 0xFF000000)}, "fwd", {"port": 3},
                            priority=7)
    if mutate == "mask_too_wide":
        te.match[0].ternary.mask = b"\x01" + b"\xff" * 4
    elif mutate == "value_outside_mask":
        te.match[0].ternary.value = b"\x0a\x00\x00\x01"
    elif mutate == "no_priority":
        te.priority = 0
    elif mutate == "unknown_table":
        te.table_id = 12345
    elif mutate == "unknown_action":
        te.action.action.action_id = 999
    elif mutate == "action_not_in_table":
        te.action.action.action_id = client.action("fwd_lpm").preamble.id
    elif mutate == "missing_param":
        del te.action.action.params[:]
    elif mutate == "lpm_bits_beyond_prefix":
        te = client.table_entry("t_lpm", {"hdr.probe.b": (0x0A000001, 8)}, "fwd_lpm", {"port": 1})
    elif mutate == "range_inverted":
        te = client.table_entry("t_range", {"hdr.probe.a": (9, 3), "hdr.probe.flags": 1}, "fwd",
                                {"port": 1}, priority=1)
    elif mutate == "missing_exact":
        te = client.table_entry("t_exact", {}, "fwd", {"port": 1})
    elif mutate == "priority_on_exact":
        te = client.table_entry("t_exact", {"hdr.eth.dst": 5}, "fwd", {"port": 1}, priority=3)
    elif mutate == "zero_mask":
        te.match[0].ternary.mask = b"\x00"
        te.match[0].ternary.value = b"\x00"
    assert code_of(client, ("INSERT", te)) == code_pb2.INVALID_ARGUMENT


def test_default_action_rules(client):
    d = client.table_entry("t_lpm", None, "drop", default=True)
    client.write(("MODIFY", d))
    ent = p4runtime_pb2.Entity()
    ent.table_entry.table_id = d.table_id
    ent.table_entry.is_default_action = True
    (got,) = client.read(ent)
    assert got.table_entry.action.action.action_id == client.action("drop").preamble.id
    assert code_of(client, ("INSERT", d)) == code_pb2.INVALID_ARGUMENT
    assert code_of(client, ("DELETE", d)) == code_pb2.INVALID_ARGUMENT
    # const entries: the table cannot be written
    const = client.table_entry("t_const", {"hdr.probe.flags": 1}, "set_a", {"v": 1})
    assert code_of(client, ("INSERT", const)) != code_pb2.OK


def test_counter_reads_with_wildcards(client):
    ent = p4runtime_pb2.Entity()
    ent.counter_entry.counter_id = client.counter_id("op_counter")
    got = client.read(ent)
    assert [e.counter_entry.index.index for e in got] == list(range(16))
    ent.counter_entry.counter_id = 0
    assert len(client.read(ent)) == 16                              # all indirect counters
    ent.counter_entry.counter_id = client.counter_id("op_counter")
    ent.counter_entry.index.index = 16
    with pytest.raises(grpc.RpcError) as info:
        client.read(ent)
    assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
    upd = p4runtime_pb2.Entity()
    upd.counter_entry.counter_id = client.counter_id("op_counter")
    upd.counter_entry.index.index = 3
    upd.counter_entry.data.packet_count = 42
    client.write(("MODIFY", upd))
    assert client.counter("op_counter", 3)[0] == 42


def test_register_read_write(client):
    ent = p4runtime_pb2.Entity()
    ent.register_entry.register_id = client.counter_id("regs")
    ent.register_entry.index.index = 2
    ent.register_entry.data.bitstring = b"\x07"
    client.write(("MODIFY", ent))
    q = p4runtime_pb2.Entity()
    q.register_entry.register_id = ent.register_entry.register_id
    got = client.read(q)
    assert len(got) == 8 and got[2].register_entry.data.bitstring == b"\x07"


def test_arbitration_primary_and_backup(server, features_program):
    primary = P4RTClient(server, election_id=(0, 10))
    assert primary.arb_reply.status.code == code_pb2.OK
    backup = P4RTClient(server, election_id=(0, 5))
    assert backup.arb_reply.status.code == code_pb2.ALREADY_EXISTS
    assert (backup.arb_reply.election_id.high, backup.arb_reply.election_id.low) == (0, 10)
    primary.set_pipeline(*features_program)
    backup.p4info = primary.p4info
    with pytest.raises(grpc.RpcError) as info:
        backup.insert("t_exact", {"hdr.eth.dst": 1}, "fwd", {"port": 1})
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as info:
        backup.set_pipeline(*features_program)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    primary.close()
    update = backup.arbitration.get(timeout=5)                      # promoted when the primary leaves
    assert update.status.code == code_pb2.OK
    backup.insert("t_exact", {"hdr.eth.dst": 1}, "fwd", {"port": 1})
    backup.close()


def test_pipeline_actions_and_get(server, features_program):
    c = P4RTClient(server)
    p4info_path, json_path = features_program
    req = SFP(device_id=0, action=SFP.VERIFY, election_id=p4runtime_pb2.Uint128(low=1))
    req.config.p4info.CopyFrom(load_p4info(p4info_path))
    req.config.p4_device_config = json_path.read_bytes()
    c.stub.SetForwardingPipelineConfig(req)                         # verify only: nothing set
    with pytest.raises(grpc.RpcError) as info:
        c.stub.GetForwardingPipelineConfig(p4runtime_pb2.GetForwardingPipelineConfigRequest(device_id=0))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    req.action = SFP.VERIFY_AND_COMMIT
    req.config.cookie.cookie = 77
    c.stub.SetForwardingPipelineConfig(req)
    got = c.stub.GetForwardingPipelineConfig(p4runtime_pb2.GetForwardingPipelineConfigRequest(
        device_id=0, response_type=p4runtime_pb2.GetForwardingPipelineConfigRequest.ALL))
    assert got.config.cookie.cookie == 77
    assert got.config.p4_device_config == json_path.read_bytes()
    assert len(got.config.p4info.tables) == len(req.config.p4info.tables)
    req.action = SFP.COMMIT
    with pytest.raises(grpc.RpcError) as info:                      # nothing saved to commit
        c.stub.SetForwardingPipelineConfig(req)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    c.p4info = req.config.p4info
    c.insert("t_exact", {"hdr.eth.dst": 1}, "fwd", {"port": 1})
    ent = p4runtime_pb2.Entity()
    ent.table_entry.table_id = c.table("t_exact").preamble.id
    req.action = SFP.VERIFY_AND_SAVE                                 # saved; the running one stays
    req.config.cookie.cookie = 88
    c.stub.SetForwardingPipelineConfig(req)
    got = c.stub.GetForwardingPipelineConfig(p4runtime_pb2.GetForwardingPipelineConfigRequest(device_id=0))
    assert got.config.cookie.cookie == 77
    assert len(c.read(ent)) == 1
    commit = SFP(device_id=0, action=SFP.COMMIT, election_id=p4runtime_pb2.Uint128(low=1))
    c.stub.SetForwardingPipelineConfig(commit)                       # now running, state cleared
    got = c.stub.GetForwardingPipelineConfig(p4runtime_pb2.GetForwardingPipelineConfigRequest(device_id=0))
    assert got.config.cookie.cookie == 88
    assert len(c.read(ent)) == 0
    with pytest.raises(grpc.RpcError) as info:                      # the saved config is used up
        c.stub.SetForwardingPipelineConfig(commit)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    req.action = 9                                                   # not in the enum
    with pytest.raises(grpc.RpcError) as info:
        c.stub.SetForwardingPipelineConfig(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    c.close()


@pytest.mark.parametrize("patch,needle", [
    (lambda j: j.__setitem__("extern_instances", [{"name": "x0", "id": 0, "type": "my_extern",
                                                    "attribute_values": []}]), "my_extern"),
    (lambda j: j["actions"][0]["primitives"].append({"op": "no_such_primitive",
                                                     "parameters": []}), "no_such_primitive"),
    (lambda j: j["calculations"][0].__setitem__("algo", "toeplitz"), "toeplitz"),
])
def test_unsupported_constructs_refused_by_name(server, features_program, tmp_path, patch, needle):
    c = P4RTClient(server)
    p4info_path, json_path = features_program
    j = json.loads(json_path.read_text())
    patch(j)
    patched = tmp_path / "patched.json"
    patched.write_text(json.dumps(j))
    with pytest.raises(grpc.RpcError) as info:
        c.set_pipeline(p4info_path, patched)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert needle in info.value.details()
    c.close()


def test_capabilities(client):
    assert client.stub.Capabilities(p4runtime_pb2.CapabilitiesRequest()).p4runtime_api_version


def test_reconcile_and_commit_keeps_entries_and_counters(client, features_program):
    client.insert("t_exact", {"hdr.eth.dst": 7}, "fwd", {"port": 1})
    upd = p4runtime_pb2.Entity()
    upd.counter_entry.counter_id = client.counter_id("op_counter")
    upd.counter_entry.index.index = 1
    upd.counter_entry.data.packet_count = 9
    client.write(("MODIFY", upd))
    p4info_path, json_path = features_program
    req = SFP(device_id=0, action=SFP.RECONCILE_AND_COMMIT, election_id=p4runtime_pb2.Uint128(low=1))
    req.config.p4info.CopyFrom(load_p4info(p4info_path))
    req.config.p4_device_config = json_path.read_bytes()
    client.stub.SetForwardingPipelineConfig(req)
    ent = p4runtime_pb2.Entity()
    ent.table_entry.table_id = client.table("t_exact").preamble.id
    assert len(client.read(ent)) == 1
    assert client.counter("op_counter", 1)[0] == 9


def test_wrong_device_id(server, client):
    other = P4RTClient.__new__(P4RTClient)
    try:
        P4RTClient.__init__(other, server, device_id=5)
        reply = other.arb_reply
    finally:
        other.close()
    assert isinstance(reply, grpc.RpcError) and reply.code() == grpc.StatusCode.NOT_FOUND
    req = client.write_request(("INSERT", client.table_entry("t_exact", {"hdr.eth.dst": 1}, "fwd",
                                                             {"port": 1})), device_id=5)
    with pytest.raises(grpc.RpcError) as info:
        client.stub.Write(req)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
