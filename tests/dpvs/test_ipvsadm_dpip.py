"""ipvsadm and dpip command lines as DPVS writes them, and their output in DPVS's layout
(tools/ipvsadm/ipvsadm.c, tools/dpip/addr.c); bad input is one line, exit 2, nothing done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller import dpip as P
from controller import errors as E
from controller import ipvsadm as I

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv,command,opts,flags",
    [
        (
            ["-A", "-t", "10.0.0.100:80", "-s", "rr"],
            "add-service",
            {"tcp-service": "10.0.0.100:80", "scheduler": "rr"},
            set(),
        ),
        (
            ["-a", "-t", "10.0.0.100:80", "-r", "10.0.2.1:80", "-b", "-w", "3"],
            "add-server",
            {"tcp-service": "10.0.0.100:80", "real-server": "10.0.2.1:80", "weight": "3"},
            {"fullnat"},
        ),
        (
            ["--add-laddr", "-z", "10.0.0.200", "-t", "10.0.0.100:80", "-F", "dpdk0"],
            "add-laddr",
            {"laddr": "10.0.0.200", "tcp-service": "10.0.0.100:80", "ifname": "dpdk0"},
            set(),
        ),
        (
            ["-P", "-z", "10.0.0.200", "-u", "[fd00::100]:53", "-F", "dpdk0"],
            "add-laddr",
            {"laddr": "10.0.0.200", "udp-service": "[fd00::100]:53", "ifname": "dpdk0"},
            set(),
        ),
        (["-ln", "--stats"], "list", {}, {"numeric", "stats"}),
        (["-Ln", "--rate"], "list", {}, {"numeric", "rate"}),
        (["-G"], "get-laddr", {}, set()),
        (["--get-laddr", "-t10.0.0.100:80"], "get-laddr", {"tcp-service": "10.0.0.100:80"}, set()),
        (["-Z"], "zero", {}, set()),
        (["-C"], "clear", {}, set()),
        ([], "list", {}, set()),
    ],
)
def test_parse_argv(argv, command, opts, flags):
    c = I.parse_argv(argv)
    assert (c.command, c.opts, c.flags) == (command, opts, flags)


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["-A", "-D"], "cannot go together"),
        (["-a", "-t", "10.0.0.100:80", "-r", "10.0.2.1", "-g"], "full-NAT only"),
        # finding 6: DPVS's default forwarding is DR (ipvsadm.c process_options), not -b
        (["-a", "-t", "10.0.0.100:80", "-r", "10.0.2.1"], r"--add-server without a forwarding method is "
         r"direct routing \(-g\) in DPVS; the lab models full-NAT only: add -b"),
        (["-e", "-t", "10.0.0.100:80", "-r", "10.0.2.1", "-w", "0"], "--edit-server without a forwarding"),
        # the kind: an option the command does not take was silently ignored (DPVS: illegal)
        (["-E", "-t", "10.0.0.100:80", "-w", "3"], "illegal option -w with --edit-service"),
        (["-A", "-t", "10.0.0.100:80", "-r", "10.0.2.1:80"], "illegal option -r with --add-service"),
        (["-d", "-t", "10.0.0.100:80", "-r", "10.0.2.1:80", "-w", "2"], "illegal option -w with --delete-server"),
        (["-D", "-t", "10.0.0.100:80", "-s", "rr"], "illegal option -s with --delete-service"),
        (["-C", "-t", "10.0.0.100:80"], "illegal option -t/-u with --clear"),
        (["-ln", "-z", "10.0.0.200"], "illegal option -z with --list"),
        (["-G", "-n"], "illegal option -n with --get-laddr"),
        (["-P", "-z", "10.0.0.200", "-t", "10.0.0.100:80", "-F", "dpdk0", "-b"], "illegal option -b with --add-laddr"),
        (["-A", "-t"], "-t needs a value"),
        (["-X"], "unknown option -X"),
        (["-A", "-t", "1.2.3.4:80", "-u", "1.2.3.4:53"], "one of -t and -u"),
    ],
)
def test_parse_argv_errors(argv, msg):
    with pytest.raises(E.BadInput, match=msg):
        I.parse_argv(argv)


def test_service_address_forms():
    assert I.Cmd(opts={"tcp-service": "[fd00::100]:80"}).service == ("tcp", "fd00::100", 80)
    with pytest.raises(E.BadInput, match="missing :PORT"):
        _ = I.Cmd(opts={"tcp-service": "10.0.0.100"}).service
    with pytest.raises(E.BadInput, match="port '99999'"):
        _ = I.Cmd(opts={"udp-service": "10.0.0.100:99999"}).service


SVC = [
    {
        "proto": "tcp",
        "vip": "10.0.0.100",
        "vport": 80,
        "sched": "rr",
        "dests": [
            {
                "addr": "10.0.2.1",
                "port": 80,
                "weight": 1,
                "activeconns": 2,
                "inactconns": 5,
                "conns": 7,
                "inpkts": 35,
                "outpkts": 30,
                "inbytes": 2400,
                "outbytes": 123456789,
            }
        ],
        "laddrs": [],
    }
]


def test_list_layouts_are_dpvs_ipvsadm():
    out = I.format_list(I.merge([SVC, SVC])).splitlines()
    assert out == [
        "IP Virtual Server version 1.9.2 (size=0)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.100:80 rr",
        "  -> 10.0.2.1:80                  FullNat 1      4          10        ",
    ]
    st = I.format_list(I.merge([SVC, SVC]), "stats").splitlines()
    assert st[1] == "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes"
    assert st[2] == "  -> RemoteAddress:Port"
    assert st[3] == "TCP  10.0.0.100:80                      14       70       60     4800  246913K"
    assert st[4] == "  -> 10.0.2.1:80                        14       70       60     4800  246913K"
    assert I.largenum(123456789, exact=True) == " 123456789"


def test_get_laddr_layout():
    svc = [{**SVC[0], "laddrs": [{"addr": "10.0.0.200", "conns": 3}]}]
    assert I.format_laddrs(I.merge([svc])).splitlines() == [
        "VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS     ",
        "10.0.0.100:80        1        ",
        "                              10.0.0.200           0          3         ",
    ]


def test_rates_are_per_second_differences():
    after = I.merge([[{**SVC[0], "dests": [{**SVC[0]["dests"][0], "conns": 27, "inpkts": 135}]}]])
    r = I.rates(I.merge([SVC]), after, 2.0)
    assert r[0]["dests"][0]["conns"] == 10 and r[0]["dests"][0]["inpkts"] == 50


def test_dpip_parse_and_layout():
    a = P.parse_argv(["addr", "add", "10.0.0.200/24", "dev", "dpdk0", "sapool"])
    assert (a["cmd"], a["addr"], a["plen"], a["dev"], a["sapool"]) == (
        "add",
        "10.0.0.200",
        24,
        "dpdk0",
        True,
    )
    assert P.parse_argv(["-s", "addr", "show"])["stats"]
    assert P.format_addr("10.0.0.200", 32, "dpdk0", {"sa_used": 1, "sa_free": 2, "sa_miss": 0}) == (
        "inet 10.0.0.200/32 scope global dpdk0\n"
        "     valid_lft forever preferred_lft forever sa_used 1 sa_free 2 sa_miss 0"
    )
    for argv, msg in (
        (["addr", "add", "10.0.0.1"], "no device specified"),
        (["addr", "add", "dev", "dpdk0"], "missing IFADDR"),
        (["addr", "add", "10.0.0.300", "dev", "dpdk0"], "not an IP address"),
        (["route", "show"], "dpip addr"),
        (["-6", "addr", "add", "10.0.0.1", "dev", "dpdk0"], "not IPv6"),
    ):
        with pytest.raises(E.BadInput, match=msg):
            P.parse_argv(argv)


@pytest.mark.parametrize(
    "tool,argv,msg",
    [
        (
            "controller.ipvsadm",
            ["-A", "-t", "10.0.0.100:80", "-s", "mh"],
            "ipvsadm: scheduler 'mh': the lab's",
        ),
        ("controller.ipvsadm", ["-ln"], "ipvsadm: lcore 0 worker unreachable"),
        (
            "controller.dpip",
            ["addr", "add", "1.2.3.4/99", "dev", "dpdk0"],
            "dpip: '1.2.3.4/99': prefix length",
        ),
        ("controller.ipvsadm", ["-ln"], "ipvsadm needs the lab"),
    ],
)
def test_shell_commands_fail_in_one_line(tool, argv, msg, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    if "needs the lab" not in msg:  # a lab file that exists, but no such lab runs
        argv = ["--lab", str(tmp_path / "lab.toml"), *argv]
        (tmp_path / "lab.toml").write_text(f'[lab]\nrun_dir = "{tmp_path}"\n')
    r = subprocess.run(
        [sys.executable, "-m", tool, *argv], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    if msg:
        assert r.stderr.startswith(msg), r.stderr
