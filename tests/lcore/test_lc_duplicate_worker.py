"""A second worker for an lcore that already runs is refused before it touches the shared
handoff state: the live worker's flows in the shared table and the frames waiting on its
inbound ring stay as they were. Two real worker processes on `lo` (AF_PACKET: root)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lcore.config import DEFAULT_HANDOFF_DEPTH
from lcore.control import request
from lcore.handoff import HandoffNode, Ring

pytestmark = pytest.mark.root

ROOT = str(Path(__file__).parents[2])
LB_MAC = "02:00:00:00:00:fe"
KEY, VALUE = b"k" * 40, (1 << 32) | 77          # a flow owned by lcore 1


def worker_argv(ctl: Path, handoff: Path) -> list[str]:
    return [sys.executable, "-m", "lcore", "--iface", "lo", "--lcore-id", "1", "--n-lcores", "2",
            "--scheme", "lsb", "--mode", "handoff", "--mac", LB_MAC, "--ctl", str(ctl),
            "--handoff-dir", str(handoff)]


def test_refused_duplicate_leaves_live_workers_flows_and_ring(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("root test run without root")
    handoff, ctl = tmp_path / "handoff", tmp_path / "lcore-1.sock"
    live = subprocess.Popen(worker_argv(ctl, handoff), cwd=ROOT, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if ctl.exists() or live.poll() is not None:
                break
            time.sleep(0.05)
        assert ctl.exists(), live.stderr.read().decode() if live.stderr else ""
        node0 = HandoffNode(str(handoff), 0, 2, DEFAULT_HANDOFF_DEPTH)
        assert node0.insert(KEY, VALUE)
        live.send_signal(signal.SIGSTOP)        # what lcore 0 hands it now stays on its ring
        try:
            assert node0.enqueue(1, b"\x00" * 60, VALUE)
            ring = Ring(str(handoff / "ring-0-1.q"), DEFAULT_HANDOFF_DEPTH)
            before = (ring.head(), ring.tail())
            assert before[1] - before[0] == 1
            # same --ctl: refused as "in use"; another --ctl, same lcore of the handoff dir: refused too
            other = tmp_path / "other-1.sock"
            for path, needle in ((ctl, f"--ctl {ctl} is in use by a running worker"),
                                 (other, f"--handoff-dir {handoff}: lcore 1 is attached by a running worker")):
                dup = subprocess.run(worker_argv(path, handoff), cwd=ROOT, capture_output=True, timeout=60)
                err = dup.stderr.decode()
                assert dup.returncode != 0 and needle in err, err
                assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
                assert node0.lookup(KEY) == VALUE                 # the live worker's flow is there
                assert (ring.head(), ring.tail()) == before       # and its unread frame
            assert not other.exists()                             # the refused one left no socket
        finally:
            live.send_signal(signal.SIGCONT)
        assert request(str(ctl), {"op": "info"})["lcore"] == 1    # the live worker still answers
        node0.close()
    finally:
        live.terminate()
        live.wait(timeout=15)
