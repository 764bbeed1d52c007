"""Finding 14: `fdirctl ... | head` ended in "internal error: BrokenPipeError". A reader that
goes away ends fdirctl, ipvsadm and dpip quietly, as Unix tools (status 128 + SIGPIPE, no
message). The pipe here is a real one whose read end is closed before the tool writes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.stdout import EXIT_PIPE

REPO = str(Path(__file__).parents[2])


def closed_pipe_run(code: list[str]) -> subprocess.CompletedProcess:
    r, w = os.pipe()
    os.close(r)                     # the reader is gone before the first write: EPIPE for sure
    try:
        return subprocess.run([sys.executable, *code], stdout=w, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, timeout=60)
    finally:
        os.close(w)


@pytest.mark.parametrize("argv", [
    ["-m", "controller", "schemes", "--lcores", "8", "--laddrs", "64"],     # output, no switch needed
    ["-m", "controller", "--json", "schemes"],
])
def test_fdirctl_reader_gone_is_quiet(argv):
    p = closed_pipe_run(argv)
    assert p.returncode == EXIT_PIPE == 141 and p.stderr == "", p.stderr


def test_fdirctl_output_still_complete_when_read():
    p = subprocess.run([sys.executable, "-m", "controller", "schemes"], capture_output=True, text=True,
                       cwd=REPO, timeout=60)
    assert p.returncode == 0 and "scheme" in p.stdout and p.stderr == ""


@pytest.mark.parametrize("tool", ["ipvsadm", "dpip"])
def test_console_tools_reader_gone_is_quiet(tool):
    """ipvsadm's and dpip's console-script body (tool_main) with a listing to print: the
    listing is what the real run returns; the reader is gone."""
    code = ("import sys\nfrom controller.dpvs_session import tool_main\n"
            f"sys.exit(tool_main({tool!r}, lambda: 'TCP  10.0.0.100:80 wlc\\n' * 2000))")
    p = closed_pipe_run(["-c", code])
    assert p.returncode == EXIT_PIPE and p.stderr == "", p.stderr
