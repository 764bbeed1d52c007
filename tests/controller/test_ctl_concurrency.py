"""Concurrent fdirctl processes on one real switch: readers never demote a writer, two
writers never interleave, and afterwards every local address is fully present or fully
absent (issue 10, kind 1); a failing Write of 1,000 updates still names the failing update
and the switch's reason (kind 6)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ctl_helpers import REPO, Fdirctl, snapshot


@pytest.fixture(params=["softswitch", "bmv2"])
def target(request) -> str:      # real switches only: arbitration and metadata limits are theirs
    import shutil
    if request.param == "bmv2" and shutil.which("simple_switch_grpc") is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH")
    return request.param


def _popen(fdirctl: Fdirctl, *args: str, lock_dir: str) -> subprocess.Popen:
    env = dict(os.environ, FDIRCTL_LOCK_DIR=lock_dir)
    return subprocess.Popen([sys.executable, "-m", "controller", *fdirctl.base(), "--no-workers", "--json", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)


def _laddrs(fdirctl: Fdirctl) -> dict[str, bool]:
    code, res, err = fdirctl("laddr", "list")
    assert code in (0, 7), err
    return {r["laddr"]: r["complete"] for r in res["laddrs"]}


def _addr_file(tmp_path, name: str, addrs: list[str]) -> str:
    p = tmp_path / name
    p.write_text("\n".join(addrs) + "\n")
    return str(p)


def test_readers_do_not_demote_a_writer(fdirctl, tmp_path, monkeypatch):
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path / "locks"))
    assert fdirctl("init", "--lcores", "4")[0] == 0
    addrs = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(600)]
    f = _addr_file(tmp_path, "a.txt", addrs)
    writer = _popen(fdirctl, "--batch-size", "40", "laddr", "add", "--from-file", f, lock_dir=str(tmp_path / "locks"))
    reads = 0
    while writer.poll() is None:          # read-only commands, as fast as they go, while it writes
        r = _popen(fdirctl, "laddr", "list", lock_dir=str(tmp_path / "locks"))
        r.communicate(timeout=60)
        assert r.returncode in (0, 7)
        reads += 1
    out, err = writer.communicate()
    assert reads >= 2, "the readers never overlapped the writer"
    assert writer.returncode == 0, err
    assert json.loads(out)["entries"] == 600 * (4 * 2 + 2)
    got = _laddrs(fdirctl)
    assert set(got) == set(addrs) and all(got.values())


def test_two_writers_never_interleave(fdirctl, tmp_path, monkeypatch):
    """Two writers add overlapping sets; a third deletes. Each address ends fully present or
    fully absent, and each exit code says which happened to its addresses."""
    locks = str(tmp_path / "locks")
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", locks)
    assert fdirctl("init", "--lcores", "4")[0] == 0
    a = [f"10.2.0.{i}" for i in range(1, 201)]
    b = [f"10.2.0.{i}" for i in range(151, 251)]        # 50 addresses in common with a
    c = [f"10.3.0.{i}" for i in range(1, 101)]
    assert fdirctl("laddr", "add", "--from-file", _addr_file(tmp_path, "c.txt", c))[0] == 0
    procs = {"a": _popen(fdirctl, "--batch-size", "40", "laddr", "add", "--from-file",
                         _addr_file(tmp_path, "a.txt", a), lock_dir=locks),
             "b": _popen(fdirctl, "--batch-size", "40", "laddr", "add", "--from-file",
                         _addr_file(tmp_path, "b.txt", b), lock_dir=locks),
             "c": _popen(fdirctl, "--batch-size", "40", "laddr", "del", "--from-file",
                         _addr_file(tmp_path, "c.txt", c), lock_dir=locks)}
    codes = {}
    for k, p in procs.items():
        out, err = p.communicate(timeout=300)
        codes[k] = (p.returncode, err)
    got = _laddrs(fdirctl)
    assert all(got.values()), "an address is half installed"
    assert codes["c"][0] == 0 and not set(c) & set(got)
    # the writers ran one after the other: the first added all of its set, the second
    # found 50 of its addresses present and wrote nothing (exit 4)
    assert sorted(x[0] for k, x in codes.items() if k != "c") == [0, 4], codes
    winner = a if codes["a"][0] == 0 else b
    loser = "b" if winner is a else "a"
    assert "already present" in codes[loser][1]
    assert set(got) == set(winner)


def test_second_writer_without_wait_fails_before_writing(fdirctl, switch, program, tmp_path, monkeypatch):
    from controller.writelock import WriteLock
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path / "locks"))
    assert fdirctl("init", "--lcores", "2")[0] == 0
    before = snapshot(switch.addr, program[0])
    with WriteLock(switch.addr, switch.device_id, 0, "test holder"):
        code, res, err = fdirctl("--lock-wait", "0.2", "laddr", "add", "10.0.0.200")
        assert code == 4 and "being changed by another fdirctl" in err and "test holder" in err
        assert snapshot(switch.addr, program[0]) == before
        code, res, err = fdirctl("laddr", "list")            # a reader does not wait
        assert code == 0 and res["laddrs"] == []
    assert fdirctl("laddr", "add", "10.0.0.200")[0] == 0


def test_failing_1000_update_batch_names_the_update_and_reason(fdirctl, switch, program):
    """1,000 addresses in one Write (10,000 updates in batches of 5,000); the 4,321st INSERT is
    made invalid on the wire: the error names it and the switch's reason, and the switch ends
    as it began."""
    assert fdirctl("init", "--lcores", "4")[0] == 0
    before = snapshot(switch.addr, program[0])
    addrs = [f"10.4.{i // 250}.{i % 250 + 1}" for i in range(1000)]
    p = subprocess.run([sys.executable, "-m", "controller", *fdirctl.base(), "--no-workers", "--json",
                        "--batch-size", "5000", "laddr", "add", *addrs], capture_output=True, text=True,
                       cwd=REPO, env=dict(os.environ, FDIRCTL_INJECT_FAIL="4321"), timeout=300)
    assert p.returncode == 5, p.stderr
    res = json.loads(p.stdout)
    assert res["update"] == 4321, res
    assert res["code"] != "RESOURCE_EXHAUSTED" and res["reason"], res
    assert "update 4322 of 10000" in p.stderr and "were undone" in p.stderr
    assert snapshot(switch.addr, program[0]) == before


def test_failed_update_found_even_without_per_update_statuses(fdirctl, switch, program, monkeypatch):
    """A client that still has gRPC's 16 KiB metadata limit loses the statuses; fdirctl then
    reads the switch back and names the first update of the failed batch that did not apply."""
    import controller.p4rt_client as pc
    monkeypatch.setattr(pc, "CHANNEL_OPTIONS", [o for o in pc.CHANNEL_OPTIONS if "metadata" not in o[0]])
    monkeypatch.setenv("FDIRCTL_INJECT_FAIL", "2345")
    assert fdirctl("init", "--lcores", "4")[0] == 0
    before = snapshot(switch.addr, program[0])
    addrs = [f"10.5.{i // 250}.{i % 250 + 1}" for i in range(300)]
    code, res, err = fdirctl("--batch-size", "3000", "laddr", "add", *addrs)
    assert code == 5 and res["update"] == 2345, (res, err)
    assert snapshot(switch.addr, program[0]) == before


def test_doctor_waits_for_a_writer_to_finish(fdirctl, switch, tmp_path, monkeypatch):
    """doctor judges a settled state: while a writer holds the lock it waits (here: gives up
    after --lock-wait with exit 4) instead of reporting the writer's half-written address."""
    from controller.writelock import WriteLock
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path / "locks"))
    assert fdirctl("init", "--lcores", "2")[0] == 0
    with WriteLock(switch.addr, switch.device_id, 0, "laddr add (test)"):
        code, res, err = fdirctl("--lock-wait", "0.2", "doctor")
        assert code == 4 and "laddr add (test)" in err
    code, res, err = fdirctl("doctor")
    assert code == 0, err


