"""Schedulers (rr, wrr) and DPVS's local-address choice (round robin, 5% step-over,
max_trails, every pool empty -> "no local port available")."""
import random
from collections import Counter
from itertools import pairwise

import pytest
from lc_helpers import frame, make_dp, packed

from lcore.errors import ConfigError
from lcore.scheduler import Dest, Service


def svc(sched, weights, laddrs=(b"a", b"b", b"c"), seed=1):
    dests = [Dest(f"10.0.2.{i}", packed(f"10.0.2.{i}"), 80, w) for i, w in enumerate(weights, 1)]
    return Service(6, "10.0.0.100", packed("10.0.0.100"), 80, sched, dests, list(laddrs),
                   [str(x) for x in laddrs], rng=random.Random(seed))


def test_rr_cycles_and_skips_weight_zero():
    s = svc("rr", [1, 0, 5])
    assert [s.schedule().addr for _ in range(4)] == ["10.0.2.1", "10.0.2.3"] * 2
    assert svc("rr", [0, 0]).schedule() is None


def test_wrr_follows_weights_exactly_per_cycle():
    s = svc("wrr", [4, 3, 2])
    picks = [s.schedule().addr for _ in range(9 * 10)]
    assert Counter(picks) == {"10.0.2.1": 40, "10.0.2.2": 30, "10.0.2.3": 20}
    assert picks[:9] == ["10.0.2.1", "10.0.2.1", "10.0.2.2", "10.0.2.1", "10.0.2.2",
                         "10.0.2.3", "10.0.2.1", "10.0.2.2", "10.0.2.3"]   # IPVS wrr order
    assert svc("wrr", [0]).schedule() is None


def test_laddr_round_robin_with_five_percent_step_over():
    s = svc("rr", [1], laddrs=[bytes([i]) for i in range(4)])
    picks = [s.next_laddr()[0] for _ in range(20000)]
    steps = Counter((b - a) % 4 for a, b in pairwise(picks))
    assert set(steps) == {1, 2}
    assert 0.03 < steps[2] / len(picks) < 0.07


def test_bind_tries_next_laddr_when_a_pool_is_empty():
    la = ["10.0.0.200", "10.0.0.201"]
    dp = make_dp(proto="udp", laddrs=la, port_range=(1025, 1026), n_lcores=2)  # one port each
    for cport in range(5000, 5004):
        dp.rx(frame("10.0.1.1", "10.0.0.100", cport, 80, "udp"), now=0)
    used = Counter(c.laddr for c in dp.conns)
    assert used == {packed(la[0]): 1, packed(la[1]): 1}
    assert dp.stats.no_local_port == 2
    view = {p["laddr"]: p for p in dp.pools_view()}
    assert view[la[0]]["sa_miss"] + view[la[1]]["sa_miss"] >= 2


class NoStep(random.Random):
    def randrange(self, *a):      # never step over: the laddr walk is plain round robin
        return 99


@pytest.mark.parametrize("trails,conns", [(1, 1), (2, 2)])
def test_max_trails_limits_laddrs_tried(trails, conns):
    # one port per laddr; service 101 fills laddr .200 first, then service 102's first
    # pick (.200, empty) fails the conn unless a second trail reaches .201
    la = ["10.0.0.200", "10.0.0.201"]
    dp = make_dp(proto="udp", laddrs=la, port_range=(1025, 1025), rng=NoStep())
    dp.service_add("10.0.0.101", 80, "udp", "rr", [{"addr": "10.0.2.1", "port": 8080}], la[:1])
    dp.service_add("10.0.0.102", 80, "udp", "rr", [{"addr": "10.0.2.1", "port": 8080}], la,
                   max_trails=trails)
    dp.rx(frame("10.0.1.1", "10.0.0.101", 5000, 80, "udp"), now=0)
    dp.rx(frame("10.0.1.1", "10.0.0.102", 5001, 80, "udp"), now=0)
    assert len(dp.conns) == conns and dp.stats.no_local_port == 2 - conns
    assert dp.pools_view()[0]["sa_miss"] == 1


def test_laddr_without_pool_here_costs_no_trail():
    dp = make_dp(proto="udp", rng=NoStep())
    dp.service_add("10.0.0.101", 80, "udp", "rr", [{"addr": "10.0.2.1", "port": 8080}],
                   ["10.0.0.250", "10.0.0.200"], max_trails=1)
    for cport in (5000, 5001):
        dp.rx(frame("10.0.1.1", "10.0.0.101", cport, 80, "udp"), now=0)
    assert len(dp.conns) == 2 and dp.stats.no_local_port == 0


def test_laddr_scheme_uses_only_own_address():
    la = ["10.0.0.200", "10.0.0.201", "10.0.0.202"]
    dp = make_dp(proto="udp", laddrs=la, scheme="laddr", n_lcores=3, lcore_id=1)
    for cport in range(5000, 5010):
        dp.rx(frame("10.0.1.1", "10.0.0.100", cport, 80, "udp"), now=0)
    assert {c.laddr for c in dp.conns} == {packed("10.0.0.201")}
    assert dp.stats.no_local_port == 0


@pytest.mark.parametrize("field,value", [
    ("sched", "lc"), ("vport", 0), ("proto", "icmp"), ("servers", []), ("laddrs", []),
    ("servers", [{"addr": "2001:db8::1", "port": 80}]), ("servers", [{"addr": "10.0.2.1", "port": 80, "weight": -1}]),
    ("vip", "10.0.0.1000"), ("laddrs", ["x"])])
def test_service_add_rejects_bad_values_and_adds_nothing(field, value):
    dp = make_dp(proto="udp")
    args = {"vip": "10.0.0.101", "vport": 80, "proto": "udp", "sched": "rr",
            "servers": [{"addr": "10.0.2.1", "port": 8080, "weight": 1}], "laddrs": ["10.0.0.200"]}
    args[field] = value
    with pytest.raises(ConfigError):
        dp.service_add(**args)
    assert len(dp.services) == 1
