"""What one run (a lab, a PTF run) started, recorded as it starts it, so that clean-up after
a crash or `kill -9` removes exactly that -- never guessed from process names (DESIGN.md
section 6: "clean-up removes what we started, recorded when we started it").

A record is a JSON file in STATE_DIR, `<kind>-<pid>.json`, rewritten atomically on every
change:

    {"kind": "lab", "name": "default", "owner": {"pid": 4242, "start": 123456, "what": "..."},
     "procs": [{"pid": ..., "start": ..., "what": "softswitch"}, ...],
     "links": ["s1-eth1", ...], "netns": [...], "dirs": [...], "files": [...]}

`start` is the process's start time in clock ticks since boot (/proc/PID/stat field 22,
proc(5)); a pid is only signalled while it still has that start time, so a pid the kernel
gave to someone else since is left alone. A run that ends normally deletes its record.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fdirlab.run_record import RunRecordError, pid_runs, read_record

STATE_DIR = Path(os.environ.get("FDIRLAB_STATE_DIR", "/run/fdirlab"))
KILL_WAIT = 5.0        # seconds make clean waits for the processes it killed to be gone


def proc_start(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])          # field 22 overall; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None


def proc_cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


@dataclass
class Proc:
    pid: int
    start: int | None
    what: str

    def alive(self) -> bool:
        """Still the process that was recorded (same pid and start time), not a zombie."""
        if proc_start(self.pid) != self.start:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return state[state.rfind(")") + 2:][:1] != "Z"


@dataclass
class RunRecord:
    """One run's record. Add things right after starting them; close() when all are gone."""

    kind: str
    name: str
    path: Path = field(default=Path(), repr=False)
    owner: Proc = field(default_factory=lambda: Proc(0, None, ""))
    procs: list[Proc] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # run directories holding lcore worker start records (fdirlab/run_record.py): a worker
    # that `fdirctl worker restart` started later is not our child and not in `procs`
    worker_dirs: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, kind: str, name: str, state_dir: Path | None = None) -> RunRecord:
        d = state_dir or STATE_DIR
        d.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        rec = cls(kind, name, d / f"{kind}-{pid}.json",
                  Proc(pid, proc_start(pid), proc_cmdline(pid)[:200]))
        rec.save()
        return rec

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        """ValueError when the file is not a record."""
        raw: dict[str, Any] = json.loads(path.read_text())
        try:
            return cls(raw["kind"], raw["name"], path, Proc(**raw["owner"]),
                       [Proc(**p) for p in raw.get("procs", [])],
                       [str(x) for x in raw.get("links", [])], [str(x) for x in raw.get("netns", [])],
                       [str(x) for x in raw.get("dirs", [])], [str(x) for x in raw.get("files", [])],
                       [str(x) for x in raw.get("worker_dirs", [])])
        except (KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a run record ({e})") from None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path")
        return d

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, self.path)

    # --- recording ----------------------------------------------------------------------
    def add_proc(self, pid: int, what: str) -> None:
        self.procs.append(Proc(pid, proc_start(pid), what))
        self.save()

    def add_link(self, *names: str) -> None:
        for n in names:
            if n not in self.links:
                self.links.append(n)
        self.save()

    def add_netns(self, name: str) -> None:
        self.netns.append(name)
        self.save()

    def add_dir(self, path: str | Path) -> None:
        self.dirs.append(str(path))
        self.save()

    def add_file(self, path: str | Path) -> None:
        self.files.append(str(path))
        self.save()

    def add_worker_dir(self, run_dir: str | Path) -> None:
        self.worker_dirs.append(str(run_dir))
        self.save()

    def close(self) -> None:
        """The run ended and removed what it started: forget the record.
        OSError (e.g. PermissionError) when the record exists and cannot be removed."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def paths(self) -> list[str]:
        """Every path this run owns: files, directories, run directories."""
        return self.files + self.dirs + self.worker_dirs

    def claims(self, path: str | Path) -> bool:
        """`path` is one of this run's paths or lies inside one."""
        p = Path(os.path.normpath(path))
        return any(p == Path(q) or Path(q) in p.parents for q in map(os.path.normpath, self.paths()))


@dataclass
class Removed:
    runs: int = 0
    killed: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    live: list[str] = field(default_factory=list)       # runs still running: left alone
    kept: list[str] = field(default_factory=list)       # paths a running run also lists: left alone
    failed: list[str] = field(default_factory=list)     # what could not be removed, and why
    broken: list[str] = field(default_factory=list)     # unreadable record files


def records(state_dir: Path | None = None) -> list[RunRecord]:
    d = state_dir or STATE_DIR
    out = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            out.append(RunRecord.load(p))
        except (OSError, ValueError):
            continue
    return out


