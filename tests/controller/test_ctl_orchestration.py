"""fdirctl with lcore workers (fake workers on real Unix sockets): filters first, then the
sa_pools on every worker; a refusing worker leaves switch and workers as they were."""
from __future__ import annotations

import pytest
from ctl_fake_worker import FakeWorker
from ctl_helpers import snapshot


@pytest.fixture
def workers(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    ws = [FakeWorker(str(run / f"lcore-{i}.sock"), i) for i in range(4)]
    yield ws
    for w in ws:
        w.close()


def test_laddr_add_del_drive_the_pools(fdirctl, program, switch, workers, tmp_path):
    run = ["--run-dir", str(tmp_path / "run")]
    assert fdirctl("init", "--lcores", "4")[0] == 0
    seen = []     # what the switch held for the address when a worker was asked for its pool

    def look(req):
        if req["op"] == "pool_add":
            cookie = f"fdirlab:laddr:{req['laddr']};".encode()
            seen.append(sum(1 for r in snapshot(switch.addr, program[0]) if r[3].startswith(cookie)))
    workers[0].hook = look
    code, res, err = fdirctl(*run, "laddr", "add", "10.0.0.200", "fd00::1", workers=True)
    assert code == 0 and res["workers"] == 4, err
    # slots count per family (DPVS keeps sa_pools per family): each address is its family's first
    assert all(w.pools == {"10.0.0.200": 0, "fd00::1": 0} for w in workers)
    assert seen == [10, 10]         # filters first, then the sa_pools
    workers[0].hook = None

    # a worker that refuses: nothing on the switch, no pool anywhere
    before = snapshot(switch.addr, program[0])
    workers[3].refuse["pool_add"] = "out of memory"
    code, res, err = fdirctl(*run, "laddr", "add", "10.0.0.201", workers=True)
    assert code == 6 and "lcore 3" in err and "out of memory" in err
    assert snapshot(switch.addr, program[0]) == before
    assert all("10.0.0.201" not in w.pools for w in workers)
    del workers[3].refuse["pool_add"]

    # conns still use the pool on lcore 2: del refused, pools back, switch untouched
    workers[2].in_use.add("10.0.0.200")
    code, res, err = fdirctl(*run, "laddr", "del", "10.0.0.200", workers=True)
    assert code == 6 and "in use" in err
    assert snapshot(switch.addr, program[0]) == before
    assert all("10.0.0.200" in w.pools for w in workers)
    code, res, err = fdirctl(*run, "laddr", "del", "10.0.0.200", "--force", workers=True)
    assert code == 0, err
    assert all(w.pools == {"fd00::1": 0} for w in workers)


def test_unreachable_worker_changes_nothing(fdirctl, program, switch, workers, tmp_path):
    assert fdirctl("init", "--lcores", "4")[0] == 0
    workers[1].close()
    before = snapshot(switch.addr, program[0])
    code, _, err = fdirctl("--run-dir", str(tmp_path / "run"), "laddr", "add", "10.0.0.200", workers=True)
    assert code == 6 and "lcore 1 worker unreachable" in err
    assert snapshot(switch.addr, program[0]) == before


def test_reconcile_gives_workers_pools_services_neighbours(fdirctl, program, switch, workers, tmp_path):
    lab = tmp_path / "lab.toml"
    lab.write_text(f'[lab]\nname = "t"\nrun_dir = "{tmp_path}/run"\n[switch]\ngrpc_addr = "{switch.addr}"\n')
    code, res, err = fdirctl("--lab", str(lab), "reconcile", workers=True)
    assert code == 0, err
    # the default lab: 2 IPv4 + 2 IPv6 local addresses, 2 IPv4 + 2 IPv6 services, per worker
    assert {k: v for k, v in res["workers"].items() if v} == {"pools": 16, "neighs": 32, "services": 16}
    assert all(w.pools == {"10.0.0.200": 0, "10.0.0.201": 1, "fd00:fd::200": 0, "fd00:fd::201": 1}
               for w in workers)
    code, res, err = fdirctl("--lab", str(lab), "reconcile", workers=True)
    assert code == 0 and not any(res["workers"].values())


@pytest.mark.root
@pytest.mark.parametrize("target", ["softswitch"])   # one real-worker run is enough
def test_real_lcore_workers_get_and_drop_pools(fdirctl, program, switch, tmp_path, target):
    """The same orchestration with the real `python -m lcore` workers (on veth, needs root)."""
    import os
    import subprocess
    import sys
    import time

    from ctl_helpers import REPO

    from controller.workers import WorkerSet, pool_laddrs
    tag = f"fw{os.getpid() % 100000}"
    run = tmp_path / "run"
    run.mkdir()
    procs, veths = [], []
    try:
        for i in range(4):
            a, b = f"{tag}a{i}", f"{tag}b{i}"
            subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
            veths.append(a)
            for d in (a, b):
                subprocess.run(["ip", "link", "set", d, "up"], check=True)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "lcore", "--iface", b, "--lcore-id", str(i), "--n-lcores", "4",
                 "--scheme", "lsb", "--mode", "fdir", "--mac", "02:fd:00:00:00:01",
                 "--ctl", str(run / f"lcore-{i}.sock"), "--log", str(tmp_path / f"lcore-{i}.log")], cwd=REPO))
        deadline = time.monotonic() + 20
        while not all((run / f"lcore-{i}.sock").exists() for i in range(4)):
            assert time.monotonic() < deadline, "lcore workers did not open their sockets"
            assert all(p.poll() is None for p in procs), "an lcore worker exited"
            time.sleep(0.05)
        assert fdirctl("init", "--lcores", "4")[0] == 0
        code, res, err = fdirctl("--run-dir", str(run), "laddr", "add", "10.0.0.200", "fd00::1", workers=True)
        assert code == 0 and res["workers"] == 4, err
        ws = WorkerSet.from_run_dir(str(run), 4)
        assert all(pool_laddrs(c.pools()) == {"10.0.0.200", "fd00::1"} for c in ws.clients)
        code, res, err = fdirctl("--run-dir", str(run), "show", "pools", workers=True)
        assert code == 0 and len(res["pools"]) == 8 and all(r["sa_used"] == 0 for r in res["pools"])
        code, res, err = fdirctl("--run-dir", str(run), "laddr", "del", "10.0.0.200", workers=True)
        assert code == 0, err
        assert all(pool_laddrs(c.pools()) == {"fd00::1"} for c in ws.clients)
        ws.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        for a in veths:
            subprocess.run(["ip", "link", "del", a], capture_output=True)
