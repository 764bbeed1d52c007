"""Start records of the lab's lcore workers: `<run_dir>/lcore-<i>.json`, written by whoever
starts a worker (topo/ when the lab comes up, `fdirctl worker restart` later), read to
restart a dead worker in its host and to stop exactly the process that was started.

  {"lcore": 2, "argv": ["/path/python", "-m", "lcore", ...], "cwd": "/repo",
   "netns_pid": 4242,     # a process in the worker's network namespace (the Mininet host's
                          # shell), or null: the worker runs in fdirctl's own namespace
   "log": "/tmp/fdirlab/default/logs/lcore-2.log", "pid": 4300}
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from fdirlab.errors import FdirlabError


class RunRecordError(FdirlabError):
    """A start record that is missing or unreadable."""


@dataclass
class WorkerRecord:
    lcore: int
    argv: list[str]
    cwd: str
    netns_pid: int | None
    log: str
    pid: int


def record_path(run_dir: str | Path, lcore: int) -> Path:
    return Path(run_dir) / f"lcore-{lcore}.json"


def write_record(run_dir: str | Path, rec: WorkerRecord) -> None:
    """Atomically (write + rename), so a reader never sees half a record."""
    p = record_path(run_dir, rec.lcore)
    tmp = p.with_suffix(f".json.{os.getpid()}")
    tmp.write_text(json.dumps(asdict(rec)) + "\n")
    os.replace(tmp, p)


def read_record(run_dir: str | Path, lcore: int) -> WorkerRecord:
    p = record_path(run_dir, lcore)
    try:
        d = json.loads(p.read_text())
        return WorkerRecord(int(d["lcore"]), [str(x) for x in d["argv"]], str(d["cwd"]),
                            None if d.get("netns_pid") is None else int(d["netns_pid"]),
                            str(d["log"]), int(d["pid"]))
    except FileNotFoundError:
        raise RunRecordError(f"no start record {p} for lcore {lcore}: the worker was not started by the "
                             f"lab (topo) or `fdirctl worker restart`") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunRecordError(f"start record {p} is unreadable: {e}") from None


def pid_runs(pid: int, argv: list[str]) -> bool:
    """True if process `pid` is alive and runs exactly `argv` (not a recycled pid)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":       # a zombie has exited
        return False
    return cmd.rstrip(b"\0").split(b"\0") == [a.encode() for a in argv]
