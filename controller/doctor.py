"""`fdirctl doctor`: every disagreement between the lab file, the switch and the lcore
workers, and the misconfigurations DPVS users report, each with a fix that works
(docs/doctor.md lists them all). Pure: no I/O here.

Inputs are what fdirctl read: the switch state (controller.state), per worker a WorkerView
(its `info`, `pools`, `services`, `neighs` answers, or why it did not answer), and the lab
file when one was given.
"""
from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from controller import shellcmd
from controller.desired import service_key, spec_differs, wanted
from controller.entries import Entry
from controller.overlap import ambiguous_pairs
from controller.rules import Layout, layout_differences
from controller.state import SwitchState
from fdirlab import mask_math
from fdirlab.hostport import host_port
from fdirlab.lab_config import Lab
from fdirlab.partition import Partition

PROTO_NAMES = {6: "tcp", 17: "udp"}


@dataclass(frozen=True)
class Finding:
    severity: str          # error | warning | info
    code: str
    message: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkerView:
    """What one lcore worker answered; `info` None: it did not answer (`error` says why)."""

    lcore: int
    info: dict[str, Any] | None
    pools: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] | None = None     # None: not asked
    neighs: list[dict[str, Any]] | None = None
    error: str = ""

    @property
    def alive(self) -> bool:
        return self.info is not None


AMBIGUOUS = -1        # steered_port: overlapping entries of equal priority disagree


def _filters_for(st: SwitchState, addr: str) -> list[Entry]:
    """Every flow-director entry (generated or hand-made) that can match `addr`,
    highest priority first (ties in key order: the verdict never depends on read order)."""
    a = ipaddress.ip_address(addr)
    table = "fdir_v4" if a.version == 4 else "fdir_v6"
    out = []
    for e in st.entries:
        if e.table != table:
            continue
        m = e.field("dst_addr")
        if m is None or (int(a) & (m.mask or 0)) == (m.value & (m.mask or 0)):
            out.append(e)
    return sorted(out, key=lambda e: (-e.priority, repr(e.key)))


def steered_port(filters: list[Entry], port: int, proto: int) -> int | None:
    """The port the highest-priority matching filter steers to; None on a miss; AMBIGUOUS
    when matching filters of that same priority steer to different ports (P4Runtime §9.1
    leaves the winner to the target)."""
    best: int | None = None
    result: int | None = None
    for e in filters:
        if best is not None and e.priority < best:
            break
        p = e.field("proto")
        if p is not None and p.value != proto:
            continue
        m = e.field("l4_dport")
        if m is None or (port & (m.mask or 0)) == (m.value & (m.mask or 0)):
            got = e.param("port") if e.action == "steer" else None
            if best is None:
                best, result = e.priority, got
            elif got != result:
                return AMBIGUOUS
    return result


def filter_del_cmd(e: Entry) -> str:
    """The `fdirctl filter del` command that removes flow-director entry e."""
    width = 32 if e.table == "fdir_v4" else 128
    dst, dport, proto = e.field("dst_addr"), e.field("l4_dport"), e.field("proto")
    full = (1 << width) - 1
    if dst is None:
        addr = "0.0.0.0/0" if width == 32 else "::/0"
    else:
        ip = str(ipaddress.ip_address(dst.value) if width == 32 else ipaddress.IPv6Address(dst.value))
        m = dst.mask if dst.mask is not None else full
        plen = bin(m).count("1")
        addr = ip if m == full else f"{ip}/{plen}"
    pv, pm = (dport.value, dport.mask or 0) if dport else (0, 0)
    pname = PROTO_NAMES.get(proto.value, str(proto.value)) if proto else "tcp"
    return (f"fdirctl filter del --addr {addr} --port {pv} --port-mask {pm:#x} --proto {pname} "
            f"--priority {e.priority}")


