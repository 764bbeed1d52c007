"""Local addresses change under running traffic (root), IPv4 and IPv6 alike: conns already
open finish without error, new conns use the new address, the old one goes once it has
drained. A new IPv6 local address is reachable from the real servers without any static
neighbour entry: the NIC answers their Neighbor Solicitations for it."""
from __future__ import annotations

import json
import threading
import time

import pytest

from topo.lab import LabRun

pytestmark = pytest.mark.root

FAMILIES = {4: ("10.0.0.200", "10.0.0.201", "10.0.0.202"),
            6: ("fd00:fd::200", "fd00:fd::201", "fd00:fd::202")}


@pytest.mark.parametrize("family", [4, 6])
def test_laddr_added_and_removed_while_traffic_runs(family):
    OLD, KEPT, NEW = FAMILIES[family]
    with LabRun(None, target="softswitch", overrides={
            "lab": {"name": f"e2e-laddr{family}", "run_dir": f"/tmp/fdirlab/e2e-laddr{family}"},
            "switch": {"grpc_addr": f"127.0.0.1:{9570 + family}"}}) as lab:
        web = next(s for s in lab.lab.services if s.proto == "tcp" and (":" in s.vip) == (family == 6))
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
        stats = json.loads(lab.fdirctl("--json", "stats"))
    assert set(old["via"]) <= {OLD, KEPT} and OLD in old["via"], old
    # The real servers saw the new conns come from the kept and the new address only.
    assert set(fresh["via"]) <= {KEPT, NEW} and NEW in fresh["via"], fresh
    assert "deleted" in deleted.get("out", ""), deleted
    assert OLD not in listed and NEW in listed and KEPT in listed
    assert after["failed"] == 0 and set(after["via"]) <= {KEPT, NEW}, after
    # return-path affinity 100%: every reply found its conn on the lcore it reached
    assert stats["total"]["affinity"] == 100.0 and stats["total"]["reply_misses"] == 0, stats["total"]
