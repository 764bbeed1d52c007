"""The writer lock file is removed by its last holder, and removing it never lets two
writers in at once: processes that write, read with the shared lock and wait on a file
that is being removed keep exact mutual exclusion (a read-modify-write counter loses no
update), and the lock directory is empty afterwards."""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from pathlib import Path

import pytest

from controller.errors import Conflict
from controller.writelock import WriteLock, lock_path

ADDR = "127.0.0.1:50999"


def _hammer(lock_dir: str, counter: str, rounds: int, shared_every: int) -> None:
    os.environ["FDIRCTL_LOCK_DIR"] = lock_dir
    for i in range(rounds):
        if shared_every and i % shared_every == 0:
            with WriteLock(ADDR, 1, 30, "reader", shared=True):
                int(Path(counter).read_text())
            continue
        with WriteLock(ADDR, 1, 30, f"writer {os.getpid()}"):
            n = int(Path(counter).read_text())
            time.sleep(0)                       # give the others a chance to interleave
            Path(counter).write_text(str(n + 1))


def test_release_removes_the_lock_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path))
    with WriteLock(ADDR, 1, 0, "one writer") as lk:
        assert lk.path.exists() and "one writer" in lk.path.read_text()
    assert list(tmp_path.iterdir()) == []
    with WriteLock(ADDR, 1, 0, shared=True), WriteLock(ADDR, 1, 0, shared=True) as second:
        pass
    assert not second.held and list(tmp_path.iterdir()) == []


def test_a_reader_leaves_the_file_while_another_reader_holds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path))
    first = WriteLock(ADDR, 1, 0, shared=True).acquire()
    with WriteLock(ADDR, 1, 0, shared=True):
        pass
    assert first.path.exists()
    with pytest.raises(Conflict):               # the remaining reader still keeps writers out
        WriteLock(ADDR, 1, 0, "writer").acquire()
    first.release()
    assert list(tmp_path.iterdir()) == []


def test_a_waiter_on_the_removed_file_takes_the_new_one(tmp_path, monkeypatch):
    """The waiter opened the file before the holder removed it; it must end up holding the
    lock at the path (so a third writer cannot get in beside it)."""
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path))
    holder = WriteLock(ADDR, 1, 0, "holder").acquire()
    waiter = WriteLock(ADDR, 1, 10, "waiter")
    t = threading.Thread(target=waiter.acquire)
    t.start()
    time.sleep(0.3)                              # the waiter has the file open and polls
    holder.release()
    t.join(10)
    assert waiter.held
    st, mine = os.stat(lock_path(ADDR, 1)), os.fstat(waiter._fd)  # type: ignore[arg-type]
    assert (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)
    with pytest.raises(Conflict, match=r"another fdirctl \(pid \d+: waiter\)"):
        WriteLock(ADDR, 1, 0, "third").acquire()
    waiter.release()
    assert list(tmp_path.iterdir()) == []


def test_processes_never_hold_it_together(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    locks = tmp_path / "locks"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(locks), str(counter), 150, 4 if k % 2 else 0))
             for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    writes = 150 * 2 + (150 - len(range(0, 150, 4))) * 2
    assert int(counter.read_text()) == writes
    assert list(locks.iterdir()) == []


def test_remove_unused_locks_keeps_held_ones(tmp_path, monkeypatch):
    """`make clean` removes lock files an older fdirctl left, never one that is held."""
    from controller.writelock import remove_unused_locks
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path))
    for k in range(3):
        (tmp_path / f"10.0.0.{k}_9559-dev1.lock").write_text("")    # released: emptied
    held = WriteLock(ADDR, 1, 0, "running writer").acquire()
    reader = WriteLock("127.0.0.1:50998", 1, 0, shared=True).acquire()
    assert remove_unused_locks() == (3, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([held.path.name, reader.path.name])
    with pytest.raises(Conflict):
        WriteLock(ADDR, 1, 0, "second").acquire()
    held.release()
    reader.release()
    assert remove_unused_locks() == (0, []) and list(tmp_path.iterdir()) == []


def _die_holding(lock_dir: str) -> None:
    import signal
    os.environ["FDIRCTL_LOCK_DIR"] = lock_dir
    WriteLock(ADDR, 1, 0, "laddr add 10.0.0.9").acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_writer_killed_holding_the_lock_is_named_until_a_writer_completes(tmp_path, monkeypatch):
    """kill -9 frees the lock but leaves the file naming the writer: readers (doctor) and
    make clean see it and keep it; the next writers see it and hand it on; a completed
    reconcile (`repairs`) clears it."""
    from controller.writelock import remove_unused_locks
    monkeypatch.setenv("FDIRCTL_LOCK_DIR", str(tmp_path))
    p = mp.get_context("spawn").Process(target=_die_holding, args=(str(tmp_path),))
    p.start()
    p.join(60)
    assert p.exitcode == -9
    with WriteLock(ADDR, 1, 0, shared=True) as reader:
        assert reader.interrupted == f"pid {p.pid}: laddr add 10.0.0.9"
    assert remove_unused_locks() == (0, [f"{lock_path(ADDR, 1)}: pid {p.pid}: laddr add 10.0.0.9"])
    with WriteLock(ADDR, 1, 0, "laddr add 10.0.0.10") as writer:     # not a repair: hands the mark on
        assert writer.interrupted == f"pid {p.pid}: laddr add 10.0.0.9"
    with WriteLock(ADDR, 1, 0, "reconcile") as repair:
        assert repair.interrupted == f"pid {p.pid}: laddr add 10.0.0.9"
        repair.repairs = True                       # a completed reconcile
    assert list(tmp_path.iterdir()) == []
    with WriteLock(ADDR, 1, 0, "next") as nxt:
        assert nxt.interrupted is None
