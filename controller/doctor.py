"""`fdirctl doctor`: check that the switch's filters and the workers' sa_pools agree, and
find the misconfigurations DPVS users report, each with the fix. Pure: no I/O here.

Inputs are what fdirctl read: the switch state (controller.state) and, per worker, its
`info` and `pools` answers (lcore control protocol).
"""
from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass

from controller.entries import Entry
from controller.state import SwitchState
from fdirlab import mask_math
from fdirlab.partition import Partition

PROTO_NAMES = {6: "tcp", 17: "udp"}


@dataclass(frozen=True)
class Finding:
    severity: str          # error | warning | info
    code: str
    message: str
    fix: str

    def to_json(self) -> dict:
        return asdict(self)


def _filters_for(st: SwitchState, addr: str) -> list[Entry]:
    """Every flow-director entry (generated or hand-made) that can match `addr`."""
    a = ipaddress.ip_address(addr)
    table = "fdir_v4" if a.version == 4 else "fdir_v6"
    out = []
    for e in st.entries:
        if e.table != table:
            continue
        m = e.field("dst_addr")
        if m is None or (int(a) & (m.mask or 0)) == (m.value & (m.mask or 0)):
            out.append(e)
    # P4Runtime: the highest priority wins.
    return sorted(out, key=lambda e: -e.priority)


def steered_port(filters: list[Entry], port: int, proto: int) -> int | None:
    for e in filters:
        p = e.field("proto")
        if p is not None and p.value != proto:
            continue
        m = e.field("l4_dport")
        if m is None or (port & (m.mask or 0)) == (m.value & (m.mask or 0)):
            return e.param("port")
    return None


def diagnose(st: SwitchState, workers: list[tuple[dict, list[dict]]]) -> list[Finding]:
    """workers: per lcore worker, (info answer, pools list). Empty when none is reachable."""
    out: list[Finding] = []
    for p in st.check():
        out.append(Finding("error", "switch-state", p, "run `fdirctl --lab FILE reconcile`"))
    layout = st.layout
    if layout is None:
        out.append(Finding("error", "not-initialised", "the switch holds no lcore layout",
                           "run `fdirctl --lab FILE init`"))
        return out
    n = layout.n_lcores
    mask = mask_math.fdir_mask(n).mask
    fdir_mode = layout.mode == "fdir"

    # 1. Filter masks that do not fit the lcore count (the NIC has ONE global mask).
    for e in st.hand + [x for ls in st.laddrs.values() for x in ls.entries if x.table.startswith("fdir")]:
        m = e.field("l4_dport")
        pm = m.mask if m is not None else 0
        # A low-bit mask (2**k - 1) other than the lcore mask is the DPVS mistake; exact or
        # prefix port masks in hand-made filters are deliberate and left alone.
        if layout.scheme == "lsb" and pm not in (mask, 0) and pm & (pm + 1) == 0 and pm != 0xFFFF:
            out.append(Finding("error", "mask-mismatch",
                               f"filter {e.describe()} uses port mask {pm:#x}, but {n} lcores need mask {mask:#x}",
                               f"delete it (`fdirctl filter del ...`) or set the lcore count to match"))
    # 2. Ports owned by nobody.
    part = Partition(layout.scheme, n)
    if layout.scheme != "laddr":
        nobody = sum(1 for p in range(mask_math.DEFAULT_LOW, mask_math.DEFAULT_HIGH + 1)
                     if part.owner(p) is None)
        if nobody:
            out.append(Finding("warning", "unowned-ports",
                               f"{nobody} local ports per local address belong to no lcore "
                               f"({layout.scheme} scheme, {n} lcores)",
                               "use a power-of-two lcore count (lsb), or accept the lost capacity"))
    if not workers:
        out.append(Finding("info", "no-workers", "no lcore worker answered: only the switch was checked",
                           "start the lab, or pass --run-dir"))
        return out
    # 3. Workers that disagree with the switch about lcores, scheme or mode.
    for info, _ in workers:
        i = info.get("lcore")
        if info.get("n_lcores") != n or info.get("scheme") != layout.scheme or info.get("mode") != layout.mode:
            out.append(Finding("error", "worker-config",
                               f"lcore {i} runs n={info.get('n_lcores')} scheme={info.get('scheme')} "
                               f"mode={info.get('mode')}, the switch has n={n} scheme={layout.scheme} "
                               f"mode={layout.mode}",
                               "restart the workers with the switch's settings (or re-init the switch)"))
    # 4. Pools without filters, filters without pools.
    pooled: dict[str, set[int]] = {}
    for info, pools in workers:
        for p in pools:
            pooled.setdefault(p["laddr"], set()).add(info.get("lcore"))
    for addr, lcores in sorted(pooled.items()):
        if addr not in st.laddrs:
            out.append(Finding("error", "pool-without-filters",
                               f"local address {addr} has sa_pools on lcores {sorted(lcores)} but the switch "
                               f"has no entries for it: its replies are not steered",
                               f"`fdirctl laddr add {addr}` (or drop the pools with `laddr del --force`)"))
    for addr in sorted(st.laddrs):
        missing = sorted(set(range(n)) - pooled.get(addr, set()))
        if missing:
            out.append(Finding("error", "filters-without-pool",
                               f"local address {addr} has filters but no sa_pool on lcores {missing}",
                               f"`fdirctl --lab FILE reconcile` (or `laddr del {addr}` and add it again)"))
    # 5. Pools that hand out ports the filters steer elsewhere.
    if fdir_mode:
        for info, pools in workers:
            i = info.get("lcore")
            if not isinstance(i, int) or not 0 <= i < n:
                continue
            lo, hi = info.get("port_range", [mask_math.DEFAULT_LOW, mask_math.DEFAULT_HIGH])
            want = layout.lcore_ports[i]
            for p in pools:
                addr = p["laddr"]
                if addr not in st.laddrs:
                    continue
                filters = _filters_for(st, addr)
                for proto in (6, 17):
                    wrong: dict[int | None, int] = {}
                    example = None
                    for port in part.owned_ports(i, p.get("slot", 0), lo, hi):
                        got = steered_port(filters, port, proto)
                        if got != want:
                            wrong[got] = wrong.get(got, 0) + 1
                            example = example or port
                    for got, count in wrong.items():
                        where = "nowhere (the miss path)" if got is None else \
                            f"port {got}" + (f" (lcore {layout.lcore_of_port(got)})" if layout.lcore_of_port(got) is not None else "")
                        out.append(Finding("error", "pool-steered-elsewhere",
                                           f"lcore {i} hands out {count} {PROTO_NAMES[proto]} ports of {addr} "
                                           f"(e.g. {example}) whose replies go to {where}, not to its port {want}",
                                           "delete the hand-made filter that overrides them (`fdirctl filter list`) "
                                           "(reconcile leaves hand-made filters alone)"))
    return out
