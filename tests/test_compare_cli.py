"""`python -m bench.compare` arguments: checked before any lab starts, results not clobbered."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.compare import QUICK_RESULTS, RESULTS, results_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args,needle", [
    (["--lcores", "0,4"], "'0' is not an lcore count"),
    (["--lcores", "4,x"], "'x' is not an lcore count"),
    (["--lcores", "-1"], "'-1' is not an lcore count"),
    (["--modes", "fdir,fast"], "mode 'fast'"),
    (["--targets", "tofino"], "target 'tofino'"),
    (["--head-to-head", "0"], "--head-to-head 0"),
])
def test_bad_arguments_exit_2_naming_the_value_and_write_nothing(args, needle, tmp_path):
    out = tmp_path / "results"
    res = subprocess.run([sys.executable, "-m", "bench.compare", "--out", str(out), *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("compare: ")
    assert not out.exists()


def test_quick_runs_write_beside_the_full_results():
    assert results_dir(quick=True, out=None) == QUICK_RESULTS != RESULTS
    assert results_dir(quick=False, out=None) == RESULTS
    assert results_dir(quick=True, out="/tmp/x") == Path("/tmp/x")
