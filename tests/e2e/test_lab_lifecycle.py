"""The lab's life cycle as a user sees it (root): `make run` reaches a working Mininet
prompt, leaving it removes everything, and `make clean` recovers after a killed run --
removing what that run recorded and nothing else (a user's own `iperf3 -s` and another
Mininet experiment's `mininet:` process survive it)."""
from __future__ import annotations

import os
import shutil
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


@pytest.mark.parametrize("target", ["softswitch", "bmv2"])
def test_make_run_reaches_a_working_prompt_and_leaves_nothing_behind(target):
    """A newcomer at a terminal: `make run PCAP=1`, a curl at the Mininet prompt, `exit`;
    the lab's log folder then holds a readable pcap per switch port and direction, and the
    request is in them. On BMv2 too: its files of ports that saw no frame were left empty."""
    if target == "bmv2" and shutil.which("simple_switch_grpc") is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH")
    assert_nothing_left()
    started = time.time()
    seen_records = []
    term = pexpect.spawn("make", ["-s", "run", "PCAP=1", f"TARGET={target}"], cwd=str(REPO), encoding="utf-8",
                         timeout=240)
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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_sigterm_or_sighup_to_a_running_lab_tears_it_down_as_exit_does(sig):
    """Break-it finding 3: `kill` (SIGTERM) or an ssh disconnect (SIGHUP) to `python -m topo
    run` at the Mininet prompt used to leave the run record, every process and the switch's
    links behind (the next lab refused until `make clean`). Now the same teardown as `exit`."""
    assert_nothing_left()
    term = pexpect.spawn(sys.executable, ["-m", "topo", "run", "--target", "softswitch"], cwd=str(REPO),
                         encoding="utf-8", timeout=240)
    try:
        term.expect("mininet> ")
        (rec,) = lab_records()
        assert rec.owner.pid == term.pid and len(rec.procs) >= 9
        os.kill(term.pid, sig)
        term.expect(f"lab stopped on {signal.Signals(sig).name}: switch, workers, servers, hosts and links "
                    f"are gone", timeout=60)
        term.expect(pexpect.EOF, timeout=30)
    finally:
        term.close(force=True)
    assert term.exitstatus == 128 + sig, term.before
    assert_nothing_left([rec])


def _tool_procs(marker: str) -> list[str]:
    """Live (not zombie) processes whose command line holds `marker`."""
    found = []
    for d in Path("/proc").iterdir():
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmd and state != "Z" and "pytest" not in cmd:
            found.append(f"{d.name} {cmd[:80]}")
    return found


def test_sigterm_to_bench_compare_tears_its_lab_and_load_tools_down(tmp_path):
    """Finding 3 for `python -m bench.compare` (`timeout 4 python -m bench.compare --quick`):
    SIGTERM while h2load (the fixed-rate phase) runs in the client host stops the lab and the
    load tool with its with-cpu shell (h2load used to run on for long after), and writes no
    results."""
    assert_nothing_left()
    out = tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-m", "bench.compare", "--quick", "--targets", "softswitch",
                             "--lcores", "1", "--modes", "fdir", "--no-lock", "--out", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        tools = "/cmp-softswitch-fdir-1-lsb/load/"          # wrk's script, h2load's log: the load tools
        while not (lab_records() and _tool_procs(tools + "h2load")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        recorded = lab_records()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert err.splitlines()[-1] == (f"compare: stopped on SIGTERM: the running lab was torn down, "
                                        f"nothing written to {out}")
        assert_nothing_left(recorded)
        deadline = time.monotonic() + 10                # SIGKILLed tools finish exiting
        while _tool_procs(tools) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _tool_procs(tools) == [], "the load tool outlived the lab"
        assert not out.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
