"""The P4Runtime client layer against the in-process fake server: arbitration (newest
election id is primary), per-update write errors, and fdirctl's offline commands."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ctl_fake_p4rt import FakeSwitch
from ctl_helpers import REPO, synthetic_p4info

from controller.errors import SwitchUnreachable
from controller.p4names import P4Names
from controller.p4rt_client import INSERT, P4RTClient, P4RuntimeWriteError
from controller.rules import hand_filter


@pytest.fixture
def fake():
    sw = FakeSwitch()
    yield sw
    sw.stop()


def test_lower_election_id_is_not_primary(fake):
    a = P4RTClient(fake.addr, 1, election_id=100).connect()
    with pytest.raises(SwitchUnreachable, match="another controller is primary"):
        P4RTClient(fake.addr, 1, election_id=50).connect()
    b = P4RTClient(fake.addr, 1, election_id=50).connect(require_primary=False)
    assert a.is_primary and not b.is_primary
    a.close()
    b.close()


def test_write_error_names_each_failed_update_and_the_applied_ones(fake):
    info = synthetic_p4info()
    names = P4Names(info)
    with P4RTClient(fake.addr, 1).connect() as c:
        c.set_pipeline(info, b"{}")
        ents = [hand_filter("10.0.0.1", p, 0xFFFF, "tcp", 1) for p in range(5)]
        c.write([(INSERT, names.encode(ents[2]))])
        with pytest.raises(P4RuntimeWriteError) as ei:
            c.write([(INSERT, names.encode(e)) for e in ents], batch_size=2)
        err = ei.value
        assert [f.index for f in err.failed] == [2] and err.failed[0].code == "ALREADY_EXISTS"
        assert err.applied == {0, 1, 3}        # batch [2, 3] was applied except update 2; batch [4] never sent


def test_two_clients_two_switches_are_independent(fake):
    other = FakeSwitch()
    try:
        with P4RTClient(fake.addr, 1).connect() as a, P4RTClient(other.addr, 1).connect() as b:
            info = synthetic_p4info()
            a.set_pipeline(info, b"{}")
            assert b.get_pipeline() == (None, None)
            assert a.get_pipeline()[1] is not None
    finally:
        other.stop()


def _run(*argv):
    return subprocess.run([sys.executable, "-m", "controller", *argv], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


def test_schemes_offline():
    r = _run("schemes", "--lcores", "8", "--laddrs", "1000", "--json")
    assert r.returncode == 0
    rows = {x["scheme"]: x for x in json.loads(r.stdout)["schemes"]}
    assert rows["lsb"]["entries"] == 16000 and rows["laddr"]["entries"] == 2000
    assert rows["lsb"]["unowned_ports_per_laddr"] == 0
    r = _run("schemes", "--lcores", "6")
    assert r.returncode == 0 and "lsb" in r.stdout and "range" in r.stdout


@pytest.mark.parametrize("argv,word", [
    (["schemes", "--lcores", "0"], "lcore count 0"),
    (["schemes", "--lcores", "32769"], "32769"),
    (["schemes", "--port-range", "70000-1"], "70000-1"),
    (["--lab", "/nonexistent.toml", "status"], "/nonexistent.toml"),
    (["laddr"], "laddr"),
    (["init", "--lcores", "x"], "'x'"),
])
def test_offline_bad_input(argv, word):
    r = _run(*argv)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and word in r.stderr, r.stderr
