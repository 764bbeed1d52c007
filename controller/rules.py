"""Pure rule computation: from lcores, their switch ports, local addresses and the lab's
hosts to the NIC's table entries (flow director, RETA, port roles, LB addresses, ARP, L2).

Port ownership comes only from fdirlab.partition.Partition.port_matches, the predicate the
workers' sa_pools use too, so filters and pools cannot disagree.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from controller.entries import COOKIE_BASE, COOKIE_HAND, Entry, cookie_laddr, cookie_lcore, make_match
from controller.errors import BadInput
from controller.p4names import MAX_PORT, RETA_SIZE, TABLES
from fdirlab import mask_math
from fdirlab.errors import FdirlabError
from fdirlab.lab_config import STEERING_MODES, Lab, MissPolicy
from fdirlab.partition import SCHEMES, Partition

FILTER_PRIORITY = mask_math.FILTER_PRIORITY
PROTOCOLS = mask_math.PROTOCOLS
PROTO_NAMES = {v: k for k, v in PROTOCOLS.items()}


def parse_ip(text: str, what: str = "address") -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise BadInput(f"{what} {text!r}: not an IPv4 or IPv6 address") from None


def canonical_ip(text: str, what: str = "address") -> str:
    return str(parse_ip(text, what))


def mac_to_int(mac: str) -> int:
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise BadInput(f"MAC {mac!r}: expected aa:bb:cc:dd:ee:ff")
    try:
        return int("".join(parts), 16)
    except ValueError:
        raise BadInput(f"MAC {mac!r}: expected aa:bb:cc:dd:ee:ff") from None


def int_to_mac(v: int) -> str:
    return ":".join(f"{(v >> s) & 0xff:02x}" for s in range(40, -1, -8))


def _entry(table: str, action: str, params: tuple[tuple[str, int], ...] = (), priority: int = 0, cookie: bytes = b"",
           **match: int | tuple[int, int]) -> Entry:
    return Entry(table, make_match(TABLES[table], **match), action, params, priority, cookie)


@dataclass(frozen=True)
class Layout:
    """What `fdirctl init` installs: lcores and their ports, wire ports, steering, miss policy,
    and the lab's addresses the NIC must know (VIPs, hosts' MACs for L2)."""

    lcore_ports: tuple[int, ...]
    wire_ports: tuple[int, ...] = ()
    scheme: str = "lsb"
    mode: str = "fdir"                    # fdir | rss | handoff (only fdir installs filters)
    miss: MissPolicy = MissPolicy("rss")
    lb_mac: str | None = None             # answer ARP / NS for LB-owned IPv4 / IPv6 addresses with it
    vips: tuple[str, ...] = ()
    l2: tuple[tuple[str, int], ...] = ()  # (mac, port)
    protocols: tuple[str, ...] = ("tcp", "udp")

    def __post_init__(self) -> None:
        n = len(self.lcore_ports)
        if n == 0:
            raise BadInput("lcore count 0: need at least 1 lcore")
        try:
            mask_math.fdir_mask(n)
            Partition(self.scheme, n)
        except FdirlabError as e:
            raise BadInput(str(e)) from None
        if self.mode not in STEERING_MODES:
            raise BadInput(f"steering mode {self.mode!r}: use one of {', '.join(STEERING_MODES)}")
        seen: set[int] = set()
        for p in self.lcore_ports + self.wire_ports:
            if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < MAX_PORT:
                raise BadInput(f"port {p!r}: switch ports are 0..{MAX_PORT - 1}")
            if p in seen:
                raise BadInput(f"duplicate port {p}: each switch port has one role")
            seen.add(p)
        if self.miss.kind == "lcore" and not 0 <= (self.miss.lcore or 0) < n:
            raise BadInput(f"miss policy lcore {self.miss.lcore}: {n} lcore(s) are 0..{n - 1}")
        if self.miss.kind not in ("rss", "drop", "lcore"):
            raise BadInput(f"miss policy {self.miss.kind!r}: use rss, drop or lcore N")
        for proto in self.protocols:
            if proto not in PROTOCOLS:
                raise BadInput(f"protocol {proto!r}: use tcp or udp")
        if self.lb_mac is not None:
            mac_to_int(self.lb_mac)
        for v in self.vips:
            parse_ip(v, "VIP")
        for mac, port in self.l2:
            mac_to_int(mac)
            if not 0 <= port < MAX_PORT:
                raise BadInput(f"L2 port {port}: switch ports are 0..{MAX_PORT - 1}")

    @property
    def n_lcores(self) -> int:
        return len(self.lcore_ports)

    @property
    def partition(self) -> Partition:
        return Partition(self.scheme, self.n_lcores)

    def lcore_of_port(self, port: int) -> int | None:
        try:
            return self.lcore_ports.index(port)
        except ValueError:
            return None

    @classmethod
    def from_lab(cls, lab: Lab) -> Layout:
        l2 = [(h.mac, h.port) for h in lab.hosts]
        # lcore MACs let workers address each other through the switch (software handoff)
        l2 += [(lab.lcore_mac(i), lab.lcore_port(i)) for i in range(lab.n_lcores)]
        return cls(lcore_ports=lab.lcore_ports, wire_ports=lab.wire_ports, scheme=lab.scheme,
                   mode=lab.steering, miss=lab.miss, lb_mac=lab.lb_mac, vips=lab.vips,
                   l2=tuple(l2))


# --- flow director -----------------------------------------------------------------

def fdir_entries(partition: Partition, lcore_ports: tuple[int, ...], addr: str, slot: int = 0,
                 protocols: tuple[str, ...] = ("tcp", "udp"), cookie: bytes | None = None) -> list[Entry]:
    """Filters for one local address: for every lcore, every (value, mask) the partition
    gives it, every protocol -> steer to the lcore's port. Full-address match."""
    a = parse_ip(addr, "local address")
    table = "fdir_v4" if a.version == 4 else "fdir_v6"
    full = (1 << a.max_prefixlen) - 1
    ck = cookie_laddr(str(a), slot) if cookie is None else cookie
    schema = TABLES[table]
    out = []
    for lcore, port in enumerate(lcore_ports):
        for value, mask in partition.port_matches(lcore, slot):
            for name in protocols:
                out.append(Entry(table, make_match(schema, dst_addr=(int(a), full),
                                                   l4_dport=(value, mask), proto=PROTOCOLS[name]),
                                 "steer", (("port", port),), FILTER_PRIORITY, ck))
    return out


