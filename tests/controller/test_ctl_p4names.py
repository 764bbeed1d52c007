"""Entry <-> P4Runtime protobuf: canonical byte strings, ternary mask 0 left out, cookies kept;
and the committed P4Info (when built) has exactly the names the controller expects."""
import pytest
from ctl_helpers import P4INFO, synthetic_p4info

from controller.errors import P4InfoMismatch
from controller.p4names import P4Names, canonical
from controller.rules import Layout, desired_entries, hand_filter, miss_entry


@pytest.fixture(scope="module")
def names():
    return P4Names(synthetic_p4info())


def test_canonical_bytes():
    assert canonical(0) == b"\x00"
    assert canonical(1) == b"\x01"
    assert canonical(0x100) == b"\x01\x00"
    assert canonical(0x0A0000C8) == b"\x0a\x00\x00\xc8"


def test_round_trip_every_entry_kind(names):
    lay = Layout(lcore_ports=(1, 2, 3), wire_ports=(4, 5), lb_mac="02:fd:00:00:00:01",
                 vips=("10.0.0.100", "fd00::100"), l2=(("02:fd:02:00:00:01", 4),))
    ents = desired_entries(lay, [("10.0.0.200", 0), ("2001:db8::c8", 1)])
    ents += [hand_filter("10.0.0.0", 0, 0, "udp", 2, 30, 0xFF000000), miss_entry(lay)]
    for e in ents:
        te = names.encode(e)
        back = names.decode(te)
        assert back == e
        for fm in te.match:   # canonical: no leading zero byte unless the value is 0
            v = fm.exact.value if fm.HasField("exact") else fm.ternary.value
            assert v == b"\x00" or v[0] != 0


def test_mask_zero_field_is_absent_from_the_protobuf(names):
    e = hand_filter("10.0.0.200", 0, 0, "tcp", 1)          # any port
    te = names.encode(e)
    assert len(te.match) == 2 and te.priority == 10 and te.metadata == b"fdirlab:hand"


def test_padded_values_from_a_switch_decode_the_same(names):
    e = desired_entries(Layout(lcore_ports=(1, 2)), [("10.0.0.200", 0)])[-3]
    te = names.encode(e)
    for fm in te.match:
        if fm.HasField("ternary"):
            fm.ternary.value = b"\x00" * 4 + fm.ternary.value
    assert names.decode(te) == e


def test_wrong_program_is_refused():
    info = synthetic_p4info()
    del info.tables[3]
    with pytest.raises(P4InfoMismatch, match="fdir_v4"):
        P4Names(info)


def test_committed_p4info_has_the_expected_names():
    names = P4Names.from_file(P4INFO)
    assert set(names.tables) >= {"fdir_v4", "fdir_v6", "reta", "port_role"}
    assert names.tables["fdir_v4"].direct_counter and not names.tables["port_role"].direct_counter
