"""The softswitch command: one-line errors naming the bad value, clean exit on SIGTERM/SIGINT."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest
from ss_helpers import REPO, free_port


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "softswitch", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("args,needle", [
    (["--no-p4", "-i", "veth0"], "veth0"),
    (["--no-p4", "-i", "x@veth0"], "x@veth0"),
    (["/nonexistent/prog.json"], "/nonexistent/prog.json"),
    (["--no-p4", "-i", "1@lo", "-i", "1@lo2"], "port 1 is already used"),
    (["--no-p4", "-i", "600@lo"], "600@lo"),
    (["--no-p4", "-i", "1@no-such-if9"], "no-such-if9"),
    (["--no-p4", "--cpu-port", "999"], "999"),
    ([], "--no-p4"),
    (["--no-p4", "--log-file", "/nonexistent/dir/ss.log"], "--log-file '/nonexistent/dir/ss.log'"),
    (["--no-p4", "--pcap", "/proc/version"], "--pcap '/proc/version'"),
])
def test_bad_arguments_one_line_no_traceback(args, needle):
    res = run_cli(*args)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert needle in lines[0]
    assert "Traceback" not in res.stderr


def test_bad_json_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = run_cli(str(bad))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "JSON" in res.stderr


def test_grpc_address_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run_cli("--no-p4", "--grpc-server-addr", f"127.0.0.1:{port}")
    assert res.returncode != 0 and str(port) in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_on_signal(sig):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "softswitch", "--no-p4", "--grpc-server-addr",
                             f"127.0.0.1:{port}", "--", "--cpu-port", "64"], cwd=REPO,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    proc.send_signal(sig)
    assert proc.wait(timeout=15) == 0
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("args,needle", [
    (["--grpc-server-addr", "127.0.0.1:99999"], "--grpc-server-addr '127.0.0.1:99999': port '99999'"),
    (["--grpc-server-addr", "127.0.0.1:0"], "--grpc-server-addr '127.0.0.1:0': port '0'"),
    (["--grpc-server-addr", "127.0.0.1"], "--grpc-server-addr '127.0.0.1': give HOST:PORT"),
    (["--grpc-server-addr", ":9559"], "--grpc-server-addr ':9559'"),
    (["--device-id", "-1"], "--device-id -1: must be in 0..18446744073709551615"),
    (["--device-id", str(2**64)], f"--device-id {2**64}:"),
])
def test_out_of_range_numbers_are_refused_before_anything_starts(args, needle, tmp_path):
    """Break-it finding 8: these used to start (listening on a random port, or as device -1)
    and log the bad value as if it held. Exit 2, one line, and no log file written."""
    log = tmp_path / "ss.log"
    res = subprocess.run([sys.executable, "-m", "softswitch", "--no-p4", "--log-file", str(log), *args],
                         cwd=REPO, capture_output=True, text=True, timeout=10)
    assert res.returncode == 2 and res.stderr.startswith("softswitch: error: ")
    assert res.stderr.count("\n") == 1 and needle in res.stderr, res.stderr
    assert not log.exists()
