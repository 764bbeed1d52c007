"""End to end in the live Mininet lab (root): real TCP (HTTP) and UDP through the NIC and
the lcore workers, in the three steering modes, with affinity read from the workers."""
from __future__ import annotations

import json
import shutil

import pytest

from controller.workers import WorkerClient
from topo.lab import LabRun

pytestmark = pytest.mark.root

CONNS_PER_CLIENT = 150


def _lab(mode: str, port: int, target: str = "softswitch") -> LabRun:
    return LabRun(None, target=target, steering=mode, overrides={
        "lab": {"name": f"e2e-{mode}-{target}", "run_dir": f"/tmp/fdirlab/e2e-{mode}-{target}"},
        "switch": {"grpc_addr": f"127.0.0.1:{port}"}})


def worker_stats(lab: LabRun) -> list[dict]:
    out = []
    for i in range(lab.lab.n_lcores):
        c = WorkerClient(i, lab.lab.socket_path(i))
        try:
            out.append(c.stats())
        finally:
            c.close()
    return out


def total(stats: list[dict], key: str) -> int:
    """Sum of a worker counter over all lcores; "handoff.do_handoff" reaches into sections."""
    out = 0
    for s in stats:
        for part in key.split("."):
            s = s.get(part, 0) if isinstance(s, dict) else 0
        out += int(s)
    return out


def web_and_udp(lab: LabRun, family: int = 4):
    def fam(s):
        return (":" in s.vip) == (family == 6)
    web = next(s for s in lab.lab.services if s.proto == "tcp" and fam(s))
    udp = next(s for s in lab.lab.services if s.proto == "udp" and fam(s))
    return web, udp


def test_fdir_mode_every_reply_returns_to_its_lcore():
    with _lab("fdir", 9571) as lab:
        check_fdir_mode(lab)


@pytest.mark.skipif(shutil.which("simple_switch_grpc") is None,
                    reason="simple_switch_grpc (BMv2) is not on PATH (p4lang, in no package registry)")
def test_fdir_mode_on_bmv2_ipv4_and_ipv6():
    """The same checks with BMv2 as the NIC: its ARP and Neighbor Discovery answers, filters
    and RETA, for both families."""
    with _lab("fdir", 9577, target="bmv2") as lab:
        check_fdir_mode(lab, conns_per_client=50)


def check_fdir_mode(lab: LabRun, conns_per_client: int = CONNS_PER_CLIENT) -> None:
    conns = 0
    for family in (4, 6):            # the same services on the IPv4 and the IPv6 VIP
        web, udp = web_and_udp(lab, family)
        results = [lab.traffic(c.name, web.vip, web.vport, "tcp", conns_per_client)
                   for c in lab.lab.clients]
        for r in results:
            assert r["failed"] == 0, r
            assert r["ok"] == conns_per_client
            assert set(r["via"]) <= set(web.laddrs), r      # full-NAT from this family's laddrs
        answered = set().union(*(r["servers"] for r in results))
        assert answered == {b.server for b in web.backends}, "rr spreads conns over both real servers"
        u = lab.traffic(lab.lab.clients[0].name, udp.vip, udp.vport, "udp", 40)
        assert u["failed"] == 0 and u["ok"] == 40, u
        conns += len(results) * conns_per_client
    stats = worker_stats(lab)
    assert total(stats, "reply_misses") == 0, "a reply reached an lcore that does not hold its conn"
    assert total(stats, "reply_hits") >= conns
    busy = [s for s in stats if int(s.get("reply_hits", 0)) > 0]
    assert len(busy) == lab.lab.n_lcores, "RSS spread new conns over every lcore"
    # The user's view of the same: fdirctl stats and doctor.
    out = json.loads(lab.fdirctl("--json", "stats"))
    assert out["total"]["affinity"] == 100.0 and out["total"]["reply_misses"] == 0
    assert [r["lcore"] for r in out["lcores"]] == list(range(lab.lab.n_lcores))
    doctor = json.loads(lab.fdirctl("--json", "doctor"))
    assert doctor["errors"] == 0, doctor["findings"]


def test_rss_mode_replies_land_on_other_lcores_and_conns_fail():
    with _lab("rss", 9572) as lab:
        web, _ = web_and_udp(lab)
        r = lab.traffic(lab.lab.clients[0].name, web.vip, web.vport, "tcp", 40, timeout=1.5)
        stats = worker_stats(lab)
        shown = json.loads(lab.fdirctl("--json", "stats"))
    assert shown["total"]["affinity"] < 60.0, shown["total"]
    assert total(stats, "reply_misses") > 0
    # With 4 lcores about 3 in 4 replies land on a foreign lcore; a conn survives only if all
    # of its reply packets happen to hash home.
    assert r["failed"] > r["count"] // 3, r


def test_handoff_mode_all_conns_succeed_and_replies_are_handed_off():
    with _lab("handoff", 9573) as lab:
        web, udp = web_and_udp(lab)
        r = lab.traffic(lab.lab.clients[0].name, web.vip, web.vport, "tcp", 100)
        u = lab.traffic(lab.lab.clients[1].name, udp.vip, udp.vport, "udp", 30)
        stats = worker_stats(lab)
        n = lab.lab.n_lcores
    assert r["failed"] == 0 and u["failed"] == 0, (r, u)
    handed, replies = total(stats, "handoff.do_handoff"), total(stats, "reply_hits")
    assert total(stats, "handoff.congestion_drop") == 0
    assert total(stats, "reply_misses") == 0
    assert total(stats, "handoff.handoff_in") == handed
    # Client frames follow their SYN by RSS; replies hash anywhere: about (n-1)/n of the
    # replies reach a worker that does not own their conn and are handed to the owner.
    share = handed / replies
    assert abs(share - (n - 1) / n) < 0.2, (handed, replies)
