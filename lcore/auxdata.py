"""PACKET_AUXDATA, the per-frame metadata an AF_PACKET socket receives as a control message
(struct tpacket_auxdata, linux/if_packet.h):

    u32 tp_status; u32 tp_len; u32 tp_snaplen; u16 tp_mac; u16 tp_net;
    u16 tp_vlan_tci; u16 tp_vlan_tpid;                      (20 bytes)

The kernel strips a received 802.1Q/802.1ad tag from the frame (hardware or software VLAN
acceleration) and reports it here instead: TP_STATUS_VLAN_VALID says a tag was there (its
TCI may be 0: a priority tag), TP_STATUS_VLAN_TPID_VALID says tp_vlan_tpid is set.
TP_STATUS_CSUMNOTREADY: the sender left the L4 checksum to offload. Pure: no sockets here.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
AUXDATA = struct.Struct("=IIIHHHH")
ETH_P_8021Q = 0x8100


@dataclass(frozen=True)
class AuxData:
    status: int
    vlan_tci: int
    vlan_tpid: int

    @property
    def csum_not_ready(self) -> bool:
        return bool(self.status & TP_STATUS_CSUMNOTREADY)

    @property
    def vlan_tagged(self) -> bool:
        """The frame carried a VLAN tag the kernel stripped (older kernels: a non-zero TCI)."""
        return bool(self.status & TP_STATUS_VLAN_VALID) or self.vlan_tci != 0

    @property
    def vlan_id(self) -> int:
        return self.vlan_tci & 0x0FFF


NO_AUXDATA = AuxData(0, 0, 0)


def parse_auxdata(ancillary: list[tuple[int, int, bytes]]) -> AuxData:
    """The AuxData of one recvmsg() result's ancillary data; NO_AUXDATA when absent or short."""
    for level, typ, data in ancillary:
        if level == SOL_PACKET and typ == PACKET_AUXDATA:
            if len(data) >= AUXDATA.size:
                status, _len, _snap, _mac, _net, tci, tpid = AUXDATA.unpack_from(data)
                if not status & TP_STATUS_VLAN_TPID_VALID and status & TP_STATUS_VLAN_VALID:
                    tpid = ETH_P_8021Q
                return AuxData(status, tci, tpid)
            if len(data) >= 4:
                return AuxData(struct.unpack_from("=I", data)[0], 0, 0)
    return NO_AUXDATA
