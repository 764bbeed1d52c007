"""The lab's life cycle as a user sees it (root): `make run` reaches a working Mininet
prompt, leaving it removes everything, and `make clean` recovers after a killed run --
removing what that run recorded and nothing else (a user's own `iperf3 -s` and another
Mininet experiment's `mininet:` process survive it)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from topo.cleanup import lab_links
from topo.runstate import records

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]


def lab_records():
    return [r for r in records() if r.kind == "lab"]


def assert_nothing_left(recorded=()) -> None:
    """No lab record, no switch-side veth, and every process a run recorded is gone."""
    assert lab_records() == [], "a lab's run record was left behind"
    assert lab_links() == [], "switch-side veths left behind"
    alive = [f"{p.what} (pid {p.pid})" for rec in recorded for p in rec.procs if p.alive()]
    assert alive == [], f"recorded processes left behind: {alive}"


def test_make_run_reaches_a_working_prompt_and_leaves_nothing_behind():
    """A newcomer at a terminal: `make run PCAP=1`, a curl at the Mininet prompt, `exit`;
    the lab's log folder then holds a pcap per switch port and direction with that request."""
    assert_nothing_left()
    started = time.time()
    seen_records = []
    term = pexpect.spawn("make", ["-s", "run", "PCAP=1"], cwd=str(REPO), encoding="utf-8", timeout=240)
    try:
        term.expect("is up")
        term.expect("mininet> ")
        seen_records = lab_records()
        assert len(seen_records) == 1 and len(seen_records[0].procs) >= 9   # 9 nodes, switch, workers ...
        term.sendline("h1 curl -s -m 5 http://10.0.0.100/hello-from-test")
        # Through the NIC and an lcore to a real server, which saw a local address.
        term.expect(r"rs[12] /hello-from-test from 10\.0\.0\.20[01]:\d+", timeout=30)
        term.expect("mininet> ")
        term.sendline("exit")
        term.expect("lab stopped", timeout=60)
        term.expect(pexpect.EOF, timeout=30)
    finally:
        term.close(force=True)
    assert term.exitstatus == 0, term.before
    assert_nothing_left(seen_records)
    _assert_pcaps_hold(Path("/tmp/fdirlab/default/logs"), b"/hello-from-test", started)


def _assert_pcaps_hold(logs: Path, payload: bytes, since: float) -> None:
    """One <iface>_in.pcap and <iface>_out.pcap per switch port (s1-eth1..8 in the default
    lab), written by this run; the request entered on a wire port and left on an lcore port."""
    from scapy.utils import rdpcap

    pcaps = {p.name: p for p in logs.glob("s1-eth*_*.pcap")}
    ports = [f"s1-eth{i}" for i in range(1, 9)]
    assert sorted(pcaps) == sorted(f"{p}_{d}.pcap" for p in ports for d in ("in", "out"))
    assert all(p.stat().st_mtime >= since for p in pcaps.values())
    with_req = {name for name, p in pcaps.items() if any(payload in bytes(f) for f in rdpcap(str(p)))}
    assert any(n.endswith("_in.pcap") for n in with_req), with_req      # from h1 into the NIC
    assert any(n.endswith("_out.pcap") for n in with_req), with_req     # from the NIC to an lcore


def test_make_clean_recovers_after_a_killed_run_and_touches_nothing_else():
    assert_nothing_left()
    # a user's own iperf3 server and another Mininet experiment's host, started first
    foreign = [subprocess.Popen(["iperf3", "-s", "-p", "5999"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL),
               subprocess.Popen(["mininet:foo", "600"], executable="/bin/sleep")]
    proc = subprocess.Popen([sys.executable, "-m", "topo", "run", "--target", "softswitch"],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        seen = ""
        while "is up" not in seen:
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, f"lab did not come up: {seen[-1500:]}"
            seen += line
        (rec,) = lab_records()
        assert rec.owner.pid == proc.pid
        kinds = {p.what.split()[0] for p in rec.procs}
        assert {"mininet:s1", "mininet:h1", "softswitch", "lcore", "real", "iperf3"} <= kinds, kinds
        os.killpg(proc.pid, signal.SIGKILL)       # the whole run dies at once, no teardown
        proc.wait(10)
        left = [p for p in rec.procs if p.alive()]
        assert left and lab_links(), "a killed run should leave something to clean"
        res = subprocess.run(["make", "-s", "clean"], cwd=REPO, capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("clean: 1 killed run(s) cleaned up:"), res.stdout
        assert f"{len(left)} process(es) killed" in res.stdout, res.stdout
        assert_nothing_left([rec])
        assert [p.poll() for p in foreign] == [None, None], "make clean killed a foreign process"
        assert Path(rec.dirs[0]).parent.joinpath("logs").is_dir(), "make clean removed the logs"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for p in foreign:
            p.kill()
            p.wait()
