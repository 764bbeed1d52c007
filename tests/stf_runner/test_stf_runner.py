"""The STF runner end to end on a real target: TUN ports, the switch process, P4Runtime, frames.

Programs of its own (tests/stf_runner/programs: .p4, compiled .json/.p4info.txtpb, .stf), run
on softswitch and, where simple_switch_grpc is installed, on BMv2 with the same assertions:
each passes; a wrong, a missing and an unexpected frame are each detected and named; a TAP
port refuses the short frames a TUN port carries (why the runner uses TUN).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stf.parser import parse
from stf.runner import FAIL, PASS, RunOptions, RunResult, run_program

PROGRAMS = Path(__file__).resolve().parent / "programs"
NAMES = ("stf_tables", "stf_short")
TARGETS = [
    pytest.param("softswitch"),
    pytest.param(
        "bmv2",
        marks=pytest.mark.skipif(
            shutil.which("simple_switch_grpc") is None, reason="simple_switch_grpc is not installed"
        ),
    ),
]

pytestmark = pytest.mark.root


def _run(name: str, target: str, stf_text: str, tmp_path: Path, kind: str = "tun") -> RunResult:
    opts = RunOptions(port_kind=kind, log_dir=tmp_path / "logs", out_wait=2.0)
    cmds = parse(stf_text, f"{name}.stf")
    return run_program(
        name, cmds, PROGRAMS / f"{name}.p4info.txtpb", PROGRAMS / f"{name}.json", target, "t", opts
    )


def _stf(name: str) -> str:
    return (PROGRAMS / f"{name}.stf").read_text()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", NAMES)
def test_program_passes(name: str, target: str, tmp_path: Path) -> None:
    r = _run(name, target, _stf(name), tmp_path)
    assert (r.status, r.reason) == (PASS, "")


@pytest.mark.parametrize("target", TARGETS)
def test_wrong_missing_and_extra_frames_are_detected(target: str, tmp_path: Path) -> None:
    text = _stf("stf_tables")
    # the higher-priority ternary entry sets mark 0x22; expect 0x23 instead
    wrong = text.replace(
        "expect 1 000000000002 000000000001 88b5 01 22 1234 $",
        "expect 1 000000000002 000000000001 88b5 01 23 1234 $",
    )
    assert wrong != text
    r = _run("stf_tables", target, wrong, tmp_path)
    assert r.status == FAIL
    assert r.reason.startswith(
        "port 1 frame 0 (expect on line 17): nibble 31 (byte 15) is 2, expected 3"
    )
    # a frame that never comes (the lpm route to port 2 sends it to port 2, not 4)
    missing = text + "packet 0 ffffffffffff 0a0c0c0d0e0f 0801 02\nexpect 4 ffffffffffff\n"
    r = _run("stf_tables", target, missing, tmp_path)
    assert r.status == FAIL and "port 2: expected 2 frame(s), got 3" in r.details
    assert "port 4: expected 1 frame(s), got 0" in r.details
    # a frame nobody expected: drop the last expect line
    extra = text.rstrip().rsplit("\n", 1)[0] + "\n"
    r = _run("stf_tables", target, extra, tmp_path)
    assert (r.status, r.reason) == (FAIL, "port 2: expected 1 frame(s), got 2")


@pytest.mark.parametrize("target", TARGETS)
def test_write_rejected_by_the_target_fails_with_its_error(target: str, tmp_path: Path) -> None:
    # the same exact key twice: the second INSERT is ALREADY_EXISTS
    text = "add l2 eth.dst:0x2 fwd(port:2)\nadd l2 eth.dst:0x2 fwd(port:3)\n"
    r = _run("stf_tables", target, text, tmp_path)
    assert r.status == FAIL
    assert r.reason.startswith("line 2: add l2: ALREADY_EXISTS")


def test_tap_ports_refuse_short_frames_tun_ports_carry(tmp_path: Path) -> None:
    r = _run("stf_short", "softswitch", _stf("stf_short"), tmp_path, kind="tap")
    assert r.status == FAIL
    assert "refused a 3-byte frame: Invalid argument" in r.reason


def test_cli_runs_a_program_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "stf",
            "run",
            "--programs",
            str(PROGRAMS),
            "--targets",
            "softswitch",
            "--out",
            str(out),
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "softswitch: 2 pass, 0 fail, 0 refused, of 2" in r.stdout
    doc = json.loads((out / "results.json").read_text())
    assert doc["totals"]["softswitch"] == {"pass": 2, "fail": 0, "refused": 0, "total": 2}
    assert set(doc["programs"]) == set(NAMES)
