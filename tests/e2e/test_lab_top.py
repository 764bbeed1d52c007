"""`fdirctl top` in the running lab (root): driven in a pseudo-terminal 80 columns wide for a
few refreshes while client traffic runs, as a user would from another shell."""
from __future__ import annotations

import json
import re
import subprocess

import pexpect
import pytest

from topo.hosts import PYTHON
from topo.lab import LabRun

pytestmark = pytest.mark.root

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_top_refreshes_in_place_within_80_columns():
    lab = LabRun(None, target="softswitch", steering="fdir", overrides={
        "lab": {"name": "e2e-top", "run_dir": "/tmp/fdirlab/e2e-top"},
        "switch": {"grpc_addr": "127.0.0.1:9574"}})
    lab_file = "/tmp/fdirlab/e2e-top/lab.toml"
    with lab:
        bg = lab.traffic_start("h1", "10.0.0.100", 80, count=3000, parallel=4, timeout=5)
        try:
            child = pexpect.spawn(PYTHON, ["-m", "controller", "--lab", lab_file, "top",
                                           "--interval", "0.5", "--count", "4"],
                                  dimensions=(40, 80), encoding="utf-8", env=lab._env())
            child.expect(pexpect.EOF, timeout=60)
            child.close()
            raw = child.before
            res = subprocess.run([PYTHON, "-m", "controller", "--lab", lab_file, "--json", "top",
                                  "--interval", "0.3", "--count", "2"],
                                 capture_output=True, text=True, env=lab._env(), timeout=60)
        finally:
            client = lab.traffic_result(bg)
    assert child.exitstatus == 0, raw[-500:]
    # Redrawn in place: rich.live erases the previous frame (erase line + cursor up) and
    # writes the next one; the header counts the refreshes.
    assert raw.count("\x1b[1A") >= 3 * 8
    assert "#4" in raw and "#5" not in raw
    text = ANSI.sub("", raw)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    last = text[text.rindex("#4"):]
    rows = [ln.split() for ln in last.splitlines() if re.match(r"^\s*[0-3]\s+\d", ln)]
    assert [r[0] for r in rows] == ["0", "1", "2", "3"], last
    assert all(r[7] in ("100.0%", "-") for r in rows), last    # fdir: every reply at home
    assert "affinity 100.0%" in last
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["refreshes"] == 2 and len(out["lcores"]) == 4
    assert out["total"]["reply_hits"] > 0 and out["total"]["reply_misses"] == 0
    assert sum(r["conns"] for r in out["lcores"]) > 0
    assert client["failed"] == 0, client