def test_two_spellings_of_one_switch_share_the_writer_lock(fdirctl, switch, tmp_path):
    """127.0.0.1:PORT and localhost:PORT are one switch: two concurrent writers using the two
    spellings run one after the other (both succeed, every address complete) instead of
    fighting for primary (finding 6)."""
    locks = str(tmp_path / "locks")
    assert fdirctl("init", "--lcores", "2")[0] == 0
    host, port = switch.addr.rsplit(":", 1)
    assert host == "127.0.0.1"
    sets = {"ip": [f"10.6.0.{i}" for i in range(1, 121)], "name": [f"10.6.1.{i}" for i in range(1, 121)]}
    spelling = {"ip": f"127.0.0.1:{port}", "name": f"localhost:{port}"}
    procs = {}
    for k in ("ip", "name"):
        base = fdirctl.base()
        base[base.index("--grpc-addr") + 1] = spelling[k]
        procs[k] = subprocess.Popen(
            [sys.executable, "-m", "controller", *base, "--no-workers", "--json", "--batch-size", "20",
             "laddr", "add", "--from-file", _addr_file(tmp_path, f"{k}.txt", sets[k])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            env=dict(os.environ, FDIRCTL_LOCK_DIR=locks))
    codes = {k: (p.wait(timeout=300), p.stderr.read() if p.stderr else "") for k, p in procs.items()}
    for p in procs.values():
        p.stdout and p.stdout.close()
        p.stderr and p.stderr.close()
    assert all(c == 0 for c, _ in codes.values()), codes
    got = _laddrs(fdirctl)
    assert set(got) == set(sets["ip"]) | set(sets["name"]) and all(got.values())
    from controller.writelock import lock_path
    assert lock_path(spelling["ip"], 1) == lock_path(spelling["name"], 1)   # one lock for the one switch
    assert os.listdir(locks) == []            # and its last holder removed it
