"""The lab's run directory (lab.run_dir: control sockets, start records, logs): checked and
emptied at start, but only when fdirlab made it, and never while a run record names it.

fdirlab writes MARKER into every run directory it creates; a directory without it is only
emptied when it lies under DEFAULT_RUN_ROOT (fdirlab's own scratch root) or is empty, so a
lab file's `run_dir = "/home/me"` is refused instead of wiped. A run record (topo/runstate.py)
that lists the directory means its workers, sockets or handoff rings may still be there:
a killed run's are `make clean`'s to remove, a running one's are not ours to touch.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from fdirlab.lab_config import DEFAULT_RUN_ROOT
from topo.errors import LabError
from topo.runstate import RunRecord, records

MARKER = ".fdirlab-run"


def _overlaps(rec: RunRecord, path: Path) -> bool:
    """`path` is one of rec's paths, lies inside one, or holds one."""
    return rec.claims(path) or any(path in Path(os.path.normpath(q)).parents for q in rec.paths())


def check_no_record(run_dir: Path, state_dir: Path | None = None) -> None:
    """LabError when a run record lists run_dir (or a path in it): a killed run's (run
    `make clean` first) or a running one's (in use)."""
    for rec in records(state_dir):
        if not _overlaps(rec, run_dir):
            continue
        who = f"{rec.kind} {rec.name!r} (pid {rec.owner.pid})"
        if rec.owner.alive():
            raise LabError(f"run directory {run_dir}: in use by the running {who}; stop it or choose "
                           f"another lab.run_dir")
        raise LabError(f"run directory {run_dir}: the killed {who} left its workers' state there: "
                       f"run `make clean` first")


def removable(run_dir: Path) -> bool:
    """fdirlab made it (MARKER), it lies under DEFAULT_RUN_ROOT, or it is empty."""
    root = Path(DEFAULT_RUN_ROOT)
    return (run_dir / MARKER).is_file() or root in run_dir.parents or not any(run_dir.iterdir())


def prepare_run_dir(run_dir: Path, state_dir: Path | None = None) -> None:
    """Leave `run_dir` an empty directory holding only MARKER. LabError, with nothing
    changed, when a run record names it, it is a symlink or not a directory, or fdirlab
    did not make it."""
    run_dir = Path(os.path.normpath(run_dir))
    if not run_dir.is_absolute() or run_dir == Path("/"):
        raise LabError(f"run directory {str(run_dir)!r}: must be an absolute path other than /")
    check_no_record(run_dir, state_dir)
    if run_dir.is_symlink():
        raise LabError(f"run directory {run_dir}: is a symbolic link; give the real directory")
    if run_dir.exists():
        if not run_dir.is_dir():
            raise LabError(f"run directory {run_dir}: exists and is not a directory")
        try:
            ok = removable(run_dir)
        except OSError as e:
            raise LabError(f"run directory {run_dir}: {e.strerror or e}") from None
        if not ok:
            raise LabError(f"run directory {run_dir}: not made by fdirlab (no {MARKER} in it) and not "
                           f"empty; the lab empties its run directory at start, so choose another "
                           f"lab.run_dir (e.g. {DEFAULT_RUN_ROOT}/NAME)")
        try:
            shutil.rmtree(run_dir)
        except OSError as e:
            raise LabError(f"run directory {run_dir}: cannot empty it: {e.strerror or e}") from None
    try:
        run_dir.mkdir(parents=True)
        (run_dir / MARKER).write_text("made by fdirlab: `python -m topo run` empties this directory "
                                      "at the next start of a lab with this run_dir\n")
    except OSError as e:
        raise LabError(f"run directory {run_dir}: {e.strerror or e}") from None
