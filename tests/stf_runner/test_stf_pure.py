"""The STF runner's pure parts: the parser, the P4Runtime mapping and the frame comparison.
No root, no switch: values are checked against bmv2stf.py's meaning of each STF construct."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2
from p4.v1 import p4runtime_pb2

from stf.cli import main as stf_main
from stf.compare import check, expectations, frame_mismatch
from stf.corpus import discover, find_samples
from stf.errors import CorpusError, StfMappingError, StfSyntaxError
from stf.p4rt_map import INSERT, MODIFY, P4RuntimeMap, canonical, parse_value
from stf.parser import (
    Add,
    Expect,
    McGroupCreate,
    McNodeAssociate,
    McNodeCreate,
    MirroringAdd,
    Packet,
    SetDefault,
    Unsupported,
    Wait,
    parse,
    ports_of,
)
from stf.report import CorpusResult
from stf.runner import FAIL, PASS, REFUSED, RunResult

P4INFO = """
tables { preamble { id: 1 name: "ingress.acl" alias: "acl" }
  match_fields { id: 1 name: "hdr.tag.val" bitwidth: 16 match_type: TERNARY }
  match_fields { id: 2 name: "hdr.tag.kind" bitwidth: 8 match_type: EXACT }
  action_refs { id: 10 } action_refs { id: 11 } size: 64 }
tables { preamble { id: 2 name: "ingress.route" alias: "route" }
  match_fields { id: 1 name: "hdr.ipv4.dst" bitwidth: 32 match_type: LPM }
  action_refs { id: 11 } size: 64 }
tables { preamble { id: 3 name: "ingress.stack" alias: "stack" }
  match_fields { id: 1 name: "hdr.extra[0].h" bitwidth: 16 match_type: RANGE }
  match_fields { id: 2 name: "hdr.h.$valid$" bitwidth: 1 match_type: EXACT }
  match_fields { id: 3 name: "meta.opt" bitwidth: 4 match_type: OPTIONAL }
  action_refs { id: 12 } size: 64 }
tables { preamble { id: 4 name: "egress.route" alias: "egress.route" }
  match_fields { id: 1 name: "x" bitwidth: 8 match_type: EXACT }
  action_refs { id: 12 } size: 4 }
actions { preamble { id: 10 name: "ingress.mark" alias: "mark" }
  params { id: 1 name: "v" bitwidth: 8 } params { id: 2 name: "port" bitwidth: 9 } }
actions { preamble { id: 11 name: "ingress.fwd" alias: "fwd" }
  params { id: 1 name: "port" bitwidth: 9 } }
actions { preamble { id: 12 name: "NoAction" alias: "NoAction" } }
"""


@pytest.fixture()
def mapper() -> P4RuntimeMap:
    info = p4info_pb2.P4Info()
    text_format.Parse(P4INFO, info)
    return P4RuntimeMap(info)


# --- parser ---------------------------------------------------------------------------------
def test_parse_every_command() -> None:
    text = """
