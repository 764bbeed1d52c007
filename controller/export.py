"""`fdirctl export`: the flow-director filters the switch holds, as commands for a real NIC.
Queue numbers come from the lab's lcore -> rx queue mapping (DPVS rx_queue_ids), so the
commands steer each residue to the queue the owning lcore polls.

  ethtool    `ethtool -N DEV flow-type tcp4 dst-ip A dst-port P m M action Q`. ethtool's mask
             is the bits to IGNORE: its rxclass.c stores ~m as the kernel's match mask
             (rxclass_get_mask), so a match mask 0x0003 is written `m 0xfffc`.
  rte-flow   DPDK testpmd: `flow create PORT ingress pattern eth / ipv4 dst is A / tcp dst spec
             P dst mask M / end actions queue index Q / end` (the items DPVS netif_flow.c
             builds; signature mode adds the fuzzy item, as DPVS does when fuzzy match is on).
  tc-flower  `tc filter add dev DEV ingress protocol ip prio N flower ip_proto tcp dst_ip A
             dst_port P/M skip_sw action skbedit queue_mapping Q` (iproute2 >= 5.x, skbedit
             queue_mapping on receive is hardware-only, hence skip_sw).
  tc-u32     the same with the u32 classifier (NICs such as ixgbe offload it; for kernels
             without cls_flower):
             `u32 match ip dst A/32 match ip dport P M match ip protocol 6 0xff`.

Priority order: the switch matches the filter of the highest P4Runtime priority first
(P4Runtime spec §9.1: higher priority wins among matching ternary entries), so a hand-made
filter of priority 1 loses to the laddr filters (priority 10) wherever both match. Every
format carries that order, in the filters' order (P4 priority descending):
  ethtool    `loc N`, N = 0, 1, ...: the kernel's rule location, "a flow matching multiple
             rules will be classified according to the first (lowest numbered) rule"
             (include/uapi/linux/ethtool.h, struct ethtool_rx_flow_spec.location)
  rte-flow   `flow create PORT priority L ingress ...` (testpmd flow syntax: `[group G]
             [priority L] [ingress]`), L = the dense rank of the P4 priority, 0 for the
             highest: rte_flow_attr.priority, "lower values denote higher priority"
  tc         `prio N`, N = 1, 2, ... (one per filter: tc refuses one prio for two protocols,
             ip and ipv6): tc runs the lowest prio first
Filters of equal P4 priority never overlap (`filter add`/`laddr add` refuse it; doctor
reports it as equal-priority-overlap), so their order among themselves does not matter.

Filters whose target port is not an lcore's (hand-made misconfigurations) are emitted as a
comment saying so. Pure rendering: `rows_from_state` and `render` do no I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

FORMATS = ("ethtool", "rte-flow", "tc-flower", "tc-u32")
PROTO_NUMBERS = {"tcp": 6, "udp": 17}


@dataclass(frozen=True)
class Filter:
    """One flow-director filter: destination address (and mask), protocol, port value/mask,
    the rx queue it steers to (None: not an lcore's port), its P4 priority."""

    addr: str
    addr_mask: int
    proto: str  # tcp | udp
    port: int
    port_mask: int
    queue: int | None
    lcore: int | None
    priority: int
    owner: str  # "laddr 10.0.0.200", "hand-made", ...

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.addr).version

    @property
    def full_addr(self) -> bool:
        return self.addr_mask == (1 << (32 if self.version == 4 else 128)) - 1


def rows_from_state(
    entries: list[Any], lcore_ports: tuple[int, ...], rx_queues: tuple[int, ...]
) -> list[Filter]:
    """Filters from the switch's fdir_v4/fdir_v6 entries (controller.entries.Entry), in the
    switch's match order: P4 priority descending, then address family, address, protocol and
    port value; lcore i's queue is rx_queues[i] (or i)."""
    out = []
    for e in entries:
        if e.table not in ("fdir_v4", "fdir_v6"):
            continue
        bits = 32 if e.table == "fdir_v4" else 128
        a = e.field("dst_addr")
        p = e.field("l4_dport")
        proto = {6: "tcp", 17: "udp"}.get(e.field("proto").value, str(e.field("proto").value))
        port = e.param("port")
        lcore = lcore_ports.index(port) if port in lcore_ports else None
        queue = (rx_queues[lcore] if rx_queues else lcore) if lcore is not None else None
        addr = ipaddress.ip_address(a.value) if bits == 32 else ipaddress.IPv6Address(a.value)
        kind, subject, _ = e.owner
        out.append(
            Filter(
                str(addr),
                a.mask if a.mask is not None else (1 << bits) - 1,
                proto,
                p.value if p else 0,
                (p.mask or 0) if p else 0,
                queue,
                lcore,
                e.priority,
                f"{kind} {subject}".strip(),
            )
        )
    out.sort(
        key=lambda f: (-f.priority, f.version, int(ipaddress.ip_address(f.addr)), f.proto, f.port)
    )
    return out


