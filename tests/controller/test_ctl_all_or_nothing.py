"""A local address is fully present (filters, every lcore's sa_pool, every service's binding)
or fully absent, whichever step fails (fake workers on real Unix sockets)."""
from __future__ import annotations

import pytest
from ctl_fake_worker import FakeWorker
from ctl_helpers import snapshot

WEB = {"vip": "10.0.0.100", "vport": 80, "proto": "tcp", "sched": "rr",
       "servers": [{"addr": "10.0.2.1", "port": 8080, "weight": 1}], "laddrs": ["10.0.0.200"]}


@pytest.fixture
def workers(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    ws = [FakeWorker(str(run / f"lcore-{i}.sock"), i) for i in range(4)]
    for w in ws:
        w.pools["10.0.0.200"] = 0
        w.services.append(dict(WEB))
    yield ws
    for w in ws:
        w.close()


def test_attach_refused_undoes_pools_and_filters(fdirctl, program, switch, workers, tmp_path):
    run = ["--run-dir", str(tmp_path / "run")]
    assert fdirctl("init", "--lcores", "4")[0] == 0
    before = snapshot(switch.addr, program[0])
    workers[2].refuse["service_laddr_add"] = "too many local addresses"
    code, res, err = fdirctl(*run, "laddr", "add", "10.0.0.201", workers=True)
    assert code == 6 and "too many local addresses" in err, err
    assert snapshot(switch.addr, program[0]) == before
    assert all(w.pools == {"10.0.0.200": 0} for w in workers)
    assert all(s["laddrs"] == ["10.0.0.200"] for w in workers for s in w.services)
    del workers[2].refuse["service_laddr_add"]
    code, res, err = fdirctl(*run, "laddr", "add", "10.0.0.201", workers=True)
    assert code == 0 and res["attached"] == 4, err
    assert all(s["laddrs"] == ["10.0.0.200", "10.0.0.201"] for w in workers for s in w.services)


def test_pool_del_refused_puts_attachments_back(fdirctl, program, switch, workers, tmp_path):
    run = ["--run-dir", str(tmp_path / "run")]
    assert fdirctl("init", "--lcores", "4")[0] == 0
    assert fdirctl(*run, "laddr", "add", "10.0.0.201", workers=True)[0] == 0
    before = snapshot(switch.addr, program[0])
    pools = [dict(w.pools) for w in workers]
    workers[3].in_use.add("10.0.0.201")
    code, res, err = fdirctl(*run, "laddr", "del", "10.0.0.201", workers=True)
    assert code == 6, err
    assert snapshot(switch.addr, program[0]) == before
    assert [w.pools for w in workers] == pools
    assert all("10.0.0.201" in s["laddrs"] for w in workers for s in w.services), [w.services for w in workers]


def test_laddr_del_refused_when_an_lcore_would_have_no_port(fdirctl, program, switch, tmp_path):
    """Scheme laddr, 2 lcores: address k belongs to lcore k % 2 only; deleting lcore 0's only
    address would leave it no port for the service (exit 4, nothing changed)."""
    run = tmp_path / "run2"
    run.mkdir()
    ws = [FakeWorker(str(run / f"lcore-{i}.sock"), i) for i in range(2)]
    try:
        for w in ws:
            w.services.append(dict(WEB))
        assert fdirctl("init", "--lcores", "2", "--scheme", "laddr")[0] == 0
        code, res, err = fdirctl("--run-dir", str(run), "laddr", "add", "10.0.0.201", "10.0.0.202", workers=True)
        assert code == 0, err
        assert fdirctl("--run-dir", str(run), "laddr", "del", "10.0.0.200", workers=True)[0] == 0
        before = snapshot(switch.addr, program[0])
        code, res, err = fdirctl("--run-dir", str(run), "laddr", "del", "10.0.0.201", workers=True)
        assert code == 4 and "leaves lcore 0 no local port" in err, err
        assert snapshot(switch.addr, program[0]) == before
        assert all("10.0.0.201" in s["laddrs"] for w in ws for s in w.services)
        assert fdirctl("--run-dir", str(run), "laddr", "add", "10.0.0.203", workers=True)[0] == 0
        assert fdirctl("--run-dir", str(run), "laddr", "del", "10.0.0.201", workers=True)[0] == 0
    finally:
        for w in ws:
            w.close()


def test_attach_rollback_failure_is_exit_8_naming_what_stayed(fdirctl, program, switch, workers, tmp_path):
    """Attaching is refused by lcore 2 and lcore 0 then refuses to detach again: the workers are
    not as they began, so the answer is RollbackFailed (exit 8) naming lcore 0's attachment,
    never exit 6 "...removed again"; the switch entries and the pools are still undone."""
    run = ["--run-dir", str(tmp_path / "run")]
    assert fdirctl("init", "--lcores", "4")[0] == 0
    before = snapshot(switch.addr, program[0])
    workers[2].refuse["service_laddr_add"] = "too many local addresses"
    workers[0].refuse["service_laddr_del"] = "control socket busy"
    code, res, err = fdirctl(*run, "laddr", "add", "10.0.0.201", workers=True)
    assert code == 8, err
    assert "too many local addresses" in err and "not restored" in err, err
    assert "lcore 0 still has 10.0.0.201 on service tcp 10.0.0.100:80" in err and "control socket busy" in err, err
    assert snapshot(switch.addr, program[0]) == before
    assert all(w.pools == {"10.0.0.200": 0} for w in workers)
    assert workers[0].services[0]["laddrs"] == ["10.0.0.200", "10.0.0.201"]     # what exit 8 named
    code, res, err = fdirctl(*run, "--json", "laddr", "add", "10.0.0.202", workers=True)
    assert code == 8 and res["kind"] == "RollbackFailed", res
    assert any("lcore 0 still has 10.0.0.202" in x for x in res["not_restored"]), res


def test_del_rollback_failure_is_exit_8_naming_what_was_lost(fdirctl, program, switch, workers, tmp_path):
    """Deleting: every lcore detaches, lcore 3 refuses to drop its pool (conns use it), then
    lcore 1 refuses to re-attach: exit 8 names lcore 1's lost attachment; the switch keeps the
    address's entries and every pool is back."""
    run = ["--run-dir", str(tmp_path / "run")]
    assert fdirctl("init", "--lcores", "4")[0] == 0
    assert fdirctl(*run, "laddr", "add", "10.0.0.201", workers=True)[0] == 0
    before = snapshot(switch.addr, program[0])
    pools = [dict(w.pools) for w in workers]
    workers[3].in_use.add("10.0.0.201")
    workers[1].refuse["service_laddr_add"] = "service table locked"
    code, res, err = fdirctl(*run, "laddr", "del", "10.0.0.201", workers=True)
    assert code == 8, err
    assert "in use" in err and "lcore 1 lost 10.0.0.201 on service tcp 10.0.0.100:80" in err, err
    assert snapshot(switch.addr, program[0]) == before
    assert [w.pools for w in workers] == pools
    assert [("10.0.0.201" in w.services[0]["laddrs"]) for w in workers] == [True, False, True, True]
