"""What the switch holds, read back and interpreted: lcores, scheme and mode (from the lcore
port_role cookies), local addresses (from the fdirlab:laddr cookies), hand-made filters.

The switch is fdirctl's only store, so a restarted controller knows everything from here.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from controller.entries import COOKIE_HAND, Entry, EntryKey
from controller.errors import StateError
from controller.p4names import TABLES, P4Names
from controller.p4rt_client import P4RTClient
from controller.rules import Layout, int_to_mac, laddr_entries
from fdirlab.lab_config import MissPolicy


@dataclass
class LaddrState:
    addr: str
    slot: int
    entries: list[Entry] = field(default_factory=list)


@dataclass
class SwitchState:
    entries: list[Entry]                       # every keyed entry, all tables
    miss_default: Entry | None = None
    layout: Layout | None = None               # None: not initialised by fdirctl
    laddrs: dict[str, LaddrState] = field(default_factory=dict)
    hand: list[Entry] = field(default_factory=list)
    foreign: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def initialised(self) -> bool:
        return self.layout is not None

    def by_key(self) -> dict[EntryKey, Entry]:
        return {e.key: e for e in self.entries}

    def laddr_problems(self, addr: str) -> list[str]:
        """Differences between what the switch holds for `addr` and what it should."""
        st = self.laddrs[addr]
        if self.layout is None:
            return [f"local address {addr}: switch not initialised"]
        want = {e.key: e for e in laddr_entries(self.layout, addr, st.slot)}
        have = {e.key: e for e in st.entries}
        out = []
        missing = [k for k in want if k not in have]
        extra = [k for k in have if k not in want]
        wrong = [k for k in want if k in have and have[k].value != want[k].value]
        if missing:
            out.append(f"local address {addr}: {len(missing)} of {len(want)} entries missing "
                       f"(e.g. {want[missing[0]].describe()})")
        if extra:
            out.append(f"local address {addr}: {len(extra)} unexpected entries (e.g. {have[extra[0]].describe()})")
        if wrong:
            out.append(f"local address {addr}: {len(wrong)} entries with the wrong action "
                       f"(e.g. {have[wrong[0]].describe()})")
        return out

    def check(self) -> list[str]:
        out = list(self.problems)
        for a in sorted(self.laddrs):
            out += self.laddr_problems(a)
        return out


def read_state(client: P4RTClient, names: P4Names, counters: bool = False) -> SwitchState:
    """Read every table (one Read RPC) and derive the lcores and local addresses."""
    ents = [names.read_request_entity(t, counters) for t in TABLES if t != "lb_miss_policy"]
    default = names.read_request_entity("lb_miss_policy", False)
    default.table_entry.is_default_action = True
    entries = []
    miss = None
    for te in client.read_table_entries(ents):
        entries.append(names.decode(te))
    try:
        got = client.read_table_entries([default])
        if got:
            miss = names.decode(got[0])
    except StateError:
        miss = None        # a switch that cannot read default entries: miss policy shown as unknown
    return interpret(entries, miss)


def interpret(entries: list[Entry], miss_default: Entry | None = None) -> SwitchState:
    """Pure: group entries by owner and rebuild the Layout from the lcore cookies."""
    st = SwitchState(entries=entries, miss_default=miss_default)
    lcores: dict[int, tuple[int, dict[str, str]]] = {}
    wire: list[int] = []
    vips: list[str] = []
    l2: list[tuple[str, int]] = []
    lb_mac: int | None = None
    for e in entries:
        kind, subject, attrs = e.owner
        if kind == "lcore" and e.table == "port_role":
            try:
                lcores[int(subject)] = (e.match[0].value, attrs)
            except ValueError:
                st.problems.append(f"unreadable lcore cookie {e.cookie!r}")
        elif kind == "base":
            if e.table == "port_role" and e.action == "set_wire":
                wire.append(e.match[0].value)
            elif e.table in ("lb_addr_v4", "lb_addr_v6"):
                vips.append(str(ipaddress.ip_address(e.match[0].value) if e.table == "lb_addr_v4"
                                else ipaddress.IPv6Address(e.match[0].value)))
            elif e.table == "l2_fwd":
                l2.append((int_to_mac(e.match[0].value), e.param("port") or 0))
            elif e.table in ("arp_responder", "nd_responder"):
                lb_mac = e.param("mac")
        elif kind == "laddr":
            try:
                slot = int(attrs.get("slot", "0"))
            except ValueError:
                slot = 0
            ls = st.laddrs.setdefault(subject, LaddrState(subject, slot))
            ls.entries.append(e)
            if e.table in ("arp_responder", "nd_responder") and lb_mac is None:
                lb_mac = e.param("mac")
        elif e.cookie == COOKIE_HAND:
            st.hand.append(e)
        elif kind == "foreign" and e.table in ("fdir_v4", "fdir_v6"):
            st.foreign.append(e)
    if lcores:
        idx = sorted(lcores)
        if idx != list(range(len(idx))):
            st.problems.append(f"lcore port_role entries for lcores {idx}: expected 0..{len(idx) - 1}")
            return st
        cfgs = {tuple(sorted(a.items())) for _, a in lcores.values()}
        if len(cfgs) != 1:
            st.problems.append("lcore port_role entries disagree on n/scheme/mode")
            return st
        attrs = lcores[0][1]
        if int(attrs.get("n", -1)) != len(idx):
            st.problems.append(f"lcore cookies say n={attrs.get('n')} but {len(idx)} lcore ports are set")
        ports = tuple(lcores[i][0] for i in idx)
        miss = _miss_from_default(miss_default, ports)
        try:
            st.layout = Layout(lcore_ports=ports, wire_ports=tuple(sorted(wire)),
                               scheme=attrs.get("scheme", "lsb"), mode=attrs.get("mode", "fdir"),
                               miss=miss, lb_mac=int_to_mac(lb_mac) if lb_mac is not None else None,
                               vips=tuple(vips), l2=tuple(l2))
        except Exception as e:  # a hand-edited switch: report, do not crash
            st.problems.append(f"switch layout unusable: {e}")
    return st


def _miss_from_default(e: Entry | None, ports: tuple[int, ...]) -> MissPolicy:
    if e is None or e.action == "rss":
        return MissPolicy("rss")
    if e.action == "drop_miss":
        return MissPolicy("drop")
    if e.action == "steer":
        p = e.param("port")
        if p in ports:
            return MissPolicy("lcore", ports.index(p))
    return MissPolicy("rss")
