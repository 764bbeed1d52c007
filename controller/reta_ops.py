"""Take an lcore out of the RETA and put it back, as a NIC driver does when a queue goes away
(`ethtool -X`): new flows RSS hashed to a dead lcore's slots go to the others instead.

Only the slots concerned change, so flows hashed to other lcores stay where they are.
`exclude` spreads the lcore's slots round-robin over the lcores that still have slots;
`include` gives back the slots the standard RETA gives it (slot i -> lcore i % n,
controller.rules.reta_entries). A reconcile restores the standard RETA too.
"""
from __future__ import annotations

from controller.entries import Entry
from controller.errors import BadInput, Conflict
from controller.laddr_ops import Ctx, write_all
from controller.p4rt_client import MODIFY
from controller.rules import Layout, reta_entries
from controller.state import SwitchState


def reta(st: SwitchState) -> dict[int, Entry]:
    return {e.match[0].value: e for e in st.entries if e.table == "reta"}


def slots_per_lcore(st: SwitchState) -> dict[int, int]:
    """lcore -> RETA slots steering to its port (lcores with none included, as 0)."""
    lay = st.layout
    assert lay is not None
    out = {i: 0 for i in range(lay.n_lcores)}
    for e in reta(st).values():
        lc = lay.lcore_of_port(e.param("port") or -1)
        if lc is not None:
            out[lc] += 1
    return out


def exclude_updates(st: SwitchState, lcore: int) -> list[Entry]:
    """Pure: the RETA entries to MODIFY so no slot steers to `lcore`."""
    lay = _layout(st, lcore)
    per = slots_per_lcore(st)
    rest = [i for i in range(lay.n_lcores) if i != lcore and per[i] > 0]
    if not per[lcore]:
        raise Conflict(f"lcore {lcore} has no RETA slot already: nothing to exclude")
    if not rest:
        raise Conflict(f"lcore {lcore} is the last lcore in the RETA: excluding it leaves RSS nowhere to go")
    port = lay.lcore_ports[lcore]
    out, k = [], 0
    full = {e.match[0].value: e for e in reta_entries(lay.lcore_ports)}
    for idx, e in sorted(reta(st).items()):
        if e.param("port") == port:
            tgt = lay.lcore_ports[rest[k % len(rest)]]
            k += 1
            out.append(Entry("reta", full[idx].match, "steer", (("port", tgt),), 0, e.cookie))
    return out


def include_updates(st: SwitchState, lcore: int) -> list[Entry]:
    """Pure: the RETA entries to MODIFY so `lcore` gets back its standard slots."""
    lay = _layout(st, lcore)
    port = lay.lcore_ports[lcore]
    return [std for std in reta_entries(lay.lcore_ports)
            if std.param("port") == port and reta(st).get(std.match[0].value, std).param("port") != port]


def _layout(st: SwitchState, lcore: int) -> Layout:
    lay = st.layout
    assert lay is not None
    if not 0 <= lcore < lay.n_lcores:
        raise BadInput(f"lcore {lcore}: the switch has {lay.n_lcores} lcore(s), 0..{lay.n_lcores - 1}")
    return lay


def apply(ctx: Ctx, st: SwitchState, lcore: int, include: bool) -> int:
    """Write the change; returns how many RETA slots moved."""
    ents = include_updates(st, lcore) if include else exclude_updates(st, lcore)
    old = {k: e for k, e in ((e.key, e) for e in reta(st).values())}
    write_all(ctx, [(MODIFY, e) for e in ents], "rss include" if include else "rss exclude", old=old)
    return len(ents)
