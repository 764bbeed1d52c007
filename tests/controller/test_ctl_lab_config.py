"""The lab file model: defaults, derived ports/addresses, and one-line errors naming the key."""
import ipaddress
from pathlib import Path

import pytest

from fdirlab.lab_config import LabConfigError, default_lab, load_lab, parse_lab

ROOT = Path(__file__).resolve().parents[2]


def test_default_file_is_the_built_in_default():
    assert load_lab(ROOT / "topo/labs/default.toml") == default_lab()


def test_default_lab_plan():
    lab = default_lab()
    assert lab.n_lcores == 4 and lab.lcore_ports == (1, 2, 3, 4)
    assert [h.port for h in lab.clients] == [5, 6] and [h.port for h in lab.servers] == [7, 8]
    assert lab.wire_ports == (5, 6, 7, 8)
    assert lab.vips == ("10.0.0.100", "fd00:fd::100")
    assert lab.laddrs == ("10.0.0.200", "10.0.0.201", "fd00:fd::200", "fd00:fd::201")
    net, net6 = ipaddress.ip_network(lab.subnet), ipaddress.ip_network(lab.subnet6)
    for a in [h.ip for h in lab.hosts] + [h.ip6 for h in lab.hosts] + list(lab.laddrs) + list(lab.vips):
        assert ipaddress.ip_address(a) in (net if "." in a else net6)       # all on-link
    assert [(s.name, s.proto, s.laddrs) for s in lab.services] == [
        ("web", "tcp", ("10.0.0.200", "10.0.0.201")), ("dns", "udp", ("10.0.0.200", "10.0.0.201")),
        ("web6", "tcp", ("fd00:fd::200", "fd00:fd::201")), ("dns6", "udp", ("fd00:fd::200", "fd00:fd::201"))]
    assert lab.services[2].worker_spec()["servers"] == [{"addr": "fd00:fd::2:1", "port": 8080, "weight": 1},
                                                        {"addr": "fd00:fd::2:2", "port": 8080, "weight": 1}]
    assert lab.socket_path(2) == "/tmp/fdirlab/default/lcore-2.sock"
    web = lab.services[0]
    assert web.worker_spec()["servers"] == [{"addr": "10.0.2.1", "port": 8080, "weight": 1},
                                            {"addr": "10.0.2.2", "port": 8080, "weight": 1}]
    macs = [h.mac for h in lab.hosts] + [lab.lb_mac] + [lab.lcore_mac(i) for i in range(4)]
    assert len(set(macs)) == len(macs)


def test_lcore_count_moves_host_ports_and_ipv6_laddrs_allowed():
    lab = parse_lab({"lcores": {"count": 8}, "laddrs": {"addrs": ["10.0.0.200", "fd00:fd::200"]}})
    assert lab.wire_ports == (9, 10, 11, 12)
    assert lab.laddrs == ("10.0.0.200", "fd00:fd::200")
    # a v4 VIP's service binds only the v4 local address
    assert lab.services[0].laddrs == ("10.0.0.200",)


