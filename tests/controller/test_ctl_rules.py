"""Rule computation: flow-director entries agree with the mask math and the partition
predicate on every port that matters, for n = 1..64 lcores, IPv4 and IPv6 mixed."""
import ipaddress

import pytest

from controller.entries import COOKIE_HAND, cookie_laddr
from controller.errors import BadInput
from controller.rules import (
    Layout,
    base_entries,
    desired_entries,
    fdir_entries,
    hand_filter,
    laddr_entries,
    miss_entry,
    reta_entries,
    scheme_cost,
)
from fdirlab import mask_math as mm
from fdirlab.lab_config import MissPolicy
from fdirlab.partition import Partition

LADDRS = ["10.0.0.200", "2001:db8::c8", "10.0.0.201", "fd00:fd::200"]


def _ports(n):
    return tuple(range(1, n + 1))


@pytest.mark.parametrize("n", range(1, 65))
def test_lsb_entries_are_the_mask_math_filters(n):
    ports = _ports(n)
    for laddr in LADDRS:
        got = fdir_entries(Partition("lsb", n), ports, laddr)
        want = mm.filters_for_laddr(laddr, n)
        assert len(got) == len(want) == 2 * n
        for e, f in zip(got, want, strict=True):
            assert e.table == f.table
            d, p, pr = e.field("dst_addr"), e.field("l4_dport"), e.field("proto")
            assert (d.value, d.mask) == (f.addr, f.addr_mask)
            assert pr.value == f.proto
            assert e.param("port") == ports[f.lcore]
            assert e.priority == f.priority
            if f.port_mask == 0:
                assert p is None            # don't-care: left out of the entry (n = 1)
            else:
                assert (p.value, p.mask) == (f.port_value, f.port_mask)


def _expand(value, mask):
    """All 16-bit ports p with p & mask == value (ranges, not loops over 65536 ports)."""
    free = ~mask & 0xFFFF
    if free & (free + 1) == 0:                 # prefix: the free bits are the low ones
        return range(value, value + free + 1)
    if mask & (mask + 1) == 0:                 # low-bit mask (lsb scheme)
        return range(value, 65536, mask + 1)
    return [p for p in range(65536) if p & mask == value]


@pytest.mark.parametrize("n", range(1, 65))
@pytest.mark.parametrize("scheme", ["lsb", "range", "laddr"])
def test_entries_steer_every_port_to_its_owner(n, scheme):
    """All 65536 ports, both protocols: the port each filter set steers to is exactly the
    owner's port per Partition, no port is matched twice, other addresses never match."""
    part = Partition(scheme, n)
    ports = _ports(n)
    for slot, laddr in enumerate(LADDRS):
        a = ipaddress.ip_address(laddr)
        want = [None] * 65536
        for lc in range(n):
            r = part.owned_ports(lc, slot, 1, 65535)
            want[r.start:r.stop:r.step] = [ports[lc]] * len(r)
        o = part.owner(0, slot)
        want[0] = None if o is None else ports[o]
        entries = fdir_entries(part, ports, laddr, slot)
        for proto in (6, 17):
            got = [None] * 65536
            for e in entries:
                d, p, pr = e.field("dst_addr"), e.field("l4_dport"), e.field("proto")
                assert (d.value, d.mask) == (int(a), (1 << a.max_prefixlen) - 1)
                if pr.value != proto:
                    continue
                r = _expand(p.value, p.mask) if p else range(65536)
                for port in r:
                    assert got[port] is None, f"port {port} matched by two filters"
                    got[port] = e.param("port")
            assert got == want
        assert {e.field("proto").value for e in entries} <= {6, 17}


def test_mixed_families_have_no_duplicate_keys_and_right_tables():
    lay = Layout(lcore_ports=_ports(8), lb_mac="02:fd:00:00:00:01")
    ents = desired_entries(lay, [(a, i) for i, a in enumerate(LADDRS)])
    keys = [e.key for e in ents]
    assert len(keys) == len(set(keys))
    for e in ents:
        if e.table in ("fdir_v4", "lb_addr_v4", "arp_responder"):
            assert e.owner[0] != "laddr" or ":" not in e.owner[1]
        if e.table in ("fdir_v6", "lb_addr_v6"):
            assert ":" in e.owner[1]
    # IPv6 addresses get no ARP entry
    assert not [e for e in ents if e.table == "arp_responder" and ":" in e.owner[1]]


def test_laddr_entries_put_filters_before_the_address_becomes_lb_owned():
    lay = Layout(lcore_ports=_ports(4), lb_mac="02:fd:00:00:00:01")
    ents = laddr_entries(lay, "10.0.0.200", 0)
    tables = [e.table for e in ents]
    assert tables == ["fdir_v4"] * 8 + ["lb_addr_v4", "arp_responder"]
    assert all(e.cookie == cookie_laddr("10.0.0.200", 0) for e in ents)


