"""The lcore control client against a fake worker on a real Unix socket: pools are created
on every worker or on none, and a refused pool_del puts the dropped pools back."""

import pytest
from ctl_fake_worker import FakeWorker

from controller.dpvs_session import on_all_workers
from controller.errors import RollbackFailed, WorkerError
from controller.workers import WorkerClient, WorkerRefused, WorkerSet, pool_laddrs


@pytest.fixture
def workers(tmp_path):
    ws = [FakeWorker(str(tmp_path / f"lcore-{i}.sock"), i) for i in range(3)]
    yield ws
    for w in ws:
        w.close()


def test_round_trip_and_refusal(workers, tmp_path):
    c = WorkerClient(0, str(tmp_path / "lcore-0.sock"))
    assert c.info()["lcore"] == 0
    c.pool_add("10.0.0.200", 0)
    assert pool_laddrs(c.pools()) == {"10.0.0.200"}
    with pytest.raises(WorkerRefused, match="exists"):
        c.pool_add("10.0.0.200", 0)
    c.close()


def test_unreachable_worker_names_the_path(tmp_path):
    c = WorkerClient(5, str(tmp_path / "nothing.sock"), timeout=1)
    with pytest.raises(WorkerError, match="lcore 5 worker unreachable at .*nothing.sock"):
        c.info()


def test_add_pools_is_all_or_nothing(workers, tmp_path):
    ws = WorkerSet.from_run_dir(str(tmp_path), 3)
    workers[2].refuse["pool_add"] = "out of memory"
    with pytest.raises(WorkerRefused, match="lcore 2 .*out of memory"):
        ws.add_pools([("10.0.0.200", 0)])
    assert all(w.pools == {} for w in workers)
    ws.close()


def test_del_pools_refused_in_use_restores(workers, tmp_path):
    ws = WorkerSet.from_run_dir(str(tmp_path), 3)
    ws.add_pools([("10.0.0.200", 0)])
    workers[1].in_use.add("10.0.0.200")
    with pytest.raises(WorkerRefused, match="in use"):
        ws.del_pools([("10.0.0.200", 0)], force=False)
    assert all(w.pools == {"10.0.0.200": 0} for w in workers)
    ws.del_pools([("10.0.0.200", 0)], force=True)
    assert all(w.pools == {} for w in workers)
    ws.close()


def test_add_pools_rollback_failure_names_the_pool_left(workers, tmp_path):
    ws = WorkerSet.from_run_dir(str(tmp_path), 3)
    workers[2].refuse["pool_add"] = "out of memory"
    workers[0].refuse["pool_del"] = "worker busy"
    with pytest.raises(RollbackFailed, match="out of memory.*not restored: lcore 0 still holds the pool of "
                                             r"10\.0\.0\.200 \(.*worker busy\)") as ei:
        ws.add_pools([("10.0.0.200", 0)])
    assert ei.value.exit_code == 8
    assert [w.pools for w in workers] == [{"10.0.0.200": 0}, {}, {}]
    ws.close()


def test_del_pools_rollback_failure_names_the_pool_lost(workers, tmp_path):
    ws = WorkerSet.from_run_dir(str(tmp_path), 3)
    ws.add_pools([("10.0.0.200", 7)])
    workers[2].in_use.add("10.0.0.200")
    workers[1].refuse["pool_add"] = "out of memory"
    with pytest.raises(RollbackFailed, match=r"in use.*not restored: lcore 1 lost its pool of 10\.0\.0\.200 "
                                             r"\(slot 7\)"):
        ws.del_pools([("10.0.0.200", 7)], force=False)
    assert [w.pools for w in workers] == [{"10.0.0.200": 7}, {}, {"10.0.0.200": 7}]
    ws.close()


def test_on_all_workers_undo_failure_is_rollback_failed(workers, tmp_path):
    """The ipvsadm/dpip tools' "on every worker or on none": an undo a worker refuses is
    RollbackFailed naming that lcore, not the original refusal."""
    ws = WorkerSet.from_run_dir(str(tmp_path), 3)
    workers[2].refuse["neigh_add"] = "table full"
    with pytest.raises(RollbackFailed, match="table full.*lcore 1: neigh_add not undone"):
        on_all_workers(ws, "neigh_add", {"addr": "10.0.2.9", "mac": "02:00:00:00:00:09"},
                       lambda w: w.call("neigh_del", addr="10.0.2.9"))    # the fake knows no neigh_del
    ws.close()
