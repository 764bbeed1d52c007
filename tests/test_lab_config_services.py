"""Lab-file services: real servers follow the rule hosts follow (on-link, one entry per
(address, port), a named server's own address), and scheme laddr counts local-address slots
per address family (breakit2 findings 4 and 12)."""
from __future__ import annotations

import pytest

from fdirlab.lab_config import LabConfigError, parse_lab
from fdirlab.real_server import duplicate_dest, real_server_problem


def _svc(servers, vip="10.0.0.100", **kw):
    return {"services": [{"name": "w", "vip": vip, "vport": 80, "sched": "wrr", "servers": servers, **kw}]}


@pytest.mark.parametrize("servers,words", [
    ([{"server": "rs1", "port": 8080}, {"server": "rs1", "port": 8080}, {"server": "rs2", "port": 8080}],
     ["services[0].servers[1]: 10.0.2.1:8080 is already services[0].servers[0]"]),
    ([{"addr": "10.0.2.2", "port": 8080}, {"server": "rs2", "port": 8080}],
     ["services[0].servers[1]: 10.0.2.2:8080 is already services[0].servers[0]"]),
])
def test_a_real_server_given_twice_is_refused_naming_both(servers, words):
    with pytest.raises(LabConfigError) as ei:
        parse_lab(_svc(servers))
    msg = str(ei.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_a_duplicate_ipv6_real_server_is_named_in_brackets():
    s = [{"addr": "fd00:fd::2:1", "port": 80}, {"addr": "fd00:fd:0::2:1", "port": 80}]
    with pytest.raises(LabConfigError,
                       match=r"servers\[1\]: \[fd00:fd::2:1\]:80 is already services\[0\].servers\[0\]"):
        parse_lab(_svc(s, vip="fd00:fd::100", laddrs=["fd00:fd::200"]))


def test_the_same_server_on_two_ports_is_two_real_servers():
    lab = parse_lab(_svc([{"server": "rs1", "port": 8080}, {"server": "rs1", "port": 8081}]))
    assert [(b.addr, b.port) for b in lab.services[0].backends] == [("10.0.2.1", 8080), ("10.0.2.1", 8081)]


@pytest.mark.parametrize("addr,vip,why", [
    ("8.8.8.8", "10.0.0.100", "outside the lab subnet 10.0.0.0/16"),
    ("2001:db8::1", "fd00:fd::100", "outside the lab subnet fd00:fd::/64"),
    ("10.0.0.200", "10.0.0.100", "an address of the load balancer itself"),
    ("10.0.0.100", "10.0.0.100", "an address of the load balancer itself"),
    ("224.0.0.9", "10.0.0.100", "a multicast address"),
    ("10.0.255.255", "10.0.0.100", "the broadcast address of the lab subnet 10.0.0.0/16"),
    ("10.0.0.0", "10.0.0.100", "the network address of the lab subnet 10.0.0.0/16"),
    ("fd00:fd::", "fd00:fd::100", "the network address of the lab subnet fd00:fd::/64"),
])
def test_a_real_server_the_lab_cannot_reach_is_refused(addr, vip, why):
    fam = {"laddrs": ["fd00:fd::200"]} if ":" in vip else {}
    with pytest.raises(LabConfigError) as ei:
        parse_lab(_svc([{"addr": addr, "port": 80}], vip=vip, **fam))
    msg = str(ei.value)
    assert msg.startswith("services[0].servers[0]") and addr in msg and why in msg and "\n" not in msg, msg


def test_a_server_name_with_another_hosts_address_is_refused():
    with pytest.raises(LabConfigError) as ei:
        parse_lab(_svc([{"server": "rs1", "addr": "10.0.2.2", "port": 80}]))
    msg = str(ei.value)
    assert "services[0].servers[0].addr = '10.0.2.2': not the address of server 'rs1' (10.0.2.1) but of 'rs2'" \
        in msg, msg
    # the name and its own address (either family) are fine
    parse_lab(_svc([{"server": "rs1", "addr": "10.0.2.1", "port": 80}]))
    parse_lab(_svc([{"server": "rs1", "addr": "fd00:fd::2:1", "port": 80}], vip="fd00:fd::100",
                   laddrs=["fd00:fd::200"]))


def test_a_service_laddr_given_twice_is_refused():
    with pytest.raises(LabConfigError, match=r"services\[0\].laddrs\[1\] = '10.0.0.200': already services\[0\]"
                                             r".laddrs\[0\]"):
        parse_lab(_svc([{"server": "rs1"}], laddrs=["10.0.0.200", "10.0.0.200"]))


def test_run_time_rule_is_the_lab_files():
    """The pure functions a run-time ipvsadm -a can call give the same answers."""
    assert real_server_problem("10.0.2.1", "10.0.0.0/16", "fd00:fd::/64") is None
    assert "outside the lab subnet" in (real_server_problem("8.8.8.8", "10.0.0.0/16", "fd00:fd::/64") or "")
    assert real_server_problem("8.8.8.8") is None          # no lab: only the address kind is checked
    assert "load balancer" in (real_server_problem("10.0.0.100", lb_addrs=["10.0.0.100"]) or "")
    assert duplicate_dest([("10.0.2.1", 80), ("fd00::1", 80)], "fd00:0::1", 80) == 1
    assert duplicate_dest([("10.0.2.1", 80)], "10.0.2.1", 81) is None


# --- scheme laddr: slots per family ----------------------------------------------------

V4V6 = ["10.0.0.200", "fd00:fd::200", "10.0.0.201", "fd00:fd::201"]


@pytest.mark.parametrize("order", [V4V6, ["10.0.0.200", "10.0.0.201", "fd00:fd::200", "fd00:fd::201"],
                                   ["fd00:fd::200", "fd00:fd::201", "10.0.0.200", "10.0.0.201"]],
                         ids=["v4,v6,v4,v6", "v4,v4,v6,v6", "v6,v6,v4,v4"])
def test_laddr_scheme_counts_slots_per_family(order):
    lab = parse_lab({"lab": {"scheme": "laddr"}, "lcores": {"count": 2}, "laddrs": {"addrs": order}})
    assert {a: lab.laddr_slot(a) for a in order} == {
        "10.0.0.200": 0, "10.0.0.201": 1, "fd00:fd::200": 0, "fd00:fd::201": 1}
    part = lab.partition
    for svc in lab.services:     # every lcore owns ports of every service, IPv4 and IPv6
        for i in range(2):
            assert any(part.owned_ports(i, lab.laddr_slot(a)) for a in svc.laddrs), (svc.name, i)


def test_laddr_scheme_advice_names_the_slots_it_has():
    data = {"lab": {"scheme": "laddr"}, "lcores": {"count": 2},
            "laddrs": {"addrs": ["10.0.0.200", "fd00:fd::200", "fd00:fd::201"]}}
    with pytest.raises(LabConfigError) as ei:
        parse_lab(data)
    msg = str(ei.value)
    assert "IPv4" in msg and "10.0.0.200 slot 0" in msg and "lcores [1] none" in msg \
        and "every slot 0..1" in msg and "\n" not in msg, msg