def winner(filters: list[Entry], port: int, proto: int) -> Entry | None:
    """The highest-priority filter matching (port, proto), None on a miss."""
    for e in filters:
        p = e.field("proto")
        if p is not None and p.value != proto:
            continue
        m = e.field("l4_dport")
        if m is None or (port & (m.mask or 0)) == (m.value & (m.mask or 0)):
            return e
    return None


def _views(workers: list[Any]) -> list[WorkerView]:
    """Accepts WorkerViews or the older (info, pools) pairs."""
    out = []
    for w in workers:
        if isinstance(w, WorkerView):
            out.append(w)
        else:
            info, pools = w
            out.append(WorkerView(int(info.get("lcore", len(out))), info, list(pools)))
    return out


def _worker_ports(part: Partition, lcore: int, slot: int, lo: int, hi: int) -> int:
    try:
        return len(part.owned_ports(lcore, slot, lo, hi))
    except Exception:
        return 0


def diagnose(st: SwitchState, workers: list[Any], lab: Lab | None = None,
             lab_path: str = "FILE") -> list[Finding]:
    """workers: one WorkerView per lcore (dead ones included); empty when there are no
    workers to ask. lab: the lab file, to compare against (what should be)."""
    out: list[Finding] = []
    fl = shellcmd.fdirctl(lab_path)
    for p in st.check():
        out.append(Finding("error", "switch-state", p, f"`{fl} reconcile`"))
    layout = st.layout
    if layout is None:
        out.append(Finding("error", "not-initialised", "the switch holds no lcore layout (restarted, or never "
                           "initialised)", f"`{fl} reconcile` (pushes the program, installs the lab's state)"))
        return out
    n = layout.n_lcores
    mask = mask_math.fdir_mask(n).mask
    fdir_mode = layout.mode == "fdir"
    on_switch = {a: ls.slot for a, ls in st.laddrs.items()}

    # 0. The switch against the lab file.
    if lab is not None:
        lab_layout = Layout.from_lab(lab)
        other = layout_differences(layout, lab_layout)
        if other:
            out.append(Finding("error", "switch-other-layout", "the switch holds another lab's layout (or the lab "
                               "file changed since init): " + "; ".join(other),
                               f"check --lab names this switch's lab file; if it does, `{fl} reconcile --force`"))
        drift = layout_differences(layout, lab_layout, ("miss",))
        if drift:
            out.append(Finding("error", "switch-layout-drift", "the switch's miss policy differs from the lab "
                               "file: " + "; ".join(drift), f"`{fl} reconcile`"))
        for a in lab.laddrs:
            if a not in on_switch:
                out.append(Finding("error", "laddr-missing-on-switch",
                                   f"local address {a} is in the lab file but not on the switch",
                                   f"`{fl} reconcile` (or `fdirctl laddr add {a}`)"))
        for a in sorted(on_switch):
            if a not in lab.laddrs:
                out.append(Finding("warning", "laddr-not-in-lab",
                                   f"local address {a} is on the switch but not in the lab file (added at run "
                                   f"time); a reconcile removes it (its filters, its sa_pools and the services' "
                                   f"binding of it)",
                                   f"list it in laddrs.addrs of the lab file, or `fdirctl laddr del {a}`"))

    # 0b. The miss policy decides every new conn: a client's first packet to a VIP matches no
    # flow-director filter (filters match the replies to local addresses), so it takes the miss
    # path (p4src lb_miss_policy). drop: no new conn is ever answered; lcore N: all on lcore N.
    vips = sorted(set(layout.vips) | set(lab.vips if lab is not None else ()))
    if vips and layout.miss.kind in ("drop", "lcore"):
        fix = (f"set miss_policy = \"rss\" in the [lab] of the lab file, then `{fl} reconcile`"
               if lab is not None and lab.miss.kind != "rss" else f"`{fl} reconcile`")
        if layout.miss.kind == "drop":
            out.append(Finding("error", "miss-drops-new-conns",
                               f"miss policy drop: a new conn's first packet to VIP {', '.join(vips)} matches no "
                               f"filter (filters match replies to local addresses), so every new conn is dropped",
                               fix))
        else:
            out.append(Finding("warning", "miss-pins-new-conns",
                               f"miss policy lcore {layout.miss.lcore}: a new conn's first packet to VIP "
                               f"{', '.join(vips)} matches no filter, so every new conn lands on lcore "
                               f"{layout.miss.lcore} (the others get none)", fix))

    # 1. Filter masks that do not fit the lcore count (the NIC has ONE global mask).
    for e in st.hand + [x for ls in st.laddrs.values() for x in ls.entries if x.table.startswith("fdir")]:
        m = e.field("l4_dport")
        pm = m.mask if m is not None and m.mask is not None else 0
        # A low-bit mask (2**k - 1) other than the lcore mask is the DPVS mistake; exact or
        # prefix port masks in hand-made filters are deliberate and left alone.
        if layout.scheme == "lsb" and pm not in (mask, 0) and pm & (pm + 1) == 0 and pm != 0xFFFF:
            out.append(Finding("error", "mask-mismatch",
                               f"filter {e.describe()} uses port mask {pm:#x}, but {n} lcores need mask {mask:#x}",
                               f"delete it (`{filter_del_cmd(e)}`) or set the lcore count to match"))
    # 1b. Overlapping filters of equal priority: the switch picks either (P4Runtime §9.1).
    for first, second in ambiguous_pairs(st.entries, st.hand + st.foreign):
        out.append(Finding("error", "equal-priority-overlap",
                           f"filters {first.describe()} and {second.describe()} overlap at the same priority "
                           f"{first.priority}: which one steers is up to the switch",
                           f"delete the hand-made one (`{filter_del_cmd(first)}`) and add it again with "
                           f"another --priority (generated filters use {mask_math.FILTER_PRIORITY})"))
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
    views = _views(workers)
    if not views:
        out.append(Finding("info", "no-workers", "no lcore workers to ask: only the switch was checked",
                           "give --lab FILE (or --run-dir) of a running lab"))
        return out
    reta_slots = {i: 0 for i in range(n)}
    for e in st.entries:
        if e.table == "reta":
            lc = layout.lcore_of_port(e.param("port") or -1)
            if lc is not None:
                reta_slots[lc] += 1
    for v in views:
        if not v.alive:
            rss = (f"RSS still hashes new flows to it ({reta_slots.get(v.lcore, 0)} RETA slots; "
                   f"`fdirctl rss exclude {v.lcore}` stops that)") if reta_slots.get(v.lcore) else \
                "it is out of the RETA"
            out.append(Finding("error", "worker-unreachable",
                               f"lcore {v.lcore}'s worker does not answer ({v.error or 'no answer'}); {rss}",
                               f"`{fl} worker restart {v.lcore}` (restarts it in its host and restores its "
                               f"pools, services and RETA slots)"))
        elif layout.miss.kind == "rss" and not reta_slots.get(v.lcore) and any(reta_slots.values()):
            out.append(Finding("warning", "reta-excludes-lcore",
                               f"lcore {v.lcore}'s worker answers but has no RETA slot: RSS gives it no new flows",
                               f"`fdirctl rss include {v.lcore}`"))
    live = [v for v in views if v.alive]
    # 3. Workers that disagree with the switch about lcores, scheme or mode.
    for v in live:
        info = v.info or {}
        if info.get("n_lcores") != n or info.get("scheme") != layout.scheme or info.get("mode") != layout.mode:
            out.append(Finding("error", "worker-config",
                               f"lcore {v.lcore} runs n={info.get('n_lcores')} scheme={info.get('scheme')} "
                               f"mode={info.get('mode')}, the switch has n={n} scheme={layout.scheme} "
                               f"mode={layout.mode}",
                               f"`{fl} worker restart {v.lcore} --replace` (with the lab's settings; "
                               f"if the switch is the odd one, `{fl} reconcile` first)"))
    # 4. Pools without filters, filters without pools, pools with another slot.
    pooled: dict[str, set[int]] = {}
    for v in live:
        for pool in v.pools:
            pooled.setdefault(pool["laddr"], set()).add(v.lcore)
            if pool["laddr"] in on_switch and int(pool.get("slot", 0)) != on_switch[pool["laddr"]]:
                out.append(Finding("error", "pool-slot-mismatch",
                                   f"lcore {v.lcore}'s sa_pool of {pool['laddr']} has slot {pool.get('slot')}, "
                                   f"the switch's filters slot {on_switch[pool['laddr']]}",
                                   f"`{fl} reconcile`"))
    for addr, lcores in sorted(pooled.items()):
        if addr not in on_switch:
            out.append(Finding("error", "pool-without-filters",
                               f"local address {addr} has sa_pools on lcores {sorted(lcores)} but the switch "
                               f"has no entries for it: its replies are not steered",
                               f"`{fl} laddr del {addr} --force` (drops the pools; or "
                               f"`laddr add {addr}` to install its filters)"))
    for addr in sorted(on_switch):
        missing = sorted({v.lcore for v in live} - pooled.get(addr, set()))
        if missing:
            out.append(Finding("error", "filters-without-pool",
                               f"local address {addr} has filters but no sa_pool on lcores {missing}",
                               f"`{fl} reconcile` (or `laddr del {addr} --force` and add it again)"))
    # 5. Pools that hand out ports the filters steer elsewhere.
    if fdir_mode:
        for v in live:
            i = v.lcore
            if not 0 <= i < n:
                continue
            lo, hi = (v.info or {}).get("port_range", [mask_math.DEFAULT_LOW, mask_math.DEFAULT_HIGH])
            want = layout.lcore_ports[i]
            for pool in v.pools:
                addr = pool["laddr"]
                if addr not in on_switch:
                    continue
                filters = _filters_for(st, addr)
                for proto in (6, 17):
                    wrong: dict[int | None, int] = {}
                    example = None
                    for port in part.owned_ports(i, pool.get("slot", 0), lo, hi):
                        got = steered_port(filters, port, proto)
                        if got != want and got != AMBIGUOUS:   # ambiguity is reported above
                            wrong[got] = wrong.get(got, 0) + 1
                            example = example or port
                    for got, count in wrong.items():
                        lc = layout.lcore_of_port(got) if got is not None else None
                        where = "nowhere (the miss path)" if got is None else \
                            f"port {got}" + (f" (lcore {lc})" if lc is not None else "")
                        w = winner(filters, example or 0, proto)
                        if w is not None and w.owner[0] != "laddr":
                            fix = (f"delete the filter that overrides them: `{filter_del_cmd(w)}` (reconcile "
                                   f"leaves hand-made filters alone)")
                        else:
                            fix = f"`{fl} reconcile` (its own filters are missing or wrong)"
                        out.append(Finding("error", "pool-steered-elsewhere",
                                           f"lcore {i} hands out {count} {PROTO_NAMES[proto]} ports of {addr} "
                                           f"(e.g. {example}) whose replies go to {where}, not to its port {want}",
                                           fix))
    # 6. Services: every lcore must be able to bind each service's conns from an address
    #    that has a pool (and filters) and gives this lcore ports; and match the lab file.
    #    The lab file's services want the lab file's addresses (what reconcile makes); an address
    #    added at run time belongs to the services it was attached to (DPVS ipvsadm --add-laddr),
    #    which only laddr-not-in-lab reports.
    worker_want = wanted(lab, {a: s for a, s in on_switch.items() if lab is not None and a in lab.laddrs})
    unbound: dict[str, dict[str, list[int]]] = {}      # lab address -> service -> lcores lacking it
    for v in live:
        if v.services is None:
            continue
        lo, hi = (v.info or {}).get("port_range", [mask_math.DEFAULT_LOW, mask_math.DEFAULT_HIGH])
        pools_here = {p["laddr"]: int(p.get("slot", 0)) for p in v.pools}
        have = {service_key(s): s for s in v.services}
        for key, svc in sorted(have.items()):
            name = f"{key[2]} {host_port(key[0], key[1])}"
            stale = [a for a in svc.get("laddrs", []) if a not in on_switch or a not in pools_here]
            for a in stale:
                why = "not on the switch" if a not in on_switch else "without an sa_pool here"
                out.append(Finding("error", "service-laddr-stale",
                                   f"lcore {v.lcore}'s service {name} binds local address {a}, {why}: conns "
                                   f"bound from it get no reply", f"`{fl} reconcile` (detaches it)"))
            ports = sum(_worker_ports(part, v.lcore, pools_here[a], lo, hi)
                        for a in svc.get("laddrs", []) if a in pools_here and a in on_switch)
            if not ports:
                out.append(Finding("error", "lcore-without-ports",
                                   f"lcore {v.lcore} has no local port for service {name} (its local addresses "
                                   f"{svc.get('laddrs', [])} give this lcore none): new conns RSS sends it fail",
                                   f"`fdirctl laddr add ADDR` of a new address (with the laddr scheme one per "
                                   f"lcore) and list it in the lab file; then `{fl} reconcile`"))
            if lab is not None:
                if key not in worker_want.services:
                    out.append(Finding("warning", "service-not-in-lab",
                                       f"lcore {v.lcore} runs service {name}, which the lab file does not list "
                                       f"(added at run time, e.g. by ipvsadm); a reconcile deletes it",
                                       f"list it in the lab file's [[services]], or `{fl} reconcile` (deletes it)"))
                    continue
                wsvc = worker_want.services[key]
                if spec_differs(svc, wsvc):
                    out.append(Finding("error", "service-differs",
                                       f"lcore {v.lcore}'s service {name} has another scheduler or real servers "
                                       f"than the lab file", f"`{fl} reconcile`"))
                for a in wsvc["laddrs"]:
                    if a not in svc.get("laddrs", []):
                        unbound.setdefault(a, {}).setdefault(name, []).append(v.lcore)
        if lab is not None:
            for key in sorted(set(worker_want.services) - set(have)):
                out.append(Finding("error", "service-missing",
                                   f"lcore {v.lcore} lacks service {key[2]} {host_port(key[0], key[1])} "
                                   "of the lab file",
                                   f"`{fl} reconcile`"))
        if lab is not None and v.neighs is not None:
            known = {str(x.get("addr")) for x in v.neighs}
            servers = sorted({b.addr for s in lab.services for b in s.backends} - known)
            if servers:
                out.append(Finding("error", "neigh-missing",
                                   f"lcore {v.lcore} has no neighbour entry for real server(s) {servers}",
                                   f"`{fl} reconcile`"))
    for a, svcs in sorted(unbound.items()):     # one finding per address
        where = "; ".join(f"{name} on lcore(s) {lcs}" for name, lcs in sorted(svcs.items()))
        out.append(Finding("warning", "service-laddr-missing",
                           f"local address {a} of the lab file is not bound by service(s) that list it: {where}",
                           f"`{fl} reconcile` (attaches it)"))
    if lab is not None:
        for lab_svc in lab.services:
            if (lab_svc.vip, lab_svc.vport, lab_svc.proto) not in worker_want.services:
                out.append(Finding("error", "service-without-laddr",
                                   f"service {lab_svc.name} ({lab_svc.proto} "
                                   f"{host_port(lab_svc.vip, lab_svc.vport)}): none "
                                   f"of its local addresses {list(lab_svc.laddrs)} is on the switch",
                                   f"`{fl} reconcile`"))
    return out
