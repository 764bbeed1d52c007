"""Recovery in the live lab (root, Mininet): a worker killed with -9 is reported by stats and
doctor, taken out of the RETA (`fdirctl rss exclude`) and restarted in its host by
`fdirctl worker restart`, and the switch killed with -9
comes back through `fdirctl reconcile`; after each, real client traffic is answered in full
and doctor is clean (issue 10, kinds 2b and 3)."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from fdirlab.run_record import read_record
from topo.lab import LabRun

pytestmark = pytest.mark.root
RUNTIME = "10.0.0.205"


def _json(lab: LabRun, *args: str) -> dict:
    return json.loads(lab.fdirctl("--json", *args, check=False).strip().splitlines()[-1])


@pytest.mark.parametrize("target", ["softswitch", "bmv2"])
def test_dead_worker_restart_and_switch_kill9_reconcile_with_traffic(target):
    import shutil
    if target == "bmv2" and shutil.which("simple_switch_grpc") is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH")
    with LabRun(None, target=target, overrides={
            "lab": {"name": "e2e-recover", "run_dir": "/tmp/fdirlab/e2e-recover"},
            "switch": {"grpc_addr": "127.0.0.1:9575"}}) as lab:
        web = next(s for s in lab.lab.services if s.proto == "tcp")
        assert lab.traffic("h1", web.vip, web.vport, count=40)["failed"] == 0

        # a worker dies
        rec = read_record(lab.run_dir, 1)
        os.kill(rec.pid, signal.SIGKILL)
        lab.workers[1].wait(5)
        stats = _json(lab, "stats")
        assert stats["exit_code"] == 6
        assert [r["lcore"] for r in stats["lcores"]] == [0, 2, 3] and [d["lcore"] for d in stats["dead"]] == [1]
        doc = _json(lab, "doctor")
        assert doc["lcores_dead"] == [1] and "worker-unreachable" in {f["code"] for f in doc["findings"]}
        fix = next(f["fix"] for f in doc["findings"] if f["code"] == "worker-unreachable")
        assert "worker restart 1" in fix
        # as a NIC driver would: RSS stops hashing new flows to the dead lcore; all are answered
        lab.fdirctl("rss", "exclude", "1")
        while_dead = lab.traffic("h1", web.vip, web.vport, count=100)
        assert while_dead["failed"] == 0, while_dead
        lab.fdirctl("worker", "restart", "1")           # also gives it back its RETA slots
        assert _json(lab, "show", "rss")["per_lcore"]["1"]["slots"] == 32
        assert _json(lab, "doctor")["errors"] == 0
        after_restart = lab.traffic("h1", web.vip, web.vport, count=100)
        assert after_restart["failed"] == 0, after_restart
        stats = _json(lab, "stats")
        assert stats["exit_code"] == 0 and stats["lcores"][1]["conns"] > 0   # the new worker serves

        # an address added at run time, then the switch dies and comes back empty
        lab.fdirctl("laddr", "add", RUNTIME)
        lab.restart_switch()
        doc = _json(lab, "doctor")
        assert "not-initialised" in {f["code"] for f in doc["findings"]}
        lab.fdirctl("reconcile")
        doc = _json(lab, "doctor")
        assert doc["errors"] == 0, doc
        listed = lab.fdirctl("laddr", "list")
        assert RUNTIME not in listed
        time.sleep(0.5)
        after_switch = lab.traffic("h2", web.vip, web.vport, count=100)
    assert after_switch["failed"] == 0 and RUNTIME not in after_switch["via"], after_switch
