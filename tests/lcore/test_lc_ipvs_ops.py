"""ipvsadm's worker ops: a service that starts empty, real servers added/edited/deleted,
the --stats counters per real server (packets and bytes both ways), wlc, zeroing; every bad
request is refused by name and changes nothing."""

from lc_helpers import LB_MAC, LB_MAC_B, RS_MAC, frame

from lcore.config import WorkerConfig
from lcore.control import ControlHandler
from lcore.datapath import Datapath

VIP, LIP, RS1, RS2 = "10.0.0.100", "10.0.0.200", "10.0.2.1", "10.0.2.2"
SVC = {"vip": VIP, "vport": 80, "proto": "tcp"}


def handler():
    dp = Datapath(0, 1, "lsb", LB_MAC_B)
    cfg = WorkerConfig("veth0", 0, 1, "lsb", "fdir", LB_MAC, "/tmp/x").validate()
    return ControlHandler(dp, cfg, lambda: 0.0)


def ok(h, **req):
    rep = h.handle(req)
    assert rep["ok"], rep
    return rep


def test_dpvs_runbook_on_one_worker():
    h = handler()
    ok(h, op="svc_add", **SVC, sched="rr")
    # no server, no local address yet: a SYN is counted, never silently lost
    h.dp.rx(frame("10.0.1.1", VIP, 4000, 80), now=0)
    assert h.dp.stats.no_dest == 1
    ok(h, op="dest_add", **SVC, addr=RS1, port=8080)
    ok(h, op="dest_add", **SVC, addr=RS2, port=8080, weight=3)
    h.dp.rx(frame("10.0.1.1", VIP, 4001, 80), now=0)
    assert h.dp.stats.no_local_port == 1  # no laddr bound yet
    ok(h, op="pool_add", laddr=LIP, slot=0)
    ok(h, op="service_laddr_add", **SVC, laddr=LIP)
    for n in (RS1, RS2):
        h.dp.neigh.add(n, RS_MAC)
    h.dp.neigh.add("10.0.1.1", "02:00:00:00:01:01")
    h.dp.rx(frame("10.0.1.1", VIP, 4002, 80, payload=b"x" * 10), now=0)
    out = h.dp.tx.pop()
    (conn,) = list(h.dp.conns)
    reply = frame(
        RS1 if conn.raddr == bytes([10, 0, 2, 1]) else RS2,
        LIP,
        8080,
        conn.lport,
        flags="SA",
        smac=RS_MAC,
    )
    h.dp.rx(reply, now=0)
    (svc,) = ok(h, op="ipvs_stats")["services"]
    d = next(x for x in svc["dests"] if x["conns"])
    assert (d["conns"], d["inpkts"], d["outpkts"]) == (1, 1, 1)
    assert d["inbytes"] == len(frame("10.0.1.1", VIP, 4002, 80, payload=b"x" * 10))
    assert d["outbytes"] == len(reply) and d["inactconns"] == 1 and d["activeconns"] == 0
    assert svc["laddrs"] == [{"addr": LIP, "conns": 1}] and len(out) > 0
    ok(h, op="ipvs_zero")
    (svc,) = ok(h, op="ipvs_stats")["services"]
    assert all(x["conns"] == x["inpkts"] == x["outbytes"] == 0 for x in svc["dests"])
    ok(h, op="svc_edit", **SVC, sched="wlc")
    ok(h, op="dest_edit", **SVC, addr=RS2, port=8080, weight=0)
    ok(h, op="dest_del", **SVC, addr=RS1, port=8080)
    (svc,) = ok(h, op="ipvs_stats")["services"]
    assert svc["sched"] == "wlc" and [(x["addr"], x["weight"]) for x in svc["dests"]] == [(RS2, 0)]
    ok(h, op="svc_laddr_del", **SVC, laddr=LIP)  # the last local address may go
    assert ok(h, op="services")["services"][0]["laddrs"] == []


def test_bad_requests_change_nothing():
    h = handler()
    ok(h, op="svc_add", **SVC)
    before = ok(h, op="ipvs_stats")
    for req, msg in [
        ({"op": "svc_add", **SVC}, "exists"),
        ({"op": "svc_add", **SVC, "vport": 81, "sched": "lc"}, "unknown scheduler 'lc'"),
        ({"op": "svc_edit", **SVC, "sched": "mh"}, "unknown scheduler 'mh'"),
        ({"op": "dest_add", **SVC, "addr": "fd00::1", "port": 80}, "is IPv6"),
        ({"op": "dest_add", **SVC, "addr": RS1, "port": 0}, "server port"),
        ({"op": "dest_add", **SVC, "addr": RS1, "port": 80, "weight": -1}, "weight"),
        ({"op": "dest_del", **SVC, "addr": RS1, "port": 80}, "no server 10.0.2.1:80"),
        (
            {
                "op": "dest_edit",
                "vip": VIP,
                "vport": 81,
                "proto": "tcp",
                "addr": RS1,
                "port": 80,
                "weight": 1,
            },
            "no service",
        ),
        ({"op": "svc_laddr_del", **SVC, "laddr": LIP}, "is not a local address"),
        ({"op": "ipvs_zero", "vip": VIP}, "all of vip, vport, proto"),
    ]:
        rep = h.handle(req)
        assert not rep["ok"] and msg in rep["error"], (req, rep)
    assert ok(h, op="ipvs_stats") == before


def test_wlc_picks_least_conns_per_weight():
    h = handler()
    ok(h, op="svc_add", **SVC, sched="wlc")
    ok(h, op="dest_add", **SVC, addr=RS1, port=80, weight=1)
    ok(h, op="dest_add", **SVC, addr=RS2, port=80, weight=2)
    svc = next(iter(h.dp.services.values()))
    picks = []
    for _ in range(6):
        d = svc.schedule()
        d.conns += 1
        picks.append(d.addr)
    assert picks.count(RS2) == 4 and picks.count(RS1) == 2
