"""The text `make run` prints when the lab is up: what runs, and commands to try at the
Mininet prompt. Pure (no Mininet), so a lab file's banner can be checked without root.
Every URL and address:port in it is written as the tool reads it: an IPv6 VIP in brackets
(fdirlab.hostport; curl -g so curl does not read the brackets as a glob)."""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

from fdirlab.hostport import host_port, http_url
from fdirlab.lab_config import Lab, Service
from topo.hosts import PYTHON


def _first(lab: Lab, proto: str, family: int) -> Service | None:
    return next((s for s in lab.services
                 if s.proto == proto and ipaddress.ip_address(s.vip).version == family), None)


def try_lines(lab: Lab, python: str = PYTHON) -> list[str]:
    """The `try:` commands: curl, nc, topo.traffic and wrk against the lab's services (one
    IPv4 and one IPv6 curl when both exist), or the DPVS commands that make a first service."""
    c = lab.clients[0].name
    webs = [s for s in (_first(lab, "tcp", 4), _first(lab, "tcp", 6)) if s]
    udp = _first(lab, "udp", 4) or _first(lab, "udp", 6)
    cmds: list[str] = []
    for w in webs:
        cmds.append(f"{c} curl -s{' -g' if ':' in w.vip else ''} {http_url(w.vip, w.vport, '/hello')}")
    if udp:
        cmds.append(f"{c} sh -c 'echo hi | nc -u -w1 {udp.vip} {udp.vport}'")
    if lab.vips:
        web = webs[0] if webs else None
        vip = web.vip if web else lab.vips[0]
        cmds.append(f"{c} {python} -m topo.traffic --vip {vip} --count 200")
        if web:
            cmds.append(f"{c} wrk -t1 -c32 -d5s -H 'Connection: close' --latency "
                        f"{http_url(web.vip, web.vport)}   (new conns/s)")
        return [("  try:  " if i == 0 else "        ") + x for i, x in enumerate(cmds)]
    net = ipaddress.ip_network(lab.subnet)
    vip, laddr = str(net.network_address + 100), str(net.network_address + 200)
    vs = host_port(vip, 80)
    dev = lab.nic.device
    return ["  no services yet: configure it as in DPVS, at this prompt, e.g.",
            f"        dpip addr add {vip}/32 dev {dev}",
            f"        ipvsadm -A -t {vs} -s rr",
            f"        ipvsadm -a -t {vs} -r {host_port(lab.servers[0].ip, 80)} -b",
            f"        ipvsadm --add-laddr -z {laddr} -t {vs} -F {dev}",
            "        ipvsadm -ln --stats;  ipvsadm -G;  dpip -s addr show"]


def guide_text(lab: Lab, target: str, run_dir: Path, log_dir: Path, pcap: bool,
               fdirctl_log: Sequence[str], python: str = PYTHON) -> str:
    """The whole banner, one string of lines."""
    lines = [f"fdirlab '{lab.name}' is up: {target}, {lab.n_lcores} lcores, "
             f"steering {lab.steering}, scheme {lab.scheme}",
             f"  clients {', '.join(h.name for h in lab.clients)}; real servers "
             f"{', '.join(h.name for h in lab.servers)}; lcore hosts l0..l{lab.n_lcores - 1}",
             f"  local addresses {', '.join(lab.laddrs)}"]
    lines += try_lines(lab, python)
    lines += [f"  at this prompt or in another shell (fdirctl, ipvsadm, dpip are in {Path(python).parent}):",
              f"        sh fdirctl --lab {run_dir / 'lab.toml'} show fdir"
              "   (also: top, stats, doctor, laddr list)",
              f"  logs: {log_dir}" + ("   (and a pcap per switch port and direction: "
                                      "s1-ethN_in.pcap, s1-ethN_out.pcap)" if pcap else ""),
              "  configured with: " + "; ".join(fdirctl_log),
              "  leave with 'exit' (or Ctrl-D): everything is torn down"]
    return "\n".join(lines)
