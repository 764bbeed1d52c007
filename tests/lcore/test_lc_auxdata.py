"""PACKET_AUXDATA decoding (struct tpacket_auxdata, linux/if_packet.h) and what the datapath
does with a frame the kernel untagged."""
from lc_helpers import frame, make_dp

from lcore.auxdata import (
    AUXDATA,
    PACKET_AUXDATA,
    SOL_PACKET,
    TP_STATUS_CSUMNOTREADY,
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    parse_auxdata,
)


def aux(status, tci=0, tpid=0):
    return [(SOL_PACKET, PACKET_AUXDATA, AUXDATA.pack(status, 60, 60, 0, 14, tci, tpid))]


def test_vlan_and_checksum_bits():
    a = parse_auxdata(aux(TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID, 0x2007, 0x88A8))
    assert a.vlan_tagged and a.vlan_id == 7 and a.vlan_tpid == 0x88A8 and not a.csum_not_ready
    a = parse_auxdata(aux(TP_STATUS_VLAN_VALID, 0))            # priority tag: TCI 0, still tagged
    assert a.vlan_tagged and a.vlan_tpid == 0x8100
    a = parse_auxdata(aux(TP_STATUS_CSUMNOTREADY))
    assert a.csum_not_ready and not a.vlan_tagged
    assert not parse_auxdata([]).vlan_tagged
    assert not parse_auxdata([(SOL_PACKET, PACKET_AUXDATA, b"\0\0")]).vlan_tagged    # short
    assert parse_auxdata([(0, 99, b"x" * 20)]).status == 0


def test_untagged_by_the_kernel_is_still_a_vlan_drop():
    dp = make_dp(n_lcores=1, lcore_id=0, proto="udp")
    f = frame("10.0.1.1", "10.0.0.100", 5000, 80, "udp")
    dp.rx_tagged(f)
    assert dp.stats.drops["vlan_tagged"] == 1 and dp.stats.packets_in == 1
    assert len(dp.conns) == 0 and not dp.tx
