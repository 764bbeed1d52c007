"""What the test and benchmark rigs start, recorded like a lab's (topo/runstate.py): one
`rig-<pid>.json` per process while it holds veths or switch processes, so that `make clean`
after a killed pytest or benchmark removes exactly those, and nothing else.

Recording is best effort: without write access to the state directory (not root) the rig
runs unrecorded, as before.
"""
from __future__ import annotations

import atexit
import subprocess
import threading

from topo.runstate import RunRecord

_lock = threading.Lock()
_record: RunRecord | None = None


def _get() -> RunRecord | None:
    global _record
    if _record is None:
        try:
            _record = RunRecord.create("rig", "test/benchmark rig")
        except OSError:
            return None
    return _record


def record_links(*names: str) -> None:
    """Switch-side veth names (deleting one deletes its peer)."""
    with _lock:
        rec = _get()
        if rec is not None:
            rec.add_link(*names)


def record_proc(pid: int, what: str) -> None:
    with _lock:
        rec = _get()
        if rec is not None:
            rec.add_proc(pid, what)


def forget(links: list[str] | tuple[str, ...] = (), pid: int | None = None) -> None:
    """The rig removed these itself; processes that are gone anyway (a test killed its
    switch to see a crash) are dropped too. The record goes once it holds nothing."""
    with _lock:
        rec = _record
        if rec is None:
            return
        rec.links = [n for n in rec.links if n not in links]
        rec.procs = [p for p in rec.procs if p.pid != pid and p.alive()]
        _save_or_close(rec)


def _save_or_close(rec: RunRecord) -> None:
    global _record
    if rec.links or rec.procs:
        rec.save()
        return
    try:
        rec.close()
    except OSError:
        pass
    _record = None


@atexit.register
def _at_exit() -> None:
    """An orderly exit keeps only what is still there (a switch or veth a test leaked):
    exactly what `make clean` should remove."""
    with _lock:
        rec = _record
        if rec is None:
            return
        rec.procs = [p for p in rec.procs if p.alive()]
        rec.links = [n for n in rec.links
                     if subprocess.run(["ip", "link", "show", n], capture_output=True).returncode == 0]
        _save_or_close(rec)