def _gone_after(cmd: list[str], path: str, what: str, out: Removed) -> bool:
    """Run the delete command `cmd`; True when the thing is gone afterwards (deleted, or gone
    already: `path`, its /sys or /run entry, is absent), else its error goes to out.failed."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 0 or not os.path.lexists(path):
        return True
    out.failed.append(f"{what}: {r.stderr.strip() or ' '.join(cmd) + ' failed'}")
    return False


def _rmtree(d: str) -> list[str]:
    """shutil.rmtree, going on past errors; the errors ("path: reason"), first first."""
    errors: list[str] = []

    def note(_fn: object, path: str, ei: tuple) -> None:
        errors.append(f"{path}: {getattr(ei[1], 'strerror', None) or ei[1]}")
    shutil.rmtree(d, onerror=note)
    return errors


def remove_run(rec: RunRecord, out: Removed, live: list[RunRecord] | None = None) -> None:
    """Remove what `rec` lists (processes, links, namespaces, paths), then the record.
    Returns once the killed processes are gone (SIGKILL is asynchronous; up to KILL_WAIT s),
    so a following `make run` finds their ports and sockets free.

    `live`: records of runs still running. A path one of them also lists (a later lab using
    the same run directory) is left alone, and so are the workers its run directory's start
    records name. What cannot be removed (no permission) is listed in out.failed."""
    live = live or []

    def kept(path: str) -> bool:
        owner = next((r for r in live if r.claims(path)), None)
        if owner is not None:
            out.kept.append(f"{path} (in use by the running {owner.kind} {owner.name!r}, pid {owner.owner.pid})")
        return owner is not None

    def kill(pid: int, what: str) -> bool:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        except OSError as e:
            out.failed.append(f"{what}: {e.strerror or e}")
            return False
        out.killed.append(what)
        return True

    killed: list[Proc] = []
    for p in rec.procs:
        if p.alive() and kill(p.pid, f"{p.what} (pid {p.pid})"):
            killed.append(p)
    deadline = time.monotonic() + KILL_WAIT
    while any(p.alive() for p in killed) and time.monotonic() < deadline:
        time.sleep(0.02)
    own = {p.pid for p in rec.procs}          # the run's own children: handled above
    for d in rec.worker_dirs:                 # workers restarted by `fdirctl worker restart`
        if kept(d):                           # a running lab's workers wrote these start records
            continue
        for path in sorted(Path(d).glob("lcore-*.json")):
            try:
                w = read_record(d, int(path.stem.split("-", 1)[1]))
            except (RunRecordError, ValueError):
                continue
            if w.pid not in own and pid_runs(w.pid, w.argv):   # the recorded command: not a reused pid
                kill(w.pid, f"lcore worker {w.lcore} (pid {w.pid}, from its start record)")
    # A link, namespace or path already gone when clean-up reaches it (a veth vanishes with
    # its peer's namespace) is removed, not a failure: only one that is still there failed.
    for name in rec.links:
        if _gone_after(["ip", "link", "del", name], f"/sys/class/net/{name}", f"link {name}", out):
            out.links.append(name)
    for ns in rec.netns:
        if _gone_after(["ip", "netns", "del", ns], f"/run/netns/{ns}", f"namespace {ns}", out):
            out.netns.append(ns)
    for f in rec.files:
        if kept(f):
            continue
        try:
            os.unlink(f)
        except FileNotFoundError:
            pass
        except OSError as e:
            out.failed.append(f"{f}: {e.strerror or e}")
            continue
        out.paths.append(f)
    for d in rec.dirs:
        if kept(d):
            continue
        errors = _rmtree(d)
        if os.path.lexists(d):
            out.failed.append(f"{d}: {errors[0] if errors else 'still there'}")
        else:
            out.paths.append(d)
    try:
        rec.close()
    except OSError as e:
        out.failed.append(f"run record {rec.path}: {e.strerror or e} (left in place)")
        return
    out.runs += 1


def clean_dead_runs(state_dir: Path | None = None, include_live: bool = False) -> Removed:
    """Remove what every run whose owner process is gone recorded; runs still alive are
    left alone (listed in .live) unless include_live."""
    out = Removed()
    d = state_dir or STATE_DIR
    dead: list[RunRecord] = []
    live: list[RunRecord] = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            rec = RunRecord.load(p)
        except (OSError, ValueError):
            out.broken.append(str(p))
            continue
        if rec.owner.alive() and not include_live:
            out.live.append(f"{rec.kind} {rec.name!r} (pid {rec.owner.pid})")
            live.append(rec)
        else:
            dead.append(rec)
    for rec in dead:
        remove_run(rec, out, live)
    return out


def recorded_owner_of(pid: int, state_dir: Path | None = None) -> RunRecord | None:
    """The record that lists `pid` as one of its processes (still the same process)."""
    for rec in records(state_dir):
        for p in rec.procs:
            if p.pid == pid and p.alive():
                return rec
    return None