# comment
add ingress.acl 20 tag.val:0x12** tag.kind:5 mark(v:0x11, port:1) = E1
ADD route ipv4.dst:0x0a000000/8 ingress.fwd(port:2)   # trailing comment
setdefault acl fwd(port:3)
packet 0 0102 03  04
expect 1 01** 0304 $
expect 2
wait
mirroring_add 5 4
mc_mgrp_create 1113
mc_node_create 400 6 7
mc_node_associate 1113 0
check_counter cnt(1) packets == 2
"""
    cmds = parse(text, "t.stf")
    assert [type(c).__name__ for c in cmds] == [
        "Add",
        "Add",
        "SetDefault",
        "Packet",
        "Expect",
        "Expect",
        "Wait",
        "MirroringAdd",
        "McGroupCreate",
        "McNodeCreate",
        "McNodeAssociate",
        "Unsupported",
    ]
    add = cmds[0]
    assert isinstance(add, Add)
    assert (add.table, add.priority, add.handle, add.line) == ("ingress.acl", 20, "E1", 3)
    assert [(m.field, m.value) for m in add.matches] == [("tag.val", "0x12**"), ("tag.kind", "5")]
    assert add.action.name == "mark" and add.action.args == (("v", "0x11"), ("port", "1"))
    assert (
        isinstance(cmds[1], Add) and cmds[1].matches[0].prefix_len == 8 and cmds[1].priority is None
    )
    assert isinstance(cmds[2], SetDefault) and cmds[2].action.args == (("port", "3"),)
    assert cmds[3] == Packet(6, 0, bytes.fromhex("01020304"))
    assert cmds[4] == Expect(7, 1, "01**0304", True)
    assert cmds[5] == Expect(8, 2, None)
    assert cmds[6] == Wait(9)
    assert cmds[7] == MirroringAdd(10, 5, 4)
    assert cmds[8] == McGroupCreate(11, 1113)
    assert cmds[9] == McNodeCreate(12, 400, (6, 7))
    assert cmds[10] == McNodeAssociate(13, 1113, 0)
    assert isinstance(cmds[11], Unsupported) and cmds[11].keyword == "check_counter"
    assert ports_of(cmds) == [0, 1, 2]


def test_parse_names_with_index_and_dollar() -> None:
    (add,) = parse("add t 100 extra$0.h:0x25** hdr.s[1].f:1 act1(val:0x25)")
    assert isinstance(add, Add)
    assert [m.field for m in add.matches] == ["extra$0.h", "hdr.s[1].f"]


@pytest.mark.parametrize(
    "line, needle",
    [
        ("packet 0 0102 0", "odd number of hex digits"),
        ("packet x 0102", "port must be a decimal number"),
        ("packet 0 01zz", "hex digits"),
        ("expect 1 01 $ 02", "final '$'"),
        ("add t f:1 act(", "expected"),
        ("add t f:1 act(p:1) junk", "after the action"),
        ("mc_node_associate 1", "takes 2 number(s)"),
        ("frobnicate 1 2", "unknown command 'frobnicate'"),
    ],
)
def test_parse_errors_name_file_line_and_value(line: str, needle: str) -> None:
    with pytest.raises(StfSyntaxError) as e:
        parse("# first\n" + line, "bad.stf")
    assert str(e.value).startswith("bad.stf:2: ") and needle in str(e.value)


# --- P4Runtime mapping ------------------------------------------------------------------------
def test_values() -> None:
    assert parse_value("0x1*") == (0x10, 0xF0, 8)
    assert parse_value("0b1*0") == (0b100, 0b101, 3)
    assert parse_value("42") == (42, None, 0)
    assert canonical(0) == b"\x00" and canonical(0x1FF) == b"\x01\xff"


def test_ternary_entry_priority_and_left_out_exact(mapper: P4RuntimeMap) -> None:
    (add,) = parse("add acl 10 tag.val:0x12** mark(v:0x11, port:1)")
    assert isinstance(add, Add)
    e = mapper.table_entry(add)
    assert e.table_id == 1
    # STF priority p ranks like P4Runtime priority p + 1 (larger wins in both; P4Runtime needs >= 1)
    assert e.priority == 11
    by_id = {m.field_id: m for m in e.match}
    assert by_id[1].ternary.value == b"\x12\x00" and by_id[1].ternary.mask == b"\xff\x00"
    assert by_id[2].exact.value == b"\x00"  # left out: 0, as bmv2stf.py
    assert e.action.action.action_id == 10
    assert [(p.param_id, p.value) for p in e.action.action.params] == [(1, b"\x11"), (2, b"\x01")]


def test_ternary_short_constant_masks_only_its_digits(mapper: P4RuntimeMap) -> None:
    (add,) = parse("add acl 0 tag.val:0x5 tag.kind:1 fwd(port:2)")
    assert isinstance(add, Add)
    m = {m.field_id: m for m in mapper.table_entry(add).match}[1]
    assert (m.ternary.value, m.ternary.mask) == (b"\x05", b"\x0f")


def test_lpm_prefix_from_digits_and_slash(mapper: P4RuntimeMap) -> None:
    a, b, c = parse(
        "add route ipv4.dst:0x0a01****  fwd(port:1)\n"
        "add route ipv4.dst:0x0a0b0c0d/12 fwd(port:1)\n"
        "add route ipv4.dst:0/0 fwd(port:1)"
    )
    assert isinstance(a, Add) and isinstance(b, Add) and isinstance(c, Add)
    la = mapper.table_entry(a).match[0].lpm
    assert (la.value, la.prefix_len) == (bytes.fromhex("0a010000"), 16)
    lb = mapper.table_entry(b).match[0].lpm
    assert (lb.value, lb.prefix_len) == (
        bytes.fromhex("0a000000"),
        12,
    )  # bits past the prefix cleared
    assert len(mapper.table_entry(c).match) == 0  # /0: don't care


def test_range_valid_optional_and_index_names(mapper: P4RuntimeMap) -> None:
    (add,) = parse("add stack extra$0.h:7 h.valid:1 opt:3 NoAction()")
    assert isinstance(add, Add)
    e = mapper.table_entry(add)
    by_id = {m.field_id: m for m in e.match}
    assert (by_id[1].range.low, by_id[1].range.high) == (b"\x07", b"\x07")
    assert by_id[2].exact.value == b"\x01"
    assert by_id[3].optional.value == b"\x03"
    assert e.priority == 1  # needed (range, optional), none given


def test_setdefault_is_a_modify_of_the_default_entry(mapper: P4RuntimeMap) -> None:
    (sd,) = parse("setdefault acl ingress.fwd(port:7)")
    assert isinstance(sd, SetDefault)
    e = mapper.default_entry(sd)
    assert e.is_default_action and e.table_id == 1 and not e.match
    assert e.action.action.params[0].value == b"\x07"


@pytest.mark.parametrize(
    "line, needle",
    [
        ("add nosuch f:1 fwd(port:1)", "no table 'nosuch'"),
        ("add route nope:1 fwd(port:1)", "no key field 'nope'"),
        ("add acl 1 tag.val:1 nope(port:1)", "no action 'nope'"),
        ("add acl 1 tag.val:1 fwd(prt:1)", "no parameter 'prt'"),
        ("add acl 1 tag.val:1 fwd()", "parameter 'port' not given"),
        ("add acl 1 tag.val:1 fwd(port:512)", "does not fit in 9 bits"),
        ("add acl 1 tag.kind:0x1** tag.val:1 fwd(port:1)", "is exact"),
        ("add route route:1 fwd(port:1)", "no key field"),
        ("add route ipv4.dst:1/40 fwd(port:1)", "longer than the field"),
    ],
)
def test_mapping_errors_name_the_bad_value(mapper: P4RuntimeMap, line: str, needle: str) -> None:
    (add,) = parse(line)
    assert isinstance(add, Add)
    with pytest.raises(StfMappingError, match=needle):
        mapper.table_entry(add)


def test_ambiguous_table_suffix(mapper: P4RuntimeMap) -> None:
    (add,) = parse("add route ipv4.dst:1 fwd(port:1)")
    assert isinstance(add, Add)
    # `route` is both ingress.route (alias) and a suffix of egress.route: the exact alias wins
    assert mapper.table_entry(add).table_id == 2
    (add2,) = parse("add oute ipv4.dst:1 fwd(port:1)")
    assert isinstance(add2, Add)
    with pytest.raises(StfMappingError, match="ambiguous"):
        mapper.table_entry(add2)


def test_multicast_groups_written_once_their_nodes_are_in(mapper: P4RuntimeMap) -> None:
    cmds = parse(
        "mc_mgrp_create 1113\nmc_node_create 400 6\nmc_node_create 401 7 8\n"
        "mc_node_associate 1113 0\nmc_node_associate 1113 1"
    )
    for c in cmds:
        assert mapper.replication(c) == []
    ((typ, ent),) = mapper.pending_groups()
    g = ent.packet_replication_engine_entry.multicast_group_entry
    assert typ == INSERT and g.multicast_group_id == 1113
    assert [(r.egress_port, r.instance) for r in g.replicas] == [(6, 400), (7, 401), (8, 401)]
    assert mapper.pending_groups() == []
    for c in parse("mc_node_update 0 9"):
        mapper.replication(c)
    ((typ, ent),) = mapper.pending_groups()
    assert typ == MODIFY
    assert [
        (r.egress_port, r.instance)
        for r in ent.packet_replication_engine_entry.multicast_group_entry.replicas
    ][0] == (9, 400)


def test_clone_session(mapper: P4RuntimeMap) -> None:
    ((typ, ent),) = mapper.replication(parse("mirroring_add 5 4")[0])
    cs = ent.packet_replication_engine_entry.clone_session_entry
    assert typ == INSERT and cs.session_id == 5
    assert [(r.egress_port, r.instance) for r in cs.replicas] == [(4, 0)]
    with pytest.raises(StfMappingError, match="no group 9"):
        mapper.replication(parse("mc_node_associate 9 0")[0])
    assert isinstance(ent, p4runtime_pb2.Entity)


# --- comparison -------------------------------------------------------------------------------
def test_frame_mismatch_rules() -> None:
    f = bytes.fromhex("0a0b0c")
    assert frame_mismatch("0A0B0C", False, f) is None
    assert frame_mismatch("0A**", False, f) is None  # longer frame: fine without $
    assert "longer" in (frame_mismatch("0A**", True, f) or "")  # ... not with $
    assert "shorter" in (frame_mismatch("0A0B0C0D", False, f) or "")
    why = frame_mismatch("0A0B0D", False, f) or ""
    assert "nibble 5 (byte 2) is C, expected D" in why


def test_check_counts_order_and_silent_ports() -> None:
    cmds = parse("expect 1 01\nexpect 1 02\nexpect 3\n")
    exp = expectations([c for c in cmds if isinstance(c, Expect)])
    one, two = bytes([1]), bytes([2])
    assert check(exp, {1: [one, two], 3: [two, two]}, [0, 1, 3]) == []
    assert check(exp, {1: [two, one]}, [0, 1, 3])[0].startswith("port 1 frame 0 (expect on line 1)")
    assert check(exp, {1: [one]}, [1]) == ["port 1: expected 2 frame(s), got 1"]
    # a port without expect lines must stay silent
    assert check(exp, {0: [one], 1: [one, two]}, [0, 1]) == ["port 0: expected 0 frame(s), got 1"]


# --- corpus discovery and the result table ----------------------------------------------------
def test_discover_takes_v1model_programs_with_an_stf(tmp_path: Path) -> None:
    (tmp_path / "a-bmv2.p4").write_text("#include <core.p4>\n#include <v1model.p4>\n")
    (tmp_path / "a-bmv2.stf").write_text("packet 0 00\n")
    (tmp_path / "b-bmv2.p4").write_text('#include "v1model.p4"\n')  # no .stf
    (tmp_path / "c-bmv2.p4").write_text("#include <psa.p4>\n")  # not v1model
    (tmp_path / "c-bmv2.stf").write_text("packet 0 00\n")
    (tmp_path / "d-bmv2.p4").write_text("// #include <v1model.p4>\n")  # commented out
    (tmp_path / "d-bmv2.stf").write_text("packet 0 00\n")
    assert [p.name for p in discover(tmp_path)] == ["a-bmv2"]
    assert discover(tmp_path, "^b") == []
    with pytest.raises(CorpusError, match="no p4c source tree"):
        find_samples(str(tmp_path / "nowhere"))


def test_totals_and_relative_share() -> None:
    res = CorpusResult(["bmv2", "softswitch"])
    for prog, b, s in [
        ("p1", PASS, PASS),
        ("p2", PASS, REFUSED),
        ("p3", FAIL, FAIL),
        ("p4", PASS, FAIL),
    ]:
        res.add(RunResult(prog, "bmv2", b))
        res.add(RunResult(prog, "softswitch", s))
    assert res.totals()["bmv2"] == {"pass": 3, "fail": 1, "refused": 0, "total": 4}
    assert res.totals()["softswitch"] == {"pass": 1, "fail": 2, "refused": 1, "total": 4}
    assert res.relative("bmv2", "softswitch") == (1, 3)
    assert res.to_json()["relative"] == {
        "base": "bmv2",
        "other": "softswitch",
        "passes": 1,
        "of": 3,
    }


@pytest.mark.parametrize(
    "args,needle",
    [
        (["compile", "--select", "("], "--select '(': not a regular expression"),
        (["run", "--programs", str(Path(__file__).parent / "programs"), "--select", "[a-"],
         "--select '[a-': not a regular expression"),
        (["run", "--targets", "softswitch", "--json", "/tmp"], "--json /tmp: is a directory"),
        (["run", "--targets", "softswitch", "--lock", "/tmp"], "--lock /tmp: is a directory"),
        (["compile", "--out", "/proc/version"], "--out /proc/version: not a directory"),
        (["compile", "--out", "/proc/version/stf"], "--out /proc/version/stf: /proc/version is not a writable"),
    ],
)
def test_cli_bad_paths_and_patterns_one_line_exit_2(args: list[str], needle: str, capsys) -> None:
    """Refused before anything is compiled or run (a --json directory was a traceback after the
    whole run; --select '(' a re.error traceback)."""
    assert stf_main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stf: error: {needle}"), err
