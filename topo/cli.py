"""The lab's Mininet prompt with DPVS's tools: `ipvsadm ...`, `dpip ...` and `fdirctl ...`
typed at `mininet>` act on this lab exactly as the same line does in a shell: the line goes
to /bin/sh (as Mininet's own `sh` does) with the lab's environment ($FDIRLAB_LAB, the venv on
PATH), the tool told the lab with --lab, its output straight to the terminal. So pipes,
redirects and `&&` work (`ipvsadm -ln | grep TCP`, `dpip addr show > f`), `fdirctl top` is
live, and Ctrl-C stops the command, not the lab (controller/ipvsadm.py, controller/dpip.py)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from mininet.cli import CLI

from fdirlab.lab_config import LAB_ENV
from topo.hosts import PYTHON

TOOLS = {"ipvsadm": "controller.ipvsadm", "dpip": "controller.dpip", "fdirctl": "controller"}
SHELL = "/bin/sh"
INTERRUPT_GRACE = 3.0       # seconds a Ctrl-C'd command gets to end itself before SIGKILL


def strip_comment(line: str) -> str:
    """`line` without a shell comment: a `#` that starts a word outside quotes ends the
    line (POSIX shell, XCU 2.3 rule 9); a `#` inside quotes, after a backslash or inside a
    word stays. (Mininet cuts at any `#`, which broke `--dev 'x#y'` and `echo a#b`.)"""
    quote = ""
    prev = " "
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                prev = "x"
                continue
            if ch == quote:
                quote = ""
        elif ch == "\\":
            i += 2
            prev = "x"
            continue
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (prev.isspace() or prev in ";&|()<>"):
            return line[:i].rstrip()
        prev = ch
        i += 1
    return line


def tool_command(tool: str, lab_file: str, line: str, python: str = PYTHON) -> str:
    """The shell text that runs `tool line` on this lab: `<python> -m <module> --lab <lab>`
    then the line exactly as typed (pipes, redirects, quotes are the shell's)."""
    return f"{shlex.quote(python)} -m {TOOLS[tool]} --lab {shlex.quote(lab_file)} {line}"


def tool_env(env: dict[str, str], lab_file: str, python: str = PYTHON) -> dict[str, str]:
    """The lab's environment for a prompt command: $FDIRLAB_LAB (so a second `ipvsadm` after
    `;` or `|` finds the lab too) and the venv's bin first on PATH (fdirctl, ipvsadm, dpip)."""
    out = dict(env)
    out[LAB_ENV] = lab_file
    out["PATH"] = str(Path(python).parent) + os.pathsep + out.get("PATH", "")
    return out


def run_in_shell(text: str, env: dict[str, str]) -> int:
    """Run `text` with /bin/sh on the terminal (stdin, stdout, stderr inherited); its exit
    status. Ctrl-C reaches the command (the terminal's foreground group); the prompt waits
    INTERRUPT_GRACE s for it to end, then kills it, and returns 130 instead of raising."""
    proc = subprocess.Popen([SHELL, "-c", text], env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            proc.wait(INTERRUPT_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print()
        return 130


class LabCLI(CLI):  # Mininet has no type hints
    """Mininet's CLI plus `ipvsadm`, `dpip` and `fdirctl` for the running lab."""

    def __init__(self, net, lab_file: str, env: dict[str, str], **kw) -> None:
        self.lab_file = lab_file
        self.env = tool_env(env, lab_file)
        super().__init__(net, **kw)

    def precmd(self, line: str) -> str:
        """Comments as a shell reads them (Mininet's own cut at any `#`)."""
        return strip_comment(line)

    def _tool(self, tool: str, line: str) -> int:
        return run_in_shell(tool_command(tool, self.lab_file, line), self.env)

    def do_ipvsadm(self, line: str) -> None:
        """DPVS ipvsadm on this lab: -A/-E/-D/-C, -a/-e/-d, --add-laddr/--del-laddr, -G,
        -L -n [--stats|--rate], -Z. Shell syntax works: ipvsadm -ln | grep TCP"""
        self._tool("ipvsadm", line)

    def do_dpip(self, line: str) -> None:
        """DPVS dpip on this lab: addr add|del ADDR/LEN dev IFACE [sapool], [-s] addr show.
        Shell syntax works: dpip addr show > addrs.txt"""
        # No static IPv6 neighbour entries on the hosts: the NIC answers Neighbor
        # Solicitations for every address dpip or ipvsadm makes load-balancer-owned.
        self._tool("dpip", line)

    def do_fdirctl(self, line: str) -> None:
        """fdirctl on this lab (stats, doctor, top, show fdir, export --format ...); live
        views (top) redraw on the terminal, Ctrl-C ends them."""
        self._tool("fdirctl", line)
