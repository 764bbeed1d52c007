"""Flow-director entries as rows and as a table (`fdirctl show fdir`, `fdirctl filter list`)."""
from __future__ import annotations

import ipaddress
from typing import Any

from controller.entries import Entry
from controller.rules import PROTO_NAMES, Layout


def fdir_row(e: Entry, layout: Layout | None) -> dict[str, Any]:
    dst, dport, proto = e.field("dst_addr"), e.field("l4_dport"), e.field("proto")
    fam = 4 if e.table == "fdir_v4" else 6
    width = 32 if fam == 4 else 128
    addr = str(ipaddress.ip_address(dst.value) if fam == 4 else ipaddress.IPv6Address(dst.value)) if dst else "*"
    if dst and dst.mask is not None and dst.mask != (1 << width) - 1:
        m = dst.mask
        plen = bin(m).count("1")
        addr += f"/{plen}" if m == ((1 << width) - 1) ^ ((1 << (width - plen)) - 1) else f"&{m:#x}"
    port = e.param("port")
    kind, subject, _ = e.owner
    return {"table": e.table, "addr": addr, "port_value": dport.value if dport else 0,
            "port_mask": dport.mask if dport else 0,
            "proto": PROTO_NAMES.get(proto.value, proto.value) if proto else "*",
            "priority": e.priority, "to_port": port,
            "lcore": layout.lcore_of_port(port) if layout and port is not None else None,
            "owner": {"laddr": f"laddr {subject}", "hand": "hand-made"}.get(kind, kind),
            "packets": e.packets, "bytes": e.bytes}


def fdir_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no flow-director entries"
    head = (f"{'address':<28} {'dport':>6}/{'mask':<6} {'proto':<5} {'pri':>4} {'lcore':>5} {'port':>4} "
            f"{'packets':>9} {'bytes':>11}  owner")
    lines = [head]
    for r in rows:
        lc = "-" if r["lcore"] is None else str(r["lcore"])
        lines.append(f"{r['addr']:<28} {r['port_value']:>6}/{r['port_mask']:<#6x} {r['proto']:<5} {r['priority']:>4} "
                     f"{lc:>5} {r['to_port']:>4} {r['packets'] or 0:>9} {r['bytes'] or 0:>11}  {r['owner']}")
    return "\n".join(lines)
