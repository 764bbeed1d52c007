"""`fdirctl schemes`: entries and ports per lcore each partition scheme costs (no switch needed)."""
from __future__ import annotations

from controller import errors as E
from controller.commands.common import Subparsers, command
from controller.rules import scheme_costs
from controller.session import Result, Session
from fdirlab import mask_math
from fdirlab.lab_config import LabConfigError, default_lab, parse_port_range


def register(sub: Subparsers) -> None:
    sp = command(sub, "schemes", "entries and ports per lcore each partition scheme costs (no switch needed)")
    sp.add_argument("--lcores", type=int, help="default: lab file or 4")
    sp.add_argument("--laddrs", type=int, help="number of local addresses (default: lab file or 2)")
    sp.add_argument("--port-range", help="LOW-HIGH (default: lab file or 1025-65535)")


def run(s: Session) -> Result:
    a = s.args
    lab = s.lab or default_lab()
    n = a.lcores if a.lcores is not None else lab.n_lcores
    k = a.laddrs if a.laddrs is not None else len(lab.laddrs)
    if k < 0:
        raise E.BadInput(f"--laddrs {k}: must be >= 0")
    low, high = (lab.lcores.port_low, lab.lcores.port_high)
    if a.port_range:
        try:
            low, high = parse_port_range(a.port_range, "--port-range")
        except LabConfigError as e:
            raise E.BadInput(str(e)) from None
    if n < 1 or n > mask_math.MAX_LCORES:
        raise E.BadInput(f"lcore count {n}: must be 1..{mask_math.MAX_LCORES}")
    costs = scheme_costs(n, k, low, high)
    rows = [c.to_json() for c in costs]
    lines = [f"{n} lcores, {k} local addresses, ports {low}-{high}, TCP+UDP:",
             f"{'scheme':<7} {'entries':>8} {'ports/lcore min':>16} {'max':>8} {'unowned/laddr':>14}"]
    for r in rows:
        lines.append(f"{r['scheme']:<7} {r['entries']:>8} {r['min_ports']:>16} {r['max_ports']:>8} "
                     f"{r['unowned_ports_per_laddr']:>14}")
    if n <= 16:
        for c in costs:
            lines.append(f"  {c.scheme}: " + " ".join(f"{i}:{p}" for i, p in enumerate(c.ports_per_lcore)))
    return {"schemes": rows, "lcores": n, "laddrs": k, "port_low": low, "port_high": high}, "\n".join(lines), 0
