"""A dpvs.conf whose slave workers poll a bonding (as DPVS's bonding samples do: `bonding
bond0 { slave dpdk0 slave dpdk2 }`, workers on `port bond0`) builds a lab (root): the bonding is
the lab's NIC device, the runbook names it (`dev lag0`, `-F lag0`), filters steer every reply
to its lcore (break-it 2 finding 8)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fdirlab import dpvs_conf
from topo.lab import LabRun

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv/bin"
VS = ["-t", "10.0.0.100:80"]


def test_bonding_is_the_labs_nic_device():
    d = dpvs_conf.load(REPO / "tests/dpvs/confs/one-bond.conf")
    d.lab["lab"].update(name="e2e-bond", run_dir="/tmp/fdirlab/e2e-bond")
    d.lab["switch"] = {"grpc_addr": "127.0.0.1:9578"}
    with LabRun(None, target="softswitch", data=d.lab) as lab:
        labf = str(lab.run_dir / "lab.toml")
        env = {**lab._env(), "FDIRLAB_LAB": labf}

        def run(*cmd: str, ok: bool = True) -> subprocess.CompletedProcess:
            r = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], capture_output=True, text=True, env=env)
            assert (r.returncode == 0) == ok, (cmd, r.stdout, r.stderr)
            return r

        run("dpip", "addr", "add", "10.0.0.100/32", "dev", "lag0")
        run("ipvsadm", "-A", *VS, "-s", "rr")
        run("ipvsadm", "-a", *VS, "-r", "10.0.2.1:80", "-b")
        run("ipvsadm", "--add-laddr", "-z", "10.0.0.200", *VS, "-F", "lag0")
        wrong = run("ipvsadm", "--add-laddr", "-z", "10.0.0.201", *VS, "-F", "eth10", ok=False)
        res = lab.traffic("h1", "10.0.0.100", 80, count=60)
        stats = json.loads(run("fdirctl", "--lab", labf, "--json", "stats").stdout)
    assert "eth10" in wrong.stderr                     # a bond's slave is not the lab's device
    assert res["failed"] == 0 and res["ok"] == 60, res
    assert len(stats["lcores"]) == 2
    assert sum(r["conns_new"] for r in stats["lcores"]) == 60
    assert all(r["conns_new"] > 0 for r in stats["lcores"]), stats
