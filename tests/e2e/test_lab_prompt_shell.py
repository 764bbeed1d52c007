"""The lab's own ipvsadm/dpip/fdirctl typed at the Mininet prompt of `make run` (root) work as
the same lines in a shell (breakit2 finding 3): a pipe, a redirect, a comment, a quoted `#`,
`fdirctl top` live on the terminal, and Ctrl-C ends top and not the lab."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def say(term: pexpect.spawn, line: str, timeout: float = 60) -> str:
    term.sendline(line)
    term.expect("mininet> ", timeout=timeout)
    return term.before.split("\n", 1)[1] if "\n" in term.before else ""


def test_prompt_tools_run_as_in_a_shell(tmp_path):
    out_file = tmp_path / "dpip_out.txt"
    term = pexpect.spawn("make", ["-s", "run"], cwd=str(REPO), encoding="utf-8", timeout=300,
                         dimensions=(50, 120))
    try:
        term.expect("is up")
        term.expect("mininet> ")
        piped = say(term, "ipvsadm -ln | grep TCP")
        say(term, f"dpip addr show > {out_file}")
        commented = say(term, "ipvsadm -ln --stats   # a comment, as in a runbook")
        quoted = say(term, "sh echo 'a#b' \"c # d\"")
        top = say(term, "fdirctl top --interval 0.5 --count 2", timeout=90)
        term.sendline("fdirctl top --interval 0.5")          # until Ctrl-C
        term.expect("affinity", timeout=60)
        term.sendintr()
        term.expect("mininet> ", timeout=30)
        after = say(term, "ipvsadm -ln | grep -c TCP")     # the lab is still there
        term.sendline("exit")
        term.expect("lab stopped", timeout=90)
    finally:
        term.close(force=True)
    # grep got ipvsadm's listing: only the TCP service lines, none of the header or UDP
    lines = [ln.strip() for ln in piped.strip().splitlines()]
    assert lines and all(ln.startswith("TCP ") for ln in lines), piped
    assert "10.0.0.100:80" in piped and "[fd00:fd::100]:80" in piped, piped
    # the redirect wrote dpip's output to the file, not an argument `>` to dpip
    text = out_file.read_text()
    assert "inet 10.0.0.200/32" in text and "inet 10.0.0.100/32" in text, text
    assert "Conns" in commented and "error" not in commented.lower(), commented
    assert quoted.strip() == "a#b c # d", quoted
    # top drew on the terminal (rich redraws in place: cursor up), two refreshes
    assert "\x1b[1A" in top, top[-400:]
    plain = ANSI.sub("", top)
    assert "#2" in plain and "#3" not in plain and "affinity" in plain, plain[-800:]
    assert after.strip().splitlines()[-1].strip() == "2", after