def laddr_entries(layout: Layout, addr: str, slot: int = 0) -> list[Entry]:
    """Everything one local address costs on the switch, filters first: the address only
    becomes load-balancer-owned (lb_addr, ARP) once its filters are in place."""
    a = parse_ip(addr, "local address")
    ck = cookie_laddr(str(a), slot)
    out: list[Entry] = []
    if layout.mode == "fdir":
        out += fdir_entries(layout.partition, layout.lcore_ports, str(a), slot, layout.protocols, ck)
    out += _lb_owned(str(a), layout.lb_mac, ck)
    return out


def _lb_owned(addr: str, lb_mac: str | None, cookie: bytes) -> list[Entry]:
    a = ipaddress.ip_address(addr)
    if a.version == 4:
        out = [_entry("lb_addr_v4", "lb_owned", cookie=cookie, dst_addr=int(a))]
        if lb_mac:
            out.append(_entry("arp_responder", "arp_answer", (("mac", mac_to_int(lb_mac)),),
                              cookie=cookie, tpa=int(a)))
        return out
    out = [_entry("lb_addr_v6", "lb_owned", cookie=cookie, dst_addr=int(a))]
    if lb_mac:
        # Neighbor Solicitations for it are answered by the NIC (fdir.p4 nd_responder)
        out.append(_entry("nd_responder", "nd_answer", (("mac", mac_to_int(lb_mac)),),
                          cookie=cookie, target=int(a)))
    return out



IDENTITY_FIELDS = ("lcore_ports", "wire_ports", "scheme", "mode", "lb_mac")


def layout_differences(have: Layout, want: Layout, fields: tuple[str, ...] = IDENTITY_FIELDS) -> list[str]:
    """'name HAVE (lab: WANT)' for every field of `fields` that differs. The default fields say
    which lab a switch was built for (lcore and wire ports, scheme, steering mode, LB MAC): a
    difference there is another lab's switch (or a lab file changed since init), not drift.
    The switch shows its LB MAC only in its ARP/NS answers: with no LB-owned address yet (a
    dpvs.conf lab before its runbook) it is unknown, not different."""
    return [f"{n} {getattr(have, n)} (lab: {getattr(want, n)})" for n in fields
            if getattr(have, n) != getattr(want, n) and not (n == "lb_mac" and have.lb_mac is None)]

def hand_filter(addr: str, port_value: int, port_mask: int, proto: str, port: int,
                priority: int = FILTER_PRIORITY, addr_mask: int | None = None) -> Entry:
    """A hand-made flow-director entry (`fdirctl filter add`), marked so nothing else touches it."""
    a = parse_ip(addr)
    full = (1 << a.max_prefixlen) - 1
    amask = full if addr_mask is None else addr_mask
    if not 0 <= amask <= full:
        raise BadInput(f"address mask {amask:#x}: does not fit IPv{a.version}")
    if not (0 <= port_value <= 0xFFFF and 0 <= port_mask <= 0xFFFF):
        raise BadInput(f"port {port_value}/{port_mask:#x}: value and mask are 0..65535")
    if port_value & ~port_mask & 0xFFFF:
        raise BadInput(f"port value {port_value:#x} has bits outside mask {port_mask:#x}")
    if int(a) & ~amask & full:
        shown = ipaddress.ip_address(amask) if a.version == 4 else hex(amask)
        raise BadInput(f"address {a} has bits outside mask {shown}")
    if proto not in PROTOCOLS:
        raise BadInput(f"protocol {proto!r}: use tcp or udp")
    if not 1 <= priority <= 0x7FFFFFFF:
        raise BadInput(f"priority {priority}: must be 1..2147483647")
    if not 0 <= port < MAX_PORT:
        raise BadInput(f"port {port}: switch ports are 0..{MAX_PORT - 1}")
    table = "fdir_v4" if a.version == 4 else "fdir_v6"
    return Entry(table, make_match(TABLES[table], dst_addr=(int(a), amask), l4_dport=(port_value, port_mask),
                                   proto=PROTOCOLS[proto]),
                 "steer", (("port", port),), priority, COOKIE_HAND)


