"""Local addresses change under running traffic (root): conns already open finish without
error, new conns use the new address, the old one goes once it has drained."""
from __future__ import annotations

import threading
import time

import pytest

from topo.lab import LabRun

pytestmark = pytest.mark.root

OLD, KEPT, NEW = "10.0.0.200", "10.0.0.201", "10.0.0.202"


def test_laddr_added_and_removed_while_traffic_runs():
    with LabRun(None, target="softswitch", overrides={
            "lab": {"name": "e2e-laddr", "run_dir": "/tmp/fdirlab/e2e-laddr"},
            "switch": {"grpc_addr": "127.0.0.1:9574"}}) as lab:
        web = next(s for s in lab.lab.services if s.proto == "tcp")
        # 24 conns the real servers hold open for 4 s, bound to OLD and KEPT.
        slow = lab.traffic_start("h1", web.vip, web.vport, count=24, parallel=24, timeout=20,
                                 path_prefix="/slow/4")
        time.sleep(1.5)
        lab.fdirctl("laddr", "add", NEW)
        deleted = {}
        t = threading.Thread(target=lambda: deleted.update(
            out=lab.fdirctl("laddr", "del", OLD, "--drain", "30")))
        t.start()
        time.sleep(0.5)
        # While OLD drains, new conns bind KEPT and NEW only.
        fresh = lab.traffic("h2", web.vip, web.vport, count=60, path_prefix="/fresh")
        old = lab.traffic_result(slow)
        t.join(60)
        assert old["failed"] == 0 and old["ok"] == 24, old
        assert fresh["failed"] == 0, fresh
        listed = lab.fdirctl("laddr", "list")
        after = lab.traffic("h2", web.vip, web.vport, count=40, path_prefix="/after")
    assert set(old["via"]) <= {OLD, KEPT} and OLD in old["via"], old
    # The real servers saw the new conns come from the kept and the new address only.
    assert set(fresh["via"]) <= {KEPT, NEW} and NEW in fresh["via"], fresh
    assert "deleted" in deleted.get("out", ""), deleted
    assert OLD not in listed and NEW in listed and KEPT in listed
    assert after["failed"] == 0 and set(after["via"]) <= {KEPT, NEW}, after
