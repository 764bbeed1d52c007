"""Load tools and nginx of the lab, the pure parts: command lines, parsers, nginx.conf."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.compare_plan import delta, flat_counters, full_plan, quick_plan, summarize, usable_ports
from topo.loadgen import h2load_command, parse_cpu_times, parse_h2load, parse_wrk, percentile, wrk_command
from topo.nginx import NginxSite, render_conf

WRK_OUT = """Running 4s test @ http://10.0.0.100:80/
  1 threads and 32 connections
{"wrk": 1, "requests": 8523, "duration_us": 4005000, "bytes": 1, "connect_errors": 0, "read_errors": 2, "write_errors": 0, "status_errors": 3, "timeouts": 1, "p50_us": 6990, "p90_us": 10203, "p99_us": 35928, "max_us": 85132, "mean_us": 7000.0}
#cpu
0m0.002s 0m0.000s
1m0.250s 0m0.024s
"""  # noqa: E501 - wrk's JSON summary line, verbatim


def test_wrk_result_and_cpu_times():
    w = parse_wrk(WRK_OUT)
    assert w.requests == 8523 and w.ok == 8520 and w.p99_ms == 35.928
    assert w.errors == {"connect": 0, "read": 2, "write": 0, "status": 3, "timeout": 1}
    assert round(w.conns_per_s, 1) == round(8520 / 4.005, 1)
    assert parse_cpu_times(WRK_OUT) == 60.274
    with pytest.raises(ValueError, match="wrk printed no result"):
        parse_wrk("Killed\n")
    assert parse_cpu_times("no marker") is None
    cmd = wrk_command("http://x/", Path("/s.lua"), conns=8, seconds=2.4)
    assert cmd[cmd.index("wrk") :][:7] == ["wrk", "-t", "1", "-c", "8", "-d", "2s"]


def test_h2load_fixed_rate_and_percentiles():
    cmd = h2load_command("http://x/", rate=250, seconds=2, log_path=Path("/l"))
    assert cmd[cmd.index("-n") + 1] == "500" and cmd[cmd.index("--rate-period") + 1] == "4ms"
    out = ("requests: 10 total, 10 started, 10 done, 9 succeeded, 1 failed, 1 errored, 0 timeout\n"
           "time for connect:      129us     15.91ms      2.84ms      4.26ms    90.00%\n")
    log = "\n".join(f"1795983888154{i:03d}\t200\t{(i + 1) * 1000}" for i in range(9)) + \
        "\n1795983888154999\t-1\t5\n"
    r = parse_h2load(out, log)
    assert r["total"] == 10 and r["succeeded"] == 9 and r["failed"] == 1
    assert r["samples"] == 9 and r["p50_ms"] == 5.0 and r["p99_ms"] == 9.0
    assert r["connect_mean_ms"] == 2.84
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_nginx_conf_keeps_the_answer_contract():
    conf = render_conf(NginxSite("rs1", (8080,), Path("/tmp/x/rs1")))
    assert 'return 200 "rs1 $request_uri from $fdirlab_peer:$remote_port\\n";' in conf
    assert 'map $remote_addr $fdirlab_peer { "~:" "[$remote_addr]"; default $remote_addr; }' in conf
    assert "listen 8080 " in conf and "listen [::]:8080 ipv6only=on" in conf
    assert "keepalive_timeout 0;" in conf and "master_process off;" in conf
    assert "proxy_pass http://127.0.0.1:18080;" in conf
    v4 = render_conf(NginxSite("rs2", (80, 8080), Path("/p"), ipv6=False, slow_backend=False))
    assert "[::]" not in v4 and v4.count("server {") == 2 and "/slow/" not in v4


def test_counters_summary():
    before = [flat_counters({"conns_new": 1, "reply_hits": 1, "packets": {"in": 5},
                             "handoff": {"do_handoff": 1}, "drops": {"x": 1}, "conns": {"total": 9}})]
    after = [flat_counters({"conns_new": 11, "reply_hits": 31, "reply_misses": 10,
                            "packets": {"in": 50}, "handoff": {"do_handoff": 21},
                            "drops": {"x": 4, "reply_other_lcore": 10}, "conns": {"total": 3}})]
    d = delta(before, after)
    assert d[0]["conns_new"] == 10 and d[0]["conns"] == 3 and d[0]["drop:x"] == 3
    s = summarize(d + d, answered=10)
    assert s["affinity"] == 75.0 and s["handoffs_per_conn"] == 4.0
    assert s["drop_causes"] == {"reply_other_lcore": 20, "x": 6}
    assert s["conns_per_lcore"] == [10, 10] and s["spread_max_over_mean"] == 1.0


def test_usable_ports_per_scheme():
    lsb6 = usable_ports("lsb", 6, 2)
    assert lsb6["unowned_per_laddr"] == 16128            # residues 6 and 7 of mask 7
    assert lsb6["per_laddr_lcore"][0][0] == len(range(1032, 65536, 8))
    assert usable_ports("range", 6, 2)["unowned_per_laddr"] < 16128
    lad = usable_ports("laddr", 4, 2)
    assert lad["unowned_per_laddr"] == 0 and lad["min_per_lcore"] == 0   # lcores 2, 3: none


def test_plans():
    q = quick_plan()
    assert [c.mode for c in q.cases()] == ["fdir", "rss", "handoff"]
    assert all(c.lcores == 4 and not c.sweep for c in q.cases())
    full = full_plan(("softswitch", "bmv2")).cases()
    assert len(full) == 2 * (5 * 3 + 2 + 1 + 1)
    assert {c.scheme for c in full if c.lcores == 6 and c.mode == "fdir"} == {"lsb", "range", "laddr"}
    # fdir and handoff at 4 lcores, and handoff with a shallow ring, per target
    assert sum(c.sweep for c in full) == 6
    shallow = [c for c in full if c.handoff_depth is not None]
    assert [(c.mode, c.handoff_depth, c.name) for c in shallow] == [
        ("handoff", 4, "softswitch-handoff-4-lsb-r4"), ("handoff", 4, "bmv2-handoff-4-lsb-r4")]
    assert not [c for c in full_plan(("softswitch",)).cases() if c.handoff_depth and c.mode != "handoff"]


def test_every_case_of_the_full_plan_makes_a_lab_that_loads():
    """Each (mode, lcore count, scheme) of `make compare` is a lab the config accepts: the
    laddr scheme gets one local address per lcore in every family the lab serves (IPv4 and
    IPv6 VIPs), not an IPv4-only list that leaves the IPv6 service without ports."""
    from bench.compare import CaseRun, lab_file, laddrs_per_lcore

    plan = full_plan(("softswitch",))
    for i, case in enumerate(plan.cases()):
        run = CaseRun(case, plan, 9600 + i)
        assert run.lab.lab.n_lcores == case.lcores
        if case.handoff_depth is not None:
            assert run.lab.lab.lcores.handoff_depth == case.handoff_depth
    assert laddrs_per_lcore(lab_file(), 6) == [
        "10.0.0.200", "10.0.0.201", "10.0.0.202", "10.0.0.203", "10.0.0.204", "10.0.0.205",
        "fd00:fd::200", "fd00:fd::201", "fd00:fd::202", "fd00:fd::203", "fd00:fd::204",
        "fd00:fd::205"]
    assert laddrs_per_lcore(lab_file(), 1) == ["10.0.0.200", "10.0.0.201", "fd00:fd::200", "fd00:fd::201"]