# --- RSS, port roles, LB addresses, L2 ------------------------------------------------

def reta_entries(lcore_ports: tuple[int, ...], size: int = RETA_SIZE) -> list[Entry]:
    """RETA slot i -> lcore i % n, like a NIC spreading its queues round-robin. With more
    than 128 lcores only the first 128 receive new flows (a real RETA has the same limit)."""
    return [_entry("reta", "steer", (("port", lcore_ports[i % len(lcore_ports)]),),
                   cookie=COOKIE_BASE, idx=i) for i in range(size)]


def miss_entry(layout: Layout) -> Entry:
    m = layout.miss
    if m.kind == "rss":
        return Entry("lb_miss_policy", (), "rss", default=True)
    if m.kind == "drop":
        return Entry("lb_miss_policy", (), "drop_miss", default=True)
    return Entry("lb_miss_policy", (), "steer", (("port", layout.lcore_ports[m.lcore or 0]),), default=True)


def base_entries(layout: Layout) -> list[Entry]:
    """What init installs: port roles (the init config rides on the lcore entries' cookies),
    RETA, L2 forwarding, VIPs as load-balancer addresses. The miss policy is the table default
    (miss_entry) and is written with MODIFY, not here."""
    n = layout.n_lcores
    out = [_entry("port_role", "set_lcore", cookie=cookie_lcore(i, n, layout.scheme, layout.mode), port=p)
           for i, p in enumerate(layout.lcore_ports)]
    out += [_entry("port_role", "set_wire", cookie=COOKIE_BASE, port=p) for p in layout.wire_ports]
    out += reta_entries(layout.lcore_ports)
    seen: set[int] = set()
    for mac, port in layout.l2:
        v = mac_to_int(mac)
        if v in seen:
            raise BadInput(f"MAC {mac}: given twice for L2 forwarding")
        seen.add(v)
        out.append(_entry("l2_fwd", "forward", (("port", port),), cookie=COOKIE_BASE, dst_mac=v))
    for vip in layout.vips:
        out += _lb_owned(canonical_ip(vip, "VIP"), layout.lb_mac, COOKIE_BASE)
    return out


def desired_entries(layout: Layout, laddrs: list[tuple[str, int]]) -> list[Entry]:
    """The whole desired keyed state: base plus every (local address, slot)."""
    out = base_entries(layout)
    for addr, slot in laddrs:
        out += laddr_entries(layout, addr, slot)
    return out


# --- what each scheme costs ----------------------------------------------------------

@dataclass(frozen=True)
class SchemeCost:
    scheme: str
    n_lcores: int
    n_laddrs: int
    entries: int                    # flow-director entries (TCP + UDP)
    ports_per_lcore: list[int] = field(default_factory=list)   # local ports per lcore, all laddrs
    unowned_ports: int = 0          # per local address, ports in range no lcore may use

    def to_json(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "lcores": self.n_lcores, "laddrs": self.n_laddrs,
                "entries": self.entries, "ports_per_lcore": self.ports_per_lcore,
                "min_ports": min(self.ports_per_lcore), "max_ports": max(self.ports_per_lcore),
                "unowned_ports_per_laddr": self.unowned_ports}


def scheme_cost(scheme: str, n_lcores: int, n_laddrs: int, low: int = mask_math.DEFAULT_LOW,
                high: int = mask_math.DEFAULT_HIGH, protocols: int = 2) -> SchemeCost:
    try:
        part = Partition(scheme, n_lcores)
        mask_math.check_port_range(low, high)
    except FdirlabError as e:
        raise BadInput(str(e)) from None
    if scheme == "laddr":      # whole addresses per lcore: slot k belongs to lcore k % n
        entries = n_laddrs * protocols
        ports = [len(range(lc, n_laddrs, n_lcores)) * (high - low + 1) for lc in range(n_lcores)]
    else:                      # every address costs the same: compute slot 0 once
        entries = sum(len(part.port_matches(lc)) for lc in range(n_lcores)) * protocols * n_laddrs
        ports = [len(part.owned_ports(lc, 0, low, high)) * n_laddrs for lc in range(n_lcores)]
    per_laddr = sum(len(part.owned_ports(lc, 0, low, high)) for lc in range(n_lcores))
    return SchemeCost(scheme, n_lcores, n_laddrs, entries, ports, (high - low + 1) - per_laddr)


def scheme_costs(n_lcores: int, n_laddrs: int, low: int = mask_math.DEFAULT_LOW,
                 high: int = mask_math.DEFAULT_HIGH) -> list[SchemeCost]:
    return [scheme_cost(s, n_lcores, n_laddrs, low, high) for s in SCHEMES]
