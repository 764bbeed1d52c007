"""The small topo command lines refuse a bad value in one line naming it, exit 2, before
anything runs (review finding 12: `python -m topo.traffic --parallel 0` was a traceback)."""
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("module,args,needle", [
    ("topo.traffic", ["--vip", "10.0.0.100", "--parallel", "0"], "argument --parallel: 0 must be 1..4096"),
    ("topo.traffic", ["--vip", "10.0.0.100", "--parallel", "-3"], "argument --parallel: -3 must be 1..4096"),
    ("topo.traffic", ["--vip", "10.0.0.100", "--count", "0"], "argument --count: 0 must be 1..1000000"),
    ("topo.traffic", ["--vip", "10.0.0.100", "--count", "x"], "argument --count: 'x' is not an integer"),
    ("topo.traffic", ["--vip", "X"], "argument --vip: 'X' is not an IP address"),
    ("topo.traffic", ["--vip", "10.0.0.100", "--port", "0"], "argument --port: 0 must be 1..65535"),
    ("topo.traffic", ["--vip", "10.0.0.100", "--timeout", "-1"], "argument --timeout: -1 must be in (0, 3600]"),
    ("topo.udpload", ["--vip", "10.0.0.100", "--rate", "nan"], "argument --rate: nan must be in (0, 1e+07]"),
    ("topo.udpload", ["--vip", "10.0.0.100", "--rate", "inf"], "argument --rate: inf must be in (0, 1e+07]"),
    ("topo.udpload", ["--vip", "10.0.0.100", "--flows", "0"], "argument --flows: 0 must be 1..4096"),
    ("topo.udpload", ["--vip", "10.0.0.100", "--wait", "-1"], "argument --wait: -1 must be in [0, 3600]"),
    ("topo.udpload", ["--vip", "10.0.0.100", "--port", "70000"], "argument --port: 70000 must be 1..65535"),
    ("topo.realserver", ["--name", "rs1", "--http", "70000"], "argument --http: 70000 must be 1..65535"),
    ("topo.realserver", ["--name", "rs1", "--udp-echo", "0"], "argument --udp-echo: 0 must be 1..65535"),
    ("topo.realserver", ["--name", "rs1"], "give at least one --http, --http-local or --udp-echo port"),
])
def test_bad_value_is_one_line_exit_2(module, args, needle):
    r = run(module, *args)
    assert r.returncode == 2, r
    assert r.stderr == f"python -m {module}: error: {needle}\n" and r.stdout == ""


def test_realserver_port_taken_is_one_line_exit_1():
    with socket.socket(socket.AF_INET6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("topo.realserver", "--name", "rs1", "--http", str(port))
    assert r.returncode == 1, r
    assert r.stderr == f"python -m topo.realserver: error: --http {port}: Address already in use\n"


# --- make run / python -m topo run: what they refuse before any lab is built (breakit2 16) ---

def make_run(*args):
    """`make run` with PY=echo: prints the topo command line it would run, starts nothing."""
    return subprocess.run(["make", "-s", "--no-print-directory", "run", "PY=echo", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("value", ["maybe", "2", "on", "a'b"])
def test_make_run_refuses_a_pcap_value_it_does_not_know(value):
    r = make_run(f"PCAP={value}")
    assert r.returncode != 0 and r.stdout == "", r
    assert r.stderr.splitlines()[0] == f"run: PCAP={value}: use 1 or 0 (yes/no, true/false)", r.stderr


@pytest.mark.parametrize("value,on", [("1", True), ("yes", True), ("true", True), ("0", False), ("no", False),
                                      ("false", False), ("", False)])
def test_make_run_pcap_values(value, on):
    r = make_run(f"PCAP={value}")
    assert r.returncode == 0 and r.stdout.split() == ["-m", "topo", "run", "--lab", "topo/labs/default.toml",
                                                      *(["--pcap"] if on else [])], r


def test_make_run_passes_lab_and_dpvs_conf_both_so_topo_refuses():
    r = make_run("DPVS_CONF=x.conf", "LAB=y.toml")
    assert r.returncode == 0 and r.stdout.split()[3:] == ["--dpvs-conf", "x.conf", "--lab", "y.toml"], r
    r = make_run("DPVS_CONF=x.conf")
    assert r.returncode == 0 and r.stdout.split()[3:] == ["--dpvs-conf", "x.conf"], r


root_only = pytest.mark.root     # python -m topo run checks for root first (tests/conftest.py)


@root_only
def test_topo_run_refuses_lab_and_dpvs_conf_together():
    # a dpvs.conf that does not exist: were the check gone, the run would still stop before a lab
    r = run("topo", "run", "--lab", "topo/labs/default.toml", "--dpvs-conf", "/nonexistent/dpvs.conf", "--no-cli")
    assert r.returncode == 2 and r.stderr == "run: give --lab or --dpvs-conf, not both\n", r


@root_only
def test_topo_run_lab_file_errors_are_one_line_with_the_file(tmp_path):
    """Before any lab is built: the reason once, no repr, the `lab file '...'` prefix load_lab gives."""
    missing = tmp_path / "missing.toml"
    r = run("topo", "run", "--lab", str(missing), "--no-cli")
    assert r.returncode == 1 and r.stderr == f"run: lab file '{missing}': No such file or directory\n", r
    bad = tmp_path / "bad.toml"
    bad.write_text('[lab]\nscheme = "laddr"\n[lcores]\ncount = 2\n[laddrs]\naddrs = ["10.0.0.200"]\n')
    r = run("topo", "run", "--lab", str(bad), "--no-cli")
    assert r.returncode == 1 and r.stderr.startswith(f"run: lab file '{bad}': services[0] (web, tcp 10.0.0.100:80)"), r
    assert r.stderr.count("\n") == 1, r.stderr
