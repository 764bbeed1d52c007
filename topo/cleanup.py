"""`make clean` for the lab: remove what a crashed or killed run left behind -- lab
processes, Mininet namespaces and veths, the run directory. Safe to run any time."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

# Command-line fragments that mark the processes a lab starts (and only those: a softswitch
# that tests run on their own veths is left alone): the switch bound to s1-ethN, workers
# with their sockets under /tmp/fdirlab, real servers and clients, iperf3 servers.
LAB_PROCESSES = ("@s1-eth", "/tmp/fdirlab/", "-m topo.realserver", "-m topo.traffic", "iperf3 -s")
RUN_ROOT = Path("/tmp/fdirlab")


def _pids_whose_cmdline(match) -> list[int]:
    me = os.getpid()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == me:
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if match(cmd):
            out.append(int(d.name))
    return out


def lab_pids() -> list[int]:
    return _pids_whose_cmdline(lambda cmd: any(frag in cmd for frag in LAB_PROCESSES))


def mininet_shells() -> list[int]:
    """Mininet's host shells: `bash ... mininet:<host>`, one per host namespace."""
    return _pids_whose_cmdline(lambda cmd: "mininet:" in cmd)


def lab_links() -> list[str]:
    return sorted(p.name for p in Path("/sys/class/net").iterdir() if p.name.startswith("s1-eth"))


def cleanup(verbose: bool = True) -> dict:
    pids = lab_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Mininet host shells ("bash ... mininet:h1") hold the hosts' network namespaces; killing
    # them frees the namespaces and their veth ends. (Not `mn -c`: it also deletes /tmp/*.log.)
    shells = mininet_shells()
    for pid in shells:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    links = lab_links()
    for name in links:
        subprocess.run(["ip", "link", "del", name], stderr=subprocess.DEVNULL)
    shutil.rmtree(RUN_ROOT, ignore_errors=True)
    result = {"killed": len(pids), "hosts": len(shells), "links_removed": len(links)}
    if verbose:
        print(f"clean: killed {len(pids)} lab process(es) and {len(shells)} Mininet host shell(s), "
              f"removed {len(links)} leftover link(s) and {RUN_ROOT}")
    return result
