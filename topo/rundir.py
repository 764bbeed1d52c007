"""The lab's run directory (lab.run_dir: control sockets, start records, logs): checked and
emptied at start, but only when fdirlab made it, and never while a run record names it.

fdirlab writes MARKER into every run directory it creates; a directory without it is only
emptied when it lies under DEFAULT_RUN_ROOT (fdirlab's own scratch root) or is empty, so a
lab file's `run_dir = "/home/me"` is refused instead of wiped. Every decision is taken on
the path with symbolic links resolved: a run_dir under DEFAULT_RUN_ROOT must still lie under
it once resolved (`/tmp/fdirlab/x -> /home/me` is refused), and DEFAULT_RUN_ROOT itself must
be a real directory owned by root (any user may make /tmp/fdirlab first, as a link or their
own). A run record (topo/runstate.py) that lists the directory means its workers, sockets
or handoff rings may still be there: a killed run's are `make clean`'s to remove, a running one's are not ours to touch.
"""
from __future__ import annotations

import os
import shutil
import stat
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


def check_root(run_dir: Path, root: Path) -> None:
    """LabError naming run_dir when it lies under `root` (DEFAULT_RUN_ROOT) by name but root
    is not a real directory owned by root (uid 0), or run_dir leaves root once symbolic
    links are resolved. A missing root is fine (the lab creates it)."""
    if root not in run_dir.parents:
        return
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return
    except OSError as e:
        raise LabError(f"run directory {run_dir}: {root}: {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        raise LabError(f"run directory {run_dir}: {root} is a symbolic link (to {os.readlink(root)}); "
                       f"refused: remove it, the lab makes {root} itself")
    if not stat.S_ISDIR(st.st_mode):
        raise LabError(f"run directory {run_dir}: {root} is not a directory; refused")
    if st.st_uid != 0:
        raise LabError(f"run directory {run_dir}: {root} belongs to uid {st.st_uid}, not root; refused: "
                       f"remove it, the lab makes {root} itself")
    real = run_dir.resolve()
    if real != root and root not in real.parents:
        raise LabError(f"run directory {run_dir}: resolves to {real}, outside {root} (a symbolic link on "
                       f"the way); refused")


def removable(run_dir: Path, root: Path = Path(DEFAULT_RUN_ROOT)) -> bool:
    """fdirlab made it (MARKER), it lies under `root` (a real root-owned directory; see
    check_root), or it is empty. `run_dir` is taken with symbolic links resolved."""
    real = run_dir.resolve()
    return ((real / MARKER).is_file() or (root in real.parents and root.resolve() == root)
            or not any(real.iterdir()))


def prepare_run_dir(run_dir: Path, state_dir: Path | None = None, root: Path = Path(DEFAULT_RUN_ROOT)) -> None:
    """Leave `run_dir` an empty directory holding only MARKER. LabError, with nothing
    changed, when a run record names it, it is a symlink or not a directory, it lies under
    `root` (DEFAULT_RUN_ROOT) by name but not once links are resolved, root is a link or not
    root's, or fdirlab did not make it."""
    run_dir = Path(os.path.normpath(run_dir))
    if not run_dir.is_absolute() or run_dir == Path("/"):
        raise LabError(f"run directory {str(run_dir)!r}: must be an absolute path other than /")
    check_no_record(run_dir, state_dir)
    if run_dir.is_symlink():
        raise LabError(f"run directory {run_dir}: is a symbolic link; give the real directory")
    check_root(run_dir, root)
    if run_dir.exists():
        if not run_dir.is_dir():
            raise LabError(f"run directory {run_dir}: exists and is not a directory")
        try:
            ok = removable(run_dir, root)
        except OSError as e:
            raise LabError(f"run directory {run_dir}: {e.strerror or e}") from None
        if not ok:
            raise LabError(f"run directory {run_dir}: not made by fdirlab (no {MARKER} in it) and not "
                           f"empty; the lab empties its run directory at start, so choose another "
                           f"lab.run_dir (e.g. {DEFAULT_RUN_ROOT}/NAME)")
        try:
            shutil.rmtree(run_dir.resolve())
        except OSError as e:
            raise LabError(f"run directory {run_dir}: cannot empty it: {e.strerror or e}") from None
    try:
        run_dir.mkdir(parents=True)
        check_root(run_dir, root)             # root made meanwhile by someone else: nothing written in it
        (run_dir / MARKER).write_text("made by fdirlab: `python -m topo run` empties this directory "
                                      "at the next start of a lab with this run_dir\n")
    except OSError as e:
        raise LabError(f"run directory {run_dir}: {e.strerror or e}") from None
