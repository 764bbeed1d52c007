"""Test and benchmark rigs record what they start (topo/rig/record.py): a killed pytest or
benchmark leaves veths and switch processes that `make clean` removes; an orderly close
leaves no record at all."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from topo.runstate import records

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.root

HOLDER = """
import sys, time
from topo.rig.veth import VethSet
from topo.rig.switches import Target
v = VethSet(2)
t = Target("softswitch", v)
print(" ".join(v.sw.values()), t.proc.pid, flush=True)
time.sleep(600)
"""


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2:][:1] != "Z"


def test_a_killed_rig_is_cleaned_by_make_clean():
    p = subprocess.Popen([sys.executable, "-c", HOLDER], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        *links, sw_pid = p.stdout.readline().split()
        recs = [r for r in records() if r.kind == "rig" and r.owner.pid == p.pid]
        assert len(recs) == 1 and sorted(recs[0].links) == sorted(links)
        assert [x.pid for x in recs[0].procs] == [int(sw_pid)]
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert all(_link_exists(n) for n in links) and _alive(int(sw_pid))   # what a killed run leaves
    res = subprocess.run([sys.executable, "-m", "topo", "clean"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    deadline = time.monotonic() + 5
    while _alive(int(sw_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [n for n in links if _link_exists(n)] and not _alive(int(sw_pid))
    assert not [r for r in records() if r.kind == "rig" and r.owner.pid == p.pid]


def test_an_orderly_rig_leaves_no_record():
    from topo.rig.switches import Target
    from topo.rig.veth import VethSet

    before = [r for r in records() if r.kind == "rig" and r.owner.pid == os.getpid()]
    v = VethSet(1)
    t = Target("softswitch", v)
    mine = [r for r in records() if r.kind == "rig" and r.owner.pid == os.getpid()]
    assert len(mine) == 1 and v.sw[1] in mine[0].links and t.proc.pid in [x.pid for x in mine[0].procs]
    t.stop()
    v.close()
    after = [r for r in records() if r.kind == "rig" and r.owner.pid == os.getpid()]
    assert not [r for r in after if v.sw[1] in r.links or t.proc.pid in [x.pid for x in r.procs]]
    if not before:             # nothing else of this process's rigs open: the record is gone
        assert after == []


def test_a_rig_whose_switch_a_test_killed_leaves_no_record_at_exit():
    """Tests kill switches on purpose (crash recovery); once dead they are nothing to clean."""
    code = ("import os, signal\nfrom topo.rig.veth import VethSet\nfrom topo.rig.switches import Target\n"
            "v = VethSet(1)\nt = Target('softswitch', v)\nos.kill(t.proc.pid, signal.SIGKILL)\n"
            "t.proc.wait()\nv.close()\nprint(os.getpid())\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    pid = int(res.stdout.split()[-1])
    assert not [r for r in records() if r.kind == "rig" and r.owner.pid == pid]
