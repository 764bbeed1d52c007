"""Scheme laddr in the live lab (root), local addresses listed v4, v6, v4, v6 with 2 lcores
(breakit2 finding 12): slots count per family, so each lcore owns one IPv4 and one IPv6
address; TCP over both families is answered and every reply returns to its lcore."""
from __future__ import annotations

import pytest

from controller.workers import WorkerClient
from topo.lab import LabRun

pytestmark = pytest.mark.root

ADDRS = ["10.0.0.200", "fd00:fd::200", "10.0.0.201", "fd00:fd::201"]


def test_laddr_scheme_with_interleaved_families():
    lab = LabRun(None, target="softswitch", steering="fdir", overrides={
        "lab": {"name": "e2e-laddr", "run_dir": "/tmp/fdirlab/e2e-laddr", "scheme": "laddr"},
        "switch": {"grpc_addr": "127.0.0.1:9578"}, "lcores": {"count": 2}, "laddrs": {"addrs": ADDRS}})
    with lab:
        results = {}
        for vip in ("10.0.0.100", "fd00:fd::100"):
            results[vip] = lab.traffic("h1", vip, 80, "tcp", 80)
        pools = []
        for i in range(2):
            c = WorkerClient(i, lab.lab.socket_path(i))
            try:
                pools.append({p["laddr"]: p["slot"] for p in c.pools()["pools"]})
                stats = c.stats()
            finally:
                c.close()
            assert stats.get("drops", {}).get("reply_other_lcore", 0) == 0, stats
    for vip, r in results.items():
        assert r["failed"] == 0 and r["ok"] == 80, (vip, r)
        fam = [a for a in ADDRS if (":" in a) == (":" in vip)]
        assert set(r["via"]) == set(fam), (vip, r)           # both lcores bound conns
    assert pools[0] == pools[1] == {"10.0.0.200": 0, "10.0.0.201": 1, "fd00:fd::200": 0, "fd00:fd::201": 1}