@pytest.mark.parametrize("data,words", [
    ({"lcores": {"count": 0}}, ["lcores.count", "0"]),
    ({"lcores": {"count": 40000}}, ["lcores.count", "40000"]),
    ({"lcores": {"count": "4"}}, ["lcores.count", "'4'"]),
    ({"lcores": {"port_range": "9-3"}}, ["lcores.port_range", "9-3"]),
    ({"lab": {"scheme": "mod"}}, ["lab.scheme", "mod"]),
    ({"lab": {"steering": "magic"}}, ["lab.steering", "magic"]),
    ({"lab": {"miss_policy": "lcore 9"}}, ["lab.miss_policy", "lcore 9"]),
    ({"lab": {"lb_mac": "01:00:5e:00:00:01"}}, ["lab.lb_mac", "multicast"]),
    ({"lab": {"colour": "red"}}, ["lab.colour", "unknown key"]),
    ({"laddrs": {"addrs": ["10.0.0.300"]}}, ["laddrs.addrs[0]", "10.0.0.300"]),
    ({"laddrs": {"addrs": ["192.168.0.1"]}}, ["laddrs.addrs[0]", "outside"]),
    ({"laddrs": {"addrs": ["10.0.0.200", "10.0.0.200"]}}, ["laddrs.addrs[1]", "already used"]),
    ({"clients": [{"ip": "10.0.2.1"}]}, ["10.0.2.1", "already used"]),
    ({"clients": [{"mac": "02:fd:03:00:00:01"}]}, ["02:fd:03:00:00:01", "already used"]),
    ({"clients": [{"mac": "nope"}]}, ["clients[0].mac", "nope"]),
    ({"services": [{"vport": 80, "proto": "sctp"}]}, ["services[0].proto", "sctp"]),
    ({"services": [{"vport": 80, "servers": [{"server": "rs9"}]}]}, ["services[0].servers[0].server", "rs9"]),
    ({"services": [{"vport": 80, "laddrs": ["10.0.0.9"]}]}, ["services[0].laddrs[0]", "10.0.0.9"]),
    ({"services": [{"name": "a", "vport": 80}, {"name": "b", "vport": 80}]}, ["services[1]", "already"]),
    ({"services": [{"name": "a"}]}, ["services[0].vport", "missing"]),
    ({"switch": {"grpc_addr": "localhost"}}, ["switch.grpc_addr", "localhost"]),
    ({"switch": {"target": "tofino"}}, ["switch.target", "tofino"]),
])
def test_bad_lab_is_one_line_naming_key_and_value(data, words):
    with pytest.raises(LabConfigError) as ei:
        parse_lab(data)
    msg = str(ei.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_load_lab_errors_name_the_file(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[lcores]\ncount = -1\n")
    with pytest.raises(LabConfigError, match="x.toml.*lcores.count"):
        load_lab(p)
    p.write_text("[lcores\n")
    with pytest.raises(LabConfigError, match="not valid TOML"):
        load_lab(p)
    with pytest.raises(LabConfigError, match="No such file"):
        load_lab(tmp_path / "missing.toml")


@pytest.mark.parametrize("data,words", [
    ({"lab": {"scheme": "laddr"}}, ["lcores [2, 3] none", "every slot 0..3"]),
    ({"lab": {"scheme": "laddr"}, "lcores": {"count": 3},
      "laddrs": {"addrs": ["10.0.0.200", "10.0.0.201", "10.0.0.202"]},
      "services": [{"vport": 80, "laddrs": ["10.0.0.200", "10.0.0.201"]}]}, ["services[0]", "lcores [2]"]),
    ({"lcores": {"port_range": "1025-1026"}}, ["lcores.port_range", "lcores [0, 3]"]),
    ({"lab": {"scheme": "range"}, "lcores": {"port_range": "1025-9000"}}, ["lcores [1, 2, 3]", "widen"]),
])
def test_lab_leaving_an_lcore_without_ports_is_refused(data, words):
    """Kind 4: every combination that leaves some lcore no local port for a service."""
    from fdirlab.lab_config import LabConfigError, parse_lab
    with pytest.raises(LabConfigError) as ei:
        parse_lab(data)
    msg = str(ei.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_laddr_scheme_with_one_address_per_lcore_is_accepted():
    from fdirlab.lab_config import parse_lab
    lab = parse_lab({"lab": {"scheme": "laddr"}, "lcores": {"count": 2}})
    # the default lab's two IPv4 and two IPv6 local addresses: one of each family per lcore
    assert lab.scheme == "laddr" and len(lab.laddrs) == 4


LB_BAD = [("10.0.2.1", "already"), ("255.255.255.255", "the limited broadcast address"),
          ("10.0.255.255", "the broadcast address of the lab subnet"), ("10.0.0.0", "the network address"),
          ("fe80::1", "a link-local address"), ("169.254.0.9", "a link-local address"),
          ("::ffff:10.0.0.5", "an IPv4-mapped IPv6 address"), ("10.1.0.1", "outside the lab subnet 10.0.0.0/16"),
          ("224.0.0.5", "a multicast address"), ("127.0.0.2", "a loopback address")]


@pytest.mark.parametrize("addr,why", LB_BAD, ids=[a for a, _ in LB_BAD])
def test_lab_file_refuses_lb_addresses_that_cannot_work(addr, why):
    """The lab file uses the same rule as every run-time path (fdirlab.lb_addr, finding 4)."""
    with pytest.raises(LabConfigError, match=f"laddrs.addrs\\[2\\] = .*: .*{why}"):
        parse_lab({"laddrs": {"addrs": ["10.0.0.200", "10.0.0.201", addr]},
                   "services": [{"vip": "10.0.0.100", "vport": 80, "laddrs": ["10.0.0.200"]}]})
    fam = {"laddrs": ["fd00:fd::200"]} if ":" in addr else {}
    with pytest.raises(LabConfigError, match=f"services\\[0\\].vip = .*: .*{why}"):
        parse_lab({"services": [{"vip": addr, "vport": 80, **fam}]})


def test_lb_addr_rule_without_a_lab():
    from fdirlab.lb_addr import lb_addr_problem
    assert lb_addr_problem("10.1.0.1") is None                    # no lab: no subnet to check
    assert lb_addr_problem("10.0.0.200", "10.0.0.0/16", "fd00:fd::/64", {"10.0.2.1": "rs1"}) is None
    assert lb_addr_problem("10.0.2.1", "10.0.0.0/16", None, {"10.0.2.1": "rs1"}) == \
        "already the address of lab host rs1"
    assert lb_addr_problem("255.255.255.255") == "the limited broadcast address"


def test_lab_file_accepts_what_ipvsadm_and_the_workers_accept():
    """One rule for schedulers and weights (fdirlab.limits, finding 11): wlc, and weight 0 (a
    quiesced server) under any scheduler, as ipvsadm -s / -w and the workers take them."""
    from controller import ipvsadm
    from fdirlab import limits
    from lcore import scheduler
    assert ipvsadm.SCHEDULERS is limits.SCHEDULERS is scheduler.SCHEDULERS
    assert ipvsadm.MAX_WEIGHT == limits.MAX_WEIGHT == scheduler.MAX_WEIGHT
    for sched in limits.SCHEDULERS:
        lab = parse_lab({"services": [{"vip": "10.0.0.100", "vport": 80, "sched": sched,
                                       "servers": [{"server": "rs1", "weight": 0},
                                                   {"server": "rs2", "weight": limits.MAX_WEIGHT}]}]})
        spec = lab.services[0].worker_spec()
        assert scheduler.check_sched(spec["sched"]) == sched
        assert [scheduler.check_weight(s["weight"]) for s in spec["servers"]] == [0, limits.MAX_WEIGHT]
    with pytest.raises(LabConfigError, match="weight = 65536"):
        parse_lab({"services": [{"vip": "10.0.0.100", "vport": 80, "servers": [{"server": "rs1", "weight": 65536}]}]})
    with pytest.raises(LabConfigError, match="every weight is 0"):       # a service nothing can reach
        parse_lab({"services": [{"vip": "10.0.0.100", "vport": 80, "sched": "wlc",
                                 "servers": [{"server": "rs1", "weight": 0}]}]})
