"""A DPVS full-NAT runbook at the lab's Mininet prompt (root): `make run DPVS_CONF=...`
builds the lab a dpvs.conf describes (topo/labs/dpvs.conf, 4 slave workers), the runbook's
dpip/ipvsadm lines are typed unchanged, a third local address is added while requests run,
and every request is answered with 100% return-path affinity; ipvsadm's own output shows it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
CONF = "topo/labs/dpvs.conf"
RUNBOOK = REPO / "tests/dpvs/runbook-fullnat.txt"
PY = str(REPO / ".venv/bin/python")
OUT = "/tmp/fdirlab/dpvs/runbook-traffic.json"


def say(term: pexpect.spawn, line: str, timeout: float = 60) -> str:
    term.sendline(line)
    term.expect("mininet> ", timeout=timeout)
    return term.before.split("\n", 1)[1] if "\n" in term.before else ""


def test_dpvs_fullnat_runbook_at_the_prompt():
    term = pexpect.spawn(
        "make",
        ["-s", "run", f"DPVS_CONF={CONF}"],
        cwd=str(REPO),
        encoding="utf-8",
        timeout=300,
        dimensions=(200, 250),
    )
    try:
        term.expect("is up")
        term.expect("mininet> ")
        for line in RUNBOOK.read_text().splitlines():
            out = say(term, line)
            assert "error" not in out.lower() and "unknown" not in out.lower(), (line, out)
        # requests that take a while, so the third local address arrives under traffic
        say(
            term,
            f"h1 {PY} -m topo.traffic --name h1 --vip 10.0.0.100 --port 80 --count 240 "
            f"--parallel 4 --path-prefix /slow/0.05 > {OUT} 2>&1 &",
        )
        say(term, "sh sleep 1")
        out = say(term, "ipvsadm --add-laddr -z 10.0.0.202 -t 10.0.0.100:80 -F dpdk0")
        assert out.strip() == "", out
        say(term, "h1 wait", timeout=180)
        during = json.loads(Path(OUT).read_text().strip().splitlines()[-1])
        after = json.loads(
            say(term, f"h2 {PY} -m topo.traffic --name h2 --vip 10.0.0.100 --port 80 --count 120")
            .strip()
            .splitlines()[-1]
        )
        stats = say(term, "ipvsadm -ln --stats")
        laddrs = say(term, "ipvsadm -G")
        lcores = say(term, "fdirctl stats")
        per_lcore = json.loads(say(term, "fdirctl --json stats").strip().splitlines()[-1])["lcores"]
        doctor = say(term, "fdirctl doctor")
        # --del-laddr: new conns stop binding it; its conns still hold it, so it stays on dpdk0
        say(term, "ipvsadm -Q -z 10.0.0.201 -t 10.0.0.100:80")
        laddrs_after = say(term, "ipvsadm -G")
        addrs_after = say(term, "dpip addr show")
        term.sendline("exit")
        term.expect("lab stopped", timeout=90)
    finally:
        term.close(force=True)
    assert during["failed"] == 0 and during["ok"] == 240, during
    assert after["failed"] == 0 and after["ok"] == 120, after
    assert "10.0.0.202" in after["via"], after  # new conns bind the third address
    assert set(during["via"]) <= {"10.0.0.200", "10.0.0.201", "10.0.0.202"}
    # ipvsadm -ln --stats in DPVS's layout: Conns is the workers' new conns, split by rr.
    # Every request was one conn, except where a client reused its source port while the
    # LB still held the old conn: DPVS reuses that conn (counted as conns_reused).
    new = sum(r["conns_new"] for r in per_lcore)
    reused = sum(r["conns_reused"] for r in per_lcore)
    m = re.search(r"^TCP  10\.0\.0\.100:80\s+(\d+)\s+(\d+)\s+(\d+)", stats, re.M)
    assert m and int(m.group(1)) == new and int(m.group(2)) > 0 and int(m.group(3)) > 0, (stats, per_lcore)
    assert new + reused == 360 and reused < 36, (stats, per_lcore)
    rs = [int(x) for x in re.findall(r"^  -> 10\.0\.2\.[12]:80\s+(\d+)", stats, re.M)]
    assert sum(rs) == new and min(rs) > 100, stats  # rr runs per lcore, as in DPVS
    assert re.search(r"^10\.0\.0\.100:80\s+3\s*$", laddrs, re.M), laddrs
    assert all(a in laddrs for a in ("10.0.0.200", "10.0.0.201", "10.0.0.202")), laddrs
    assert "0 error(s)" in doctor, doctor  # filters and sa_pools agree after the runbook
    assert re.search(r"^10\.0\.0\.100:80\s+2\s*$", laddrs_after, re.M), laddrs_after
    assert "10.0.0.201" not in laddrs_after and "inet 10.0.0.201/32" in addrs_after, addrs_after
    aff = re.search(r"return-path affinity: ([\d.]+)% \((\d+) replies .*?, (\d+) did not\)", lcores)
    assert aff and aff.group(1) == "100.0" and int(aff.group(2)) > 0 and aff.group(3) == "0", lcores
