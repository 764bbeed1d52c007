"""`make clean`: remove what crashed or killed runs (labs, PTF runs) left behind -- exactly
what each recorded when it started it (topo/runstate.py): its processes, links, network
namespaces, sockets and scratch directories. Nothing is chosen by process name, so a
user's own `iperf3 -s` or another Mininet experiment's hosts are never touched, and logs
stay for reading. Runs that are still running are left alone and named. fdirctl writer lock
files no one holds are removed too (controller/writelock.py)."""
from __future__ import annotations

from pathlib import Path

from controller.writelock import remove_unused_locks
from topo.runstate import Removed, clean_dead_runs, records

SWITCH_LINK_PREFIX = "s1-eth"


def lab_links() -> list[str]:
    """The lab switch's interfaces that exist now (a lab is running or was killed)."""
    return sorted(p.name for p in Path("/sys/class/net").iterdir()
                  if p.name.startswith(SWITCH_LINK_PREFIX))


def dead_runs() -> list[str]:
    """Runs whose owner is gone but whose record is still there: `make clean` material."""
    return [f"{r.kind} {r.name!r} (pid {r.owner.pid})" for r in records() if not r.owner.alive()]


def cleanup(verbose: bool = True, state_dir: Path | None = None) -> Removed:
    out = clean_dead_runs(state_dir)
    locks, killed_writers = remove_unused_locks()
    if verbose:
        print(f"clean: {out.runs} killed run(s) cleaned up: {len(out.killed)} process(es) killed, "
              f"{len(out.links)} link(s), {len(out.netns)} namespace(s) and {len(out.paths)} "
              f"path(s) removed")
        for what in out.killed:
            print(f"  killed {what}")
        for what in out.live:
            print(f"  left alone: {what} is still running (stop it, or kill it and clean again)")
        for path in out.kept:
            print(f"  left alone: {path}")
        for what in out.failed:
            print(f"  could not remove {what}")
        for path in out.broken:
            print(f"  unreadable run record {path}: left in place")
        if locks:
            print(f"clean: {locks} unused fdirctl writer lock file(s) removed")
        for what in killed_writers:
            print(f"  left alone: {what} (an fdirctl killed mid-write: `fdirctl doctor` shows what it left, "
                  "`fdirctl reconcile` repairs it)")
    return out