@pytest.mark.parametrize("mode", ["rss", "handoff"])
def test_non_fdir_modes_install_no_filters(mode):
    lay = Layout(lcore_ports=_ports(4), mode=mode)
    assert [e.table for e in laddr_entries(lay, "10.0.0.200")] == ["lb_addr_v4"]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 100, 128, 200])
def test_reta_spreads_over_the_lcores(n):
    ents = reta_entries(_ports(n))
    assert [e.match[0].value for e in ents] == list(range(128))
    counts = {}
    for e in ents:
        counts[e.param("port")] = counts.get(e.param("port"), 0) + 1
    assert len(counts) == min(n, 128)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_base_entries_carry_the_init_config():
    lay = Layout(lcore_ports=(3, 4), wire_ports=(1, 2), scheme="range", mode="fdir",
                 lb_mac="02:fd:00:00:00:01", vips=("10.0.0.100",), l2=(("02:fd:02:00:00:01", 1),))
    ents = base_entries(lay)
    roles = [e for e in ents if e.table == "port_role"]
    assert [(e.match[0].value, e.action) for e in roles] == [(3, "set_lcore"), (4, "set_lcore"),
                                                              (1, "set_wire"), (2, "set_wire")]
    assert roles[1].owner == ("lcore", "1", {"n": "2", "scheme": "range", "mode": "fdir"})
    assert [e.table for e in ents].count("reta") == 128
    assert any(e.table == "lb_addr_v4" for e in ents) and any(e.table == "arp_responder" for e in ents)


@pytest.mark.parametrize("miss,action,params", [
    (MissPolicy("rss"), "rss", ()), (MissPolicy("drop"), "drop_miss", ()),
    (MissPolicy("lcore", 1), "steer", (("port", 8),))])
def test_miss_policy_is_the_default_action(miss, action, params):
    e = miss_entry(Layout(lcore_ports=(7, 8), miss=miss))
    assert (e.default, e.action, e.params) == (True, action, params)


@pytest.mark.parametrize("kwargs,word", [
    ({"lcore_ports": ()}, "lcore count 0"),
    ({"lcore_ports": tuple(range(1, 10)), "wire_ports": (9,)}, "duplicate port 9"),
    ({"lcore_ports": (1, 1)}, "duplicate port 1"),
    ({"lcore_ports": (1, 2), "miss": MissPolicy("lcore", 2)}, "lcore 2"),
    ({"lcore_ports": (1, 600)}, "port 600"),
    ({"lcore_ports": (1,), "scheme": "fancy"}, "fancy"),
    ({"lcore_ports": (1,), "lb_mac": "02:zz:00:00:00:01"}, "02:zz"),
    ({"lcore_ports": (1,), "vips": ("10.0.0.300",)}, "10.0.0.300"),
])
def test_layout_rejects_bad_input_naming_the_value(kwargs, word):
    with pytest.raises(BadInput) as ei:
        Layout(**kwargs)
    assert word in str(ei.value) and "\n" not in str(ei.value)


def test_more_than_2_15_lcores_is_an_error():
    with pytest.raises(BadInput, match="32769"):
        Layout(lcore_ports=tuple(range(32769)))


def test_hand_filter_marks_and_validates():
    e = hand_filter("10.0.0.200", 1, 0x3, "tcp", 2, priority=20)
    assert e.cookie == COOKIE_HAND and e.priority == 20 and e.param("port") == 2
    assert hand_filter("10.0.0.200", 0, 0, "udp", 2).field("l4_dport") is None   # mask 0 omitted
    for args, word in [(("10.0.0.999", 1, 3, "tcp", 2), "10.0.0.999"),
                       (("10.0.0.200", 5, 3, "tcp", 2), "outside mask"),
                       (("10.0.0.200", 1, 3, "icmp", 2), "icmp"),
                       (("10.0.0.200", 70000, 0xFFFF, "tcp", 2), "70000"),
                       (("10.0.0.200", 1, 3, "tcp", 2, 0), "priority 0")]:
        with pytest.raises(BadInput, match=word):
            hand_filter(*args)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 16, 64])
@pytest.mark.parametrize("scheme", ["lsb", "range", "laddr"])
def test_scheme_cost_matches_partition(n, scheme):
    c = scheme_cost(scheme, n, 3)
    assert c.entries == Partition(scheme, n).filter_count(3)
    lay = Layout(lcore_ports=_ports(n), scheme=scheme)
    ents = [e for i in range(3) for e in laddr_entries(lay, f"10.0.0.{200 + i}", i) if e.table == "fdir_v4"]
    assert len(ents) == c.entries
    part = Partition(scheme, n)
    assert c.ports_per_lcore == [sum(len(part.owned_ports(lc, s)) for s in range(3)) for lc in range(n)]
