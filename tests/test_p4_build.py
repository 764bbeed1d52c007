"""The committed P4 build: the P4Info has the tables and match kinds the mask math targets,
and, when p4c is on PATH, p4src/build is exactly what compiling p4src/fdir.p4 gives."""
import json
import shutil
import subprocess

import pytest
from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

import p4src
from fdirlab import mask_math as mm

MATCH = p4info_pb2.MatchField


@pytest.fixture(scope="module")
def p4info():
    info = p4info_pb2.P4Info()
    text_format.Parse(p4src.P4INFO.read_text(), info)
    return info


def _table(info, short):
    found = [t for t in info.tables if t.preamble.name.split(".")[-1] == short]
    assert len(found) == 1, f"P4Info has no single table named {short}"
    return found[0]


def _action_names(info, table):
    ids = {a.id for a in table.action_refs}
    return {a.preamble.name.split(".")[-1] for a in info.actions if a.preamble.id in ids}


@pytest.mark.parametrize("family,addr_bits", [(4, 32), (6, 128)])
def test_fdir_tables_fit_the_filters_mask_math_makes(p4info, family, addr_bits):
    laddr = "10.0.0.200" if family == 4 else "2001:db8::c8"
    entry = mm.filters_for_laddr(laddr, 4)[0]
    table = _table(p4info, entry.table)
    fields = [(f.name, f.bitwidth, f.match_type) for f in table.match_fields]
    ip = "ipv4" if family == 4 else "ipv6"
    proto = "protocol" if family == 4 else "next_hdr"
    assert fields == [
        (f"hdr.{ip}.dst_addr", addr_bits, MATCH.TERNARY),
        ("meta.l4_dport", 16, MATCH.TERNARY),
        (f"hdr.{ip}.{proto}", 8, MATCH.EXACT),
    ]
    assert entry.addr_mask.bit_length() == addr_bits
    assert "steer" in _action_names(p4info, table)
    assert table.size >= 1000 * 2 * 8            # 1,000 local addresses with 8 lcores
    direct = {c.direct_table_id for c in p4info.direct_counters}
    assert table.preamble.id in direct


def test_rss_and_policy_tables(p4info):
    reta = _table(p4info, "reta")
    assert [(f.name, f.bitwidth, f.match_type) for f in reta.match_fields] == [
        ("meta.reta_idx", 7, MATCH.EXACT)]
    assert reta.size == 128
    policy = _table(p4info, "lb_miss_policy")
    assert list(policy.match_fields) == []
    assert _action_names(p4info, policy) == {"rss", "steer", "drop_miss"}
    for short in ("port_role", "lb_addr_v4", "lb_addr_v6", "l2_fwd", "arp_responder"):
        _table(p4info, short)
    counters = {c.preamble.name.split(".")[-1]: c.size for c in p4info.counters}
    assert counters["port_rx"] >= 512 and counters["port_tx"] >= 512
    assert "drop_reasons" in counters


def test_bmv2_json_is_the_program(p4info):
    program = json.loads(p4src.BMV2_JSON.read_text())
    tables = {t["name"] for p in program["pipelines"] for t in p["tables"]}
    for t in p4info.tables:
        assert t.preamble.name in tables


@pytest.mark.skipif(shutil.which("p4c") is None,
                    reason="p4c is not on PATH (it is in no package registry); the build is committed")
def test_committed_build_matches_source(tmp_path):
    # Compiled exactly as `make p4` does (from the repo root: the JSON records the path).
    res = subprocess.run(["p4c", "--target", "bmv2", "--arch", "v1model",
                          "--p4runtime-files", str(tmp_path / "fdir.p4info.txtpb"),
                          "-o", str(tmp_path), "p4src/fdir.p4"],
                         cwd=p4src.SOURCE.parent.parent, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", f"p4c warned: {res.stderr}"
    assert (tmp_path / "fdir.p4info.txtpb").read_text() == p4src.P4INFO.read_text()
    built = json.loads((tmp_path / "fdir.json").read_text())
    committed = json.loads(p4src.BMV2_JSON.read_text())
    # "program" names p4c's preprocessed output in the output directory; nothing else may differ.
    built.pop("program")
    committed.pop("program")
    assert built == committed, "p4src/build is stale: run `make p4` and commit the result"
