"""The other bench commands' arguments (break-it finding 9, the kind): a bad value is one line
naming it, exit 2, before any switch or veth is made."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module,args,line", [
    ("softswitch_bench", ["--rates", "1000,x"], "softswitch_bench: --rates '1000,x': 'x' is not a positive frame rate"),
    ("softswitch_bench", ["--rates", "nan"], "softswitch_bench: --rates 'nan': 'nan' is not a positive frame rate"),
    ("softswitch_bench", ["--duration", "0"], "softswitch_bench: --duration 0: must be > 0 seconds"),
    ("softswitch_bench", ["--targets", "tofino"],
     "softswitch_bench: --targets 'tofino': target 'tofino': use softswitch or bmv2"),
    ("fdirctl_bench", ["--laddrs", "0"], "fdirctl_bench: --laddrs 0: must be in 1..65534"),
    ("fdirctl_bench", ["--lcores", "0"], "fdirctl_bench: --lcores 0: must be in 1..32768"),
    ("fdirctl_bench", ["--batch", "0"], "fdirctl_bench: --batch 0: must be at least 1"),
    ("fdirctl_bench", ["--rounds", "-1"], "fdirctl_bench: --rounds -1: must be at least 1"),
])
def test_bad_values_are_one_line_exit_2(module, args, line):
    res = subprocess.run([sys.executable, "-m", f"bench.{module}", *args], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert (res.returncode, res.stderr, res.stdout) == (2, line + "\n", "")
