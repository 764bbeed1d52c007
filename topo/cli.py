"""The lab's Mininet prompt with DPVS's tools: `ipvsadm ...` and `dpip ...` typed at
`mininet>` act on this lab exactly as the console scripts do in a shell with --lab
(controller/ipvsadm.py, controller/dpip.py), so a DPVS runbook runs unchanged."""

from __future__ import annotations

import shlex
import subprocess

from mininet.cli import CLI

from topo.hosts import PYTHON


class LabCLI(CLI):  # Mininet has no type hints
    """Mininet's CLI plus `ipvsadm`, `dpip` and `fdirctl` for the running lab."""

    def __init__(self, net, lab_file: str, env: dict[str, str], **kw) -> None:
        self.lab_file = lab_file
        self.env = env
        super().__init__(net, **kw)

    def _tool(self, module: str, line: str) -> int:
        try:
            args = shlex.split(line)
        except ValueError as e:
            print(f"{module.rsplit('.', 1)[-1]}: {e}")
            return 2
        res = subprocess.run(
            [PYTHON, "-m", module, "--lab", self.lab_file, *args],
            capture_output=True,
            text=True,
            env=self.env,
        )
        out = (res.stdout + res.stderr).rstrip("\n")
        if out:
            print(out)
        return res.returncode

    def do_ipvsadm(self, line: str) -> None:
        """DPVS ipvsadm on this lab: -A/-E/-D/-C, -a/-e/-d, --add-laddr/--del-laddr, -G,
        -L -n [--stats|--rate], -Z."""
        self._tool("controller.ipvsadm", line)

    def do_dpip(self, line: str) -> None:
        """DPVS dpip on this lab: addr add|del ADDR/LEN dev IFACE [sapool], [-s] addr show."""
        # No static IPv6 neighbour entries on the hosts: the NIC answers Neighbor
        # Solicitations for every address dpip or ipvsadm makes load-balancer-owned.
        self._tool("controller.dpip", line)

    def do_fdirctl(self, line: str) -> None:
        """fdirctl on this lab (stats, doctor, show fdir, export --format ...)."""
        self._tool("controller", line)
