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
