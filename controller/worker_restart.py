"""`fdirctl worker restart N`: start a dead lcore worker again in its host (its network
namespace), from the start record the lab wrote, and give it back its state: one sa_pool per
local address on the switch, the lab's services, neighbours (controller.desired).

A worker that still answers is left alone unless `replace` (then the process that answered,
by its own pid, is stopped first). A hung worker that does not answer but still runs the
recorded command is stopped by its recorded pid: it was started by the lab.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from controller.errors import Conflict, StateError, WorkerError
from controller.workers import WorkerClient
from fdirlab.lab_config import Lab
from fdirlab.run_record import WorkerRecord, pid_runs, read_record, write_record

START_TIMEOUT = 20.0


def _stop(pid: int, argv: list[str] | None, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL; with argv only if the pid still runs that command."""
    if argv is not None and not pid_runs(pid, argv):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or (argv is not None and not pid_runs(pid, argv)):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path: str, n: int = 5) -> str:
    try:
        return " | ".join(Path(path).read_text(errors="replace").strip().splitlines()[-n:]) or "(empty log)"
    except OSError:
        return "(no log)"


def argv_with(argv: list[str], settings: dict[str, str]) -> list[str]:
    """The worker command with the given `--flag value` settings replaced (or appended)."""
    out = list(argv)
    for flag, value in settings.items():
        if flag in out[:-1]:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


def lab_settings(lab: Lab) -> dict[str, str]:
    """The worker flags the lab file decides (what the switch's layout must match): the same
    Lab.worker_flags the lab started the workers with."""
    return lab.worker_flags()


def restart(run_dir: str, lcore: int, socket_path: str, replace: bool = False,
            timeout: float = 5.0, lab: Lab | None = None) -> WorkerRecord:
    """Start lcore `lcore`'s worker again; returns the new record. With `lab`, the lcore
    count, scheme, mode, MAC and port range come from the lab file, not from the old command.
    Conflict if it is running (and not `replace`); StateError if its host is gone;
    WorkerError if it does not come up."""
    try:
        rec = read_record(run_dir, lcore)
    except Exception as e:
        raise StateError(str(e)) from None
    old_argv = rec.argv
    if lab is not None:
        rec.argv = argv_with(rec.argv, lab_settings(lab))
    probe = WorkerClient(lcore, socket_path, timeout=min(timeout, 2.0))
    try:
        info = probe.info()
    except WorkerError:
        info = None
    finally:
        probe.close()
    if info is not None:
        if not replace:
            raise Conflict(f"lcore {lcore}'s worker is running (pid {info.get('pid')}) and answers: nothing "
                           f"restarted (use --replace to restart it anyway)")
        _stop(int(info["pid"]), None)
    elif pid_runs(rec.pid, old_argv):
        _stop(rec.pid, old_argv)              # hung: alive but not answering
    prefix: list[str] = []
    if rec.netns_pid is not None:
        ns = Path(f"/proc/{rec.netns_pid}/ns/net")
        if not ns.exists():
            raise StateError(f"lcore {lcore}'s host (pid {rec.netns_pid}) is gone: the lab is down; "
                             f"start it again (`make run`)")
        prefix = ["nsenter", f"--net={ns}", "--"]
    with open(rec.log, "ab") as log:
        log.write(f"--- fdirctl worker restart {lcore} ---\n".encode())
        log.flush()
        proc = subprocess.Popen(prefix + rec.argv, cwd=rec.cwd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    c = WorkerClient(lcore, socket_path, timeout=2.0)
    try:
        while True:
            if proc.poll() is not None:
                raise WorkerError(f"lcore {lcore}'s worker exited with code {proc.returncode} on restart: "
                                  f"{_tail(rec.log)}", lcore=lcore)
            if Path(socket_path).exists():
                try:
                    c.info()
                    break
                except WorkerError:
                    c.close()
            if time.monotonic() > deadline:
                _stop(proc.pid, None)
                raise WorkerError(f"lcore {lcore}'s worker did not answer on {socket_path} within "
                                  f"{START_TIMEOUT:g}s of its restart: {_tail(rec.log)}", lcore=lcore)
            time.sleep(0.05)
    finally:
        c.close()
    new = WorkerRecord(rec.lcore, rec.argv, rec.cwd, rec.netns_pid, rec.log, proc.pid)
    write_record(run_dir, new)
    return new
