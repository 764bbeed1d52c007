"""`fdirctl export --format ethtool|rte-flow|tc-flower|tc-u32`: the installed filters as commands for a real NIC."""
from __future__ import annotations

from controller import export
from controller.commands.common import Subparsers, command
from controller.export import render, rows_from_state
from controller.session import Result, Session


def register(sub: Subparsers) -> None:
    sp = command(sub, "export", "the installed filters as commands for a real NIC "
                       "(queues from the lab's rx queues)")
    sp.add_argument("--format", required=True, choices=export.FORMATS)
    sp.add_argument("--dev", help="NIC name (default: the lab's nic.device, dpdk0)")
    sp.add_argument("--port-id", type=int, default=0, help="DPDK port id for rte-flow (default 0)")


def run(session: Session) -> Result:
    """`fdirctl export`: read the switch's filters and render them (fdirctl Session)."""
    a = session.args
    ctx = session.ctx()
    st, layout = ctx.initialised()
    lab = session.lab
    rxq = lab.lcores.rx_queues if lab is not None and lab.n_lcores == layout.n_lcores else ()
    dev = a.dev or (lab.nic.device if lab is not None else "dpdk0")
    fuzzy = lab is not None and lab.nic.fdir_mode == "signature"
    rows = rows_from_state(st.entries, layout.lcore_ports, rxq)
    lines = render(rows, a.format, dev, a.port_id, fuzzy)
    return (
        {"format": a.format, "device": dev, "commands": lines, "filters": len(rows)},
        "\n".join(lines),
        0,
    )
