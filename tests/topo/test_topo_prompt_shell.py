"""The lab prompt's own ipvsadm/dpip/fdirctl run as the same line in a shell (topo/cli.py,
breakit2 finding 3): comments, quoting and shell syntax are the shell's, output goes to the
terminal, Ctrl-C ends the command and returns to the prompt. Pure parts and a real /bin/sh;
tests/e2e/test_lab_prompt_shell.py types them at a running lab's prompt."""
from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from topo.cli import run_in_shell, strip_comment, tool_command, tool_env


@pytest.mark.parametrize("line,want", [
    ("ipvsadm -ln", "ipvsadm -ln"),
    ("ipvsadm -ln # list", "ipvsadm -ln"),
    ("# only a comment", ""),
    ("fdirctl export --dev 'x;y#z'", "fdirctl export --dev 'x;y#z'"),
    ('echo "a # b"', 'echo "a # b"'),
    ("echo a#b", "echo a#b"),
    (r"echo \# x", r"echo \# x"),
    ("ipvsadm -ln|grep TCP;# done", "ipvsadm -ln|grep TCP;"),
    (r'echo "q\"#" # c', r'echo "q\"#"'),
])
def test_comments_are_cut_as_a_shell_cuts_them(line, want):
    assert strip_comment(line) == want


def test_the_line_reaches_the_shell_as_typed(tmp_path):
    """A pipe, a redirect and quotes with `#`: the tool gets its arguments, the shell the rest."""
    out = tmp_path / "o.txt"
    cmd = tool_command("dpip", "/tmp/x/lab.toml", f"-s 'a#b' | tr a-z A-Z > {out}", python="echo")
    env = tool_env(dict(os.environ), "/tmp/x/lab.toml", python=sys.executable)
    assert run_in_shell(cmd, env) == 0
    assert out.read_text() == "-M CONTROLLER.DPIP --LAB /TMP/X/LAB.TOML -S A#B\n"
    assert env["FDIRLAB_LAB"] == "/tmp/x/lab.toml" and env["PATH"].startswith(os.path.dirname(sys.executable))


def test_exit_status_is_the_commands():
    assert run_in_shell("exit 3", dict(os.environ)) == 3


def test_ctrl_c_ends_the_command_and_returns():
    """SIGINT to the prompt's process while the command runs (as a terminal's Ctrl-C reaches the
    foreground group): run_in_shell returns 130 instead of raising, the command is gone."""
    pid_file = f"/tmp/fixG-prompt-{os.getpid()}.pid"
    t = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    t.start()
    try:
        rc = run_in_shell(f"echo $$ > {pid_file}; exec sleep 30", dict(os.environ))
    finally:
        t.cancel()
    assert rc == 130
    with open(pid_file) as f:
        pid = int(f.read())
    os.unlink(pid_file)
    # the sleep was not in our foreground group here, so only the grace period's kill ends it
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
