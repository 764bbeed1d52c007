"""`fdirctl init`: push the pipeline and install port roles, RETA, L2, ARP answers, VIPs and the miss policy."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from controller import errors as E
from controller.commands.common import Subparsers, command, plist
from controller.laddr_ops import init
from controller.rules import Layout
from controller.session import Result, Session
from fdirlab import mask_math
from fdirlab.lab_config import LabConfigError, MissPolicy, parse_lab, parse_miss_policy
from fdirlab.partition import SCHEMES


def register(sub: Subparsers) -> None:
    sp = command(sub, "init", "push the pipeline and install lcores, port roles, RETA, L2, VIPs and the miss policy")
    sp.add_argument("--lcores", type=int, help="number of lcores (default: lab file or 4); lcore i is port i+1")
    sp.add_argument("--lcore-ports", help="explicit lcore ports, e.g. 1,2,3,4")
    sp.add_argument("--wire-ports", help="wire ports, e.g. 5,6,7,8 (default: the lab's hosts)")
    sp.add_argument("--scheme", choices=SCHEMES, help="port partition scheme (default: lab or lsb)")
    sp.add_argument("--mode", choices=("fdir", "rss", "handoff"), help="steering mode (only fdir installs filters)")
    sp.add_argument("--rss", choices=("on", "off"), help="RSS for unmatched LB traffic (off: --miss decides)")
    sp.add_argument("--miss", help="miss policy: rss, drop or lcore:N")
    sp.add_argument("--lb-mac", help="the load balancer's MAC (ARP answers)")
    sp.add_argument("--force", action="store_true", help="re-push the pipeline, dropping every entry")


def _ports(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, _, b = part.partition("-")
            if not (a.isdigit() and b.isdigit()) or int(a) > int(b):
                raise E.BadInput(f"{what} {text!r}: bad range {part!r}")
            out += range(int(a), int(b) + 1)
        elif part.isdigit():
            out.append(int(part))
        else:
            raise E.BadInput(f"{what} {text!r}: {part!r} is not a port number")
    return tuple(out)


def run(s: Session) -> Result:
    a = s.args
    data: dict[str, Any] = {}
    if s.lab is not None:
        data = tomllib.loads(Path(a.lab).read_text())
    if a.lcores is not None:
        if a.lcores < 1 or a.lcores > mask_math.MAX_LCORES:
            raise E.BadInput(f"lcore count {a.lcores}: must be 1..{mask_math.MAX_LCORES}")
        data.setdefault("lcores", {})["count"] = a.lcores
    if a.scheme is not None:        # validated with the lab's addresses: every lcore needs ports
        data.setdefault("lab", {})["scheme"] = a.scheme
    try:
        lab = parse_lab(data, a.lab or "<defaults>") if (data or s.lab is None) else s.lab
    except LabConfigError as e:
        raise E.BadInput(str(e)) from None
    layout = Layout.from_lab(lab)
    lcore_ports = _ports(a.lcore_ports, "--lcore-ports")
    wire_ports = _ports(a.wire_ports, "--wire-ports")
    if lcore_ports is not None and a.lcores is not None and len(lcore_ports) != a.lcores:
        raise E.BadInput(f"--lcore-ports {a.lcore_ports!r}: {len(lcore_ports)} ports for --lcores {a.lcores}")
    n = len(lcore_ports) if lcore_ports is not None else layout.n_lcores
    miss = layout.miss
    if a.miss is not None:
        try:
            miss = parse_miss_policy(a.miss, n, key="--miss")
        except LabConfigError as e:
            raise E.BadInput(str(e)) from None
    if a.rss == "on":
        if a.miss is not None and miss.kind != "rss":
            raise E.BadInput(f"--rss on contradicts --miss {a.miss}")
        miss = MissPolicy("rss")
    elif a.rss == "off" and miss.kind == "rss":
        if a.miss is not None:
            raise E.BadInput(f"--rss off contradicts --miss {a.miss}")
        miss = MissPolicy("drop")
    lports = lcore_ports if lcore_ports is not None else layout.lcore_ports
    wports = wire_ports if wire_ports is not None else layout.wire_ports
    # L2: the lab's hosts that sit on a wire port, and each lcore's MAC on its port
    l2 = [(h.mac, h.port) for h in lab.hosts if h.port in wports]
    l2 += [(lab.lcore_mac(i), p) for i, p in enumerate(lports)]
    layout = Layout(lcore_ports=lports, wire_ports=wports, scheme=a.scheme or layout.scheme,
                    mode=a.mode or layout.mode, miss=miss, lb_mac=a.lb_mac or layout.lb_mac,
                    vips=layout.vips, l2=tuple(l2))
    res = init(s.ctx(write=True), layout, force=a.force)
    text = (f"initialised {s.grpc_addr}: {res['lcores']} lcores on ports {plist(res['lcore_ports'])}, "
            f"wire ports {plist(res['wire_ports'])}, scheme {res['scheme']}, mode {res['mode']}, "
            f"miss policy {res['miss_policy']}, {res['entries']} entries"
            + (" (pipeline pushed)" if res["pipeline_pushed"] else ""))
    return res, text, E.EXIT_OK
