"""TCP connection states of a full-NAT conn and their timeouts, as IPVS/DPVS track them:
one transition table for packets from the client side (INPUT) and one for the RS side.

The tables are IPVS's tcp_states[] (DPVS dp_vs_proto_tcp.c carries the same): the flag
that picks the row is RST, else SYN, else FIN, else ACK; a segment with none keeps state.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum


class TcpState(IntEnum):
    NONE = 0
    ESTABLISHED = 1
    SYN_SENT = 2
    SYN_RECV = 3
    FIN_WAIT = 4
    TIME_WAIT = 5
    CLOSE = 6
    CLOSE_WAIT = 7
    LAST_ACK = 8
    LISTEN = 9
    SYNACK = 10


FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10

_S = TcpState
sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA = (
    _S.NONE, _S.ESTABLISHED, _S.SYN_SENT, _S.SYN_RECV, _S.FIN_WAIT, _S.TIME_WAIT,
    _S.CLOSE, _S.CLOSE_WAIT, _S.LAST_ACK, _S.LISTEN, _S.SYNACK)

# rows: syn, fin, ack, rst; columns: current state in TcpState order
_INPUT = (
    (sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR),   # syn
    (sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW),   # fin
    (sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES),   # ack
    (sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR),   # rst
)
_OUTPUT = (
    (sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR),   # syn
    (sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW),   # fin
    (sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES),   # ack
    (sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL),   # rst
)


def _row(flags: int) -> int:
    if flags & RST:
        return 3
    if flags & SYN:
        return 0
    if flags & FIN:
        return 1
    if flags & ACK:
        return 2
    return -1


def _by_flags(table: tuple[tuple[TcpState, ...], ...]) -> tuple[tuple[TcpState, ...], ...]:
    """table[flags byte] -> tuple of next states by current state (one index per packet)."""
    keep = tuple(TcpState)
    return tuple(keep if _row(f) < 0 else table[_row(f)] for f in range(256))


# the datapath indexes these directly: CLIENT_SIDE[flags][state]
CLIENT_SIDE = _by_flags(_INPUT)
RS_SIDE = _by_flags(_OUTPUT)


def next_state(state: TcpState, flags: int, from_client: bool) -> TcpState:
    """The state after a segment with TCP `flags` (from the client side if from_client)."""
    return (CLIENT_SIDE if from_client else RS_SIDE)[flags & 0xFF][state]


@dataclass
class Timeouts:
    """Seconds a conn may stay idle in each state (DPVS defaults); `udp` for UDP conns."""

    none: float = 2
    established: float = 90
    syn_sent: float = 3
    syn_recv: float = 30
    fin_wait: float = 7
    time_wait: float = 7
    close: float = 3
    close_wait: float = 7
    last_ack: float = 7
    listen: float = 120
    synack: float = 30
    udp: float = 300

    def tcp_table(self) -> tuple[float, ...]:
        """Timeouts indexed by TcpState (a tuple: the per-packet lookup is one index)."""
        return tuple(getattr(self, s.name.lower()) for s in TcpState)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
