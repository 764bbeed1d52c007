"""A killed `make ptf` (root): the run's switch, orphaned ptf process and veths are recorded,
the next `make ptf` names them instead of failing on "port in use", `make clean` removes
exactly them, and `make ptf` works again (issue 11)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from topo.runstate import records

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]


def ptf_records():
    return [r for r in records() if r.kind == "ptf"]


def test_killed_make_ptf_then_make_clean_then_make_ptf():
    assert ptf_records() == [], "a PTF run is recorded already"
    make = subprocess.Popen(["make", "-s", "ptf"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        rec = None
        while rec is None or not any(p.what == "ptf" for p in rec.procs):
            assert make.poll() is None and time.monotonic() < deadline, "make ptf did not get going"
            time.sleep(0.1)
            recs = ptf_records()
            rec = recs[0] if recs else None
        # kill -9 the runner (and make): its switch and ptf process are orphaned
        os.kill(rec.owner.pid, signal.SIGKILL)
        os.kill(make.pid, signal.SIGKILL)
        make.wait(10)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    time.sleep(0.2)
    orphans = [p for p in rec.procs if p.alive()]
    assert {p.what.split()[0] for p in orphans} >= {"softswitch"}, orphans
    assert len(rec.links) == 12 and all(Path(f"/sys/class/net/{n}").exists() for n in rec.links)

    again = subprocess.run(["make", "-s", "ptf"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0
    assert f"ptf run pid {rec.owner.pid} (killed)" in again.stderr and "make clean" in again.stderr, \
        again.stderr

    clean = subprocess.run(["make", "-s", "clean"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0 and "1 killed run(s) cleaned up" in clean.stdout, clean.stdout
    assert [p for p in rec.procs if p.alive()] == []
    assert not any(Path(f"/sys/class/net/{n}").exists() for n in rec.links)
    assert ptf_records() == []
    assert (REPO / "logs" / "ptf").is_dir(), "make clean removed the PTF logs"

    ok = subprocess.run(["make", "-s", "ptf", "PTF_ARGS=fdir_tests.ArpAnswersForLbAddresses"], cwd=REPO,
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert ptf_records() == [] and not any(Path(f"/sys/class/net/{n}").exists() for n in rec.links)
