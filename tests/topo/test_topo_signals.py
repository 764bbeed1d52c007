"""SIGTERM and SIGHUP end a lab run as `exit` does (break-it finding 3): topo/signals.py turns
them into Terminated in the main thread, so the `finally` that stops the lab runs, and a
second signal while it runs does not cut the teardown short. (The whole lab under SIGTERM
and SIGHUP: tests/e2e/test_lab_lifecycle.py.)"""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, time
from topo.signals import stop_on_signals
with stop_on_signals():
    try:
        print("running", flush=True)
        time.sleep(120)
    finally:
        print("tearing down", flush=True)
        sys.stdin.readline()            # the test sends a second signal first, then this line
        open(sys.argv[1], "w").write("torn down")
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_a_signal_runs_the_teardown_to_its_end_and_exits_128_plus_n(sig, tmp_path):
    done = tmp_path / "done"
    p = subprocess.Popen([sys.executable, "-c", SCRIPT, str(done)], cwd=REPO, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "running\n"
        p.send_signal(sig)
        assert p.stdout.readline() == "tearing down\n"
        p.send_signal(signal.SIGTERM)          # a second signal while stopping: ignored
        p.send_signal(signal.SIGHUP)
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.wait(30) == 128 + sig, p.stderr.read()
        assert done.read_text() == "torn down"
        assert "Traceback" not in p.stderr.read()
    finally:
        p.kill()
        p.wait()
