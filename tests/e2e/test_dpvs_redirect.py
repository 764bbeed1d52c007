"""A dpvs.conf with 8 slave workers, no flow-director filters and `redirect on` (root):
the lab runs DPVS's software fallback as the handoff mode with DPVS's 2048-deep rings; the
runbook, typed in a shell with the venv's ipvsadm/dpip, gets every request answered although
RSS lands most replies on the wrong lcore."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fdirlab import dpvs_conf
from lcore.control import request
from topo.lab import LabRun

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv/bin"
VS = ["-t", "10.0.0.100:80"]


def test_redirect_on_is_handoff_with_2048_deep_rings():
    d = dpvs_conf.load(REPO / "tests/dpvs/confs/eight-workers-redirect.conf")
    d.lab["lab"].update(name="e2e-redirect", run_dir="/tmp/fdirlab/e2e-redirect")
    d.lab["switch"] = {"grpc_addr": "127.0.0.1:9577"}
    with LabRun(None, target="softswitch", data=d.lab) as lab:
        labf = str(lab.run_dir / "lab.toml")
        env = {**lab._env(), "FDIRLAB_LAB": labf}

        def run(*cmd: str) -> str:
            r = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], capture_output=True, text=True,
                               env=env)
            assert r.returncode == 0, (cmd, r.stderr)
            return r.stdout

        def worker(i: int, op: str) -> dict:
            return request(lab.lab.socket_path(i), {"op": op})

        # the dpvs.conf's ipvs_defs timeouts are the workers' (set_timeouts with no field reads)
        for i in range(8):
            t = worker(i, "set_timeouts")["timeouts"]
            assert (t["established"], t["time_wait"], t["udp"]) == (60, 5, 120), t

        info = json.loads(run("fdirctl", "--lab", labf, "--json", "status"))
        assert info["lcores"] == 8 and info["mode"] == "handoff"
        run("dpip", "addr", "add", "10.0.0.100/32", "dev", "dpdk0")
        run("ipvsadm", "-A", *VS, "-s", "wrr")
        run("ipvsadm", "-a", *VS, "-r", "10.0.2.1:80", "-b", "-w", "2")
        run("ipvsadm", "-a", *VS, "-r", "10.0.2.2:80", "-b")
        run("ipvsadm", "--add-laddr", "-z", "10.0.0.200", *VS, "-F", "dpdk0")
        # four shells add the same real server at once: one wins, the others are refused,
        # and every worker ends with the same servers
        racers = [subprocess.Popen([str(BIN / "ipvsadm"), "-a", *VS, "-r", "10.0.2.3:80", "-b",
                                    "-w", str(w)], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE) for w in (1, 2, 3, 4)]
        codes = sorted(p.wait(60) for p in racers)
        assert codes[0] == 0 and all(c != 0 for c in codes[1:]), codes
        views = {json.dumps(sorted((x["addr"], x["port"], x["weight"])
                                   for x in worker(i, "services")["services"][0]["servers"]))
                 for i in range(8)}
        assert len(views) == 1 and "10.0.2.3" in views.pop()
        run("ipvsadm", "-d", *VS, "-r", "10.0.2.3:80")
        fdir = run("fdirctl", "--lab", labf, "show", "fdir")
        res = lab.traffic("h1", "10.0.0.100", 80, count=120)
        stats = json.loads(run("fdirctl", "--lab", labf, "--json", "stats"))
        depths = {worker(i, "info")["handoff_depth"] for i in range(8)}
    assert "0 entries" in fdir  # no filters: the redirect path does the work
    assert depths == {dpvs_conf.DPVS_REDIRECT_RING_SIZE}
    assert res["failed"] == 0 and res["ok"] == 120, res
    handed = sum(r["do_handoff"] for r in stats["lcores"])
    taken = sum(r["handoff_in"] for r in stats["lcores"])
    assert handed > 0 and handed == taken, stats  # replies redirected to their owner, none lost
    assert sum(r["congestion_drop"] for r in stats["lcores"]) == 0
