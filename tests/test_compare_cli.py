"""`python -m bench.compare` arguments: checked before any lab starts, results not clobbered."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.compare import QUICK_RESULTS, RESULTS, check_out_dir, results_dir

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


def _as_nobody() -> dict:
    # as nobody the run can never start a lab, with or without the --out check (safe to test)
    return {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}


@pytest.mark.parametrize("out,needle", [
    ("/etc/passwd", "--out '/etc/passwd': exists and is not a directory"),
    ("/etc/passwd/results", "--out '/etc/passwd/results': /etc/passwd is not a directory"),
    ("/etc/fdirlab-results/x", "--out '/etc/fdirlab-results/x': /etc is not writable"),
])
def test_an_out_that_cannot_hold_results_is_refused_before_any_lab(out, needle):
    """Break-it finding 9: `--out /etc/passwd --quick` ran every lab, then died with a
    FileExistsError traceback. Checked first now: exit 2, one line naming it."""
    res = subprocess.run([sys.executable, "-m", "bench.compare", "--quick", "--out", out], capture_output=True,
                         text=True, cwd="/", env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60,
                         **_as_nobody())
    assert res.returncode == 2 and res.stderr == f"compare: {needle}\n", res.stderr
    assert not Path("/etc/fdirlab-results").exists()


def test_check_out_dir(tmp_path):
    (tmp_path / "f").write_text("x")
    for bad in (tmp_path / "f", tmp_path / "f" / "sub"):
        with pytest.raises(ValueError, match=f"--out '{bad}': "):
            check_out_dir(bad)
    check_out_dir(tmp_path / "new" / "deeper")          # made later, under a writable folder
    check_out_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]    # the check writes nothing


@pytest.mark.parametrize("args,named", [
    (["--head-to-head", "1", "--modes", "rss", "--lcores", "2"], "--lcores, --modes"),
    (["--head-to-head", "1", "--quick"], "--quick"),
    (["--quick", "--head-to-head", "2", "--modes", "fdir"], "--quick, --modes"),
])
def test_head_to_head_refuses_options_it_would_ignore(args, named, tmp_path):
    """Break-it 2 finding 16: `--head-to-head 1 --modes rss --lcores 2` ran fdir and handoff at
    4 lcores, --modes and --lcores silently ignored. One line naming them, exit 2, before any lab
    (run as nobody: a check that let it through stops at 'needs root', not at a lab)."""
    out = tmp_path / "results"
    res = subprocess.run([sys.executable, "-m", "bench.compare", "--out", str(out), *args], capture_output=True,
                         text=True, cwd=ROOT, timeout=60, **_as_nobody())
    assert res.returncode == 2 and res.stdout == "", res.stderr
    assert res.stderr == (f"compare: --head-to-head always runs fdir and handoff at 4 lcores with the full "
                          f"plan: {named} cannot be combined with it\n")
    assert not out.exists()