def _mask_text(version: int, mask: int) -> str:
    return str(ipaddress.IPv4Address(mask) if version == 4 else ipaddress.IPv6Address(mask))


TC_PRIO_MAX = 0xFFFF            # tc's prio is 16 bits (TC_H_MAJ of tcm_info)


def ethtool(f: Filter, dev: str, loc: int) -> str:
    ft = f"{f.proto}{4 if f.version == 4 else 6}"
    ip = f"dst-ip {f.addr}"
    if not f.full_addr:
        inv = ~f.addr_mask & ((1 << (32 if f.version == 4 else 128)) - 1)
        ip += f" m {_mask_text(f.version, inv)}"
    return (
        f"ethtool -N {dev} flow-type {ft} {ip} dst-port {f.port} "
        f"m {~f.port_mask & 0xFFFF:#06x} action {f.queue} loc {loc}"
    )


def rte_flow(f: Filter, port_id: int, fuzzy: bool, level: int) -> str:
    ipv = "ipv4" if f.version == 4 else "ipv6"
    if f.full_addr:
        ip = f"{ipv} dst is {f.addr}"
    else:
        ip = f"{ipv} dst spec {f.addr} dst mask {_mask_text(f.version, f.addr_mask)}"
    fz = " / fuzzy thresh is 4294967295" if fuzzy else ""
    return (
        f"flow create {port_id} priority {level} ingress pattern eth / {ip} / {f.proto} dst spec {f.port} "
        f"dst mask {f.port_mask:#06x}{fz} / end actions queue index {f.queue} / end"
    )


def tc_flower(f: Filter, dev: str, prio: int) -> str:
    proto = "ip" if f.version == 4 else "ipv6"
    ip = f.addr if f.full_addr else f"{f.addr}/{_prefix(f)}"
    return (
        f"tc filter add dev {dev} ingress protocol {proto} prio {prio} flower ip_proto {f.proto} "
        f"dst_ip {ip} dst_port {f.port}/{f.port_mask:#06x} skip_sw "
        f"action skbedit queue_mapping {f.queue}"
    )


def tc_u32(f: Filter, dev: str, prio: int) -> str:
    if f.version == 4:
        m = (
            f"match ip dst {f.addr}/{_prefix(f)} match ip dport {f.port} {f.port_mask:#06x} "
            f"match ip protocol {PROTO_NUMBERS[f.proto]} 0xff"
        )
        proto = "ip"
    else:
        m = (
            f"match ip6 dst {f.addr}/{_prefix(f)} match ip6 dport {f.port} {f.port_mask:#06x} "
            f"match ip6 protocol {PROTO_NUMBERS[f.proto]} 0xff"
        )
        proto = "ipv6"
    return (
        f"tc filter add dev {dev} ingress protocol {proto} prio {prio} u32 {m} skip_sw "
        f"action skbedit queue_mapping {f.queue}"
    )


def _prefix(f: Filter) -> int:
    bits = 32 if f.version == 4 else 128
    inv = ~f.addr_mask & ((1 << bits) - 1)
    if inv & (inv + 1):
        raise ValueError(
            f"address mask {_mask_text(f.version, f.addr_mask)} of {f.addr} is not a prefix"
        )
    return bits - inv.bit_length()


def render(
    filters: list[Filter], fmt: str, dev: str = "dpdk0", port_id: int = 0, fuzzy: bool = False
) -> list[str]:
    """One command per filter (plus a qdisc line first for tc), in the switch's match order
    (P4 priority descending; among equals the order of `filters`), each carrying its rank as
    the format's priority (ethtool loc, tc prio, rte_flow priority; module docstring);
    filters steering to a port that is no lcore's become a `#` comment naming why.
    ValueError for an unknown format, or more filters than tc has prios."""
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r}: use one of {', '.join(FORMATS)}")
    filters = sorted(filters, key=lambda f: -f.priority)     # stable: rows_from_state's order kept
    levels = {p: i for i, p in enumerate(sorted({f.priority for f in filters}, reverse=True))}
    out = []
    if fmt.startswith("tc-"):
        out.append(f"tc qdisc add dev {dev} clsact")
        if len(filters) > TC_PRIO_MAX:
            raise ValueError(f"{len(filters)} filters: tc has prio 1..{TC_PRIO_MAX} only")
    for k, f in enumerate(filters, 1):
        if f.queue is None:
            out.append(
                f"# {f.owner}: {f.proto} {f.addr} port {f.port}/{f.port_mask:#06x} steers to a "
                f"switch port that is no lcore's: no queue to export"
            )
            continue
        if fmt == "ethtool":
            out.append(ethtool(f, dev, k - 1))
        elif fmt == "rte-flow":
            out.append(rte_flow(f, port_id, fuzzy, levels[f.priority]))
        elif fmt == "tc-flower":
            out.append(tc_flower(f, dev, k))
        else:
            out.append(tc_u32(f, dev, k))
    return out
