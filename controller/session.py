"""fdirctl's session: the lab file, the switch connection (lazily opened, the writer lock
taken first for commands that write) and the workers, closed when the command ends."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from controller import errors as E
from controller.argcheck import check_seconds
from controller.laddr_ops import Ctx
from controller.p4names import P4Names
from controller.p4rt_client import P4RTClient, load_device_config, load_p4info_text
from controller.workers import WorkerSet
from controller.writelock import WriteLock
from fdirlab.lab_config import DEFAULT_GRPC_ADDR, load_lab

try:
    import p4src
    DEFAULT_P4INFO, DEFAULT_JSON = str(p4src.P4INFO), str(p4src.BMV2_JSON)
except ImportError:  # pragma: no cover - p4src is part of the same distribution
    DEFAULT_P4INFO = DEFAULT_JSON = ""

Result = tuple[dict[str, Any], str, int]    # (json, text, exit code) of one command


class Session:
    """Lazily opened switch connection + names, closed at exit."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lab = load_lab(args.lab) if args.lab else None
        sw = self.lab.switch if self.lab else None
        self.grpc_addr = args.grpc_addr or (sw.grpc_addr if sw else None) or \
            os.environ.get("FDIRCTL_GRPC_ADDR") or DEFAULT_GRPC_ADDR
        self.device_id = args.device_id if args.device_id is not None else (sw.device_id if sw else 1)
        if self.device_id < 0:
            raise E.BadInput(f"device id {self.device_id}: must be >= 0")
        self.client: P4RTClient | None = None
        self._ws: list[WorkerSet] = []
        self.lock: WriteLock | None = None

    def ctx(self, write: bool = False) -> Ctx:
        """Connect to the switch. write=True: first take the switch's writer lock (held until
        close(), so reading, validating and writing are one step no other writer interleaves
        with), then arbitrate as primary. Reads connect without arbitration."""
        a = self.args
        if write:
            what = " ".join(x for x in (a.cmd, getattr(a, "sub", None)) if x)
            self.take_write_lock(what)
        self.client = P4RTClient(self.grpc_addr, self.device_id, timeout=a.timeout).connect(arbitrate=write)
        p4info_path = a.p4info or DEFAULT_P4INFO
        p4info = None
        if p4info_path and Path(p4info_path).exists():
            p4info = load_p4info_text(p4info_path)
        elif a.p4info:
            raise E.BadInput(f"P4Info {a.p4info!r}: no such file")
        json_path = a.bmv2_json or DEFAULT_JSON
        device_config = load_device_config(json_path) if json_path and Path(json_path).exists() else None
        if a.bmv2_json and device_config is None:
            raise E.BadInput(f"program {a.bmv2_json!r}: no such file")
        if p4info is None:   # no local build: use the program the switch runs
            p4info, _ = self.client.get_pipeline()
            if p4info is None:
                raise E.StateError(f"switch {self.grpc_addr} runs no pipeline and no P4Info file was found "
                                   f"({p4info_path}); build it with `make p4` or pass --p4info")
        names = P4Names(p4info)
        if a.batch_size < 1:
            raise E.BadInput(f"batch size {a.batch_size}: must be >= 1")
        return Ctx(self.client, names, self.workers_for, a.batch_size, p4info, device_config, self.lab)

    def workers_for(self, n: int) -> WorkerSet | None:
        if self.args.no_workers:
            return None
        run_dir = self.args.run_dir or (self.lab.run_dir if self.lab else None)
        if run_dir is None:
            return None
        ws = WorkerSet.from_run_dir(run_dir, n, self.args.timeout)
        self._ws.append(ws)
        return ws

    def take_write_lock(self, what: str) -> WriteLock:
        """The switch's writer lock, held until close() (once per session: a command that
        took it before its checks keeps it for its writes). Warns on stderr when the last
        writer was killed or interrupted mid-write (doctor: writer-killed)."""
        if self.lock is not None and self.lock.writing:
            return self.lock
        check_seconds(self.args.lock_wait, "--lock-wait", zero_ok=True)   # also for ipvsadm/dpip sessions
        self.lock = lock = WriteLock(self.grpc_addr, self.device_id, self.args.lock_wait, what).acquire()
        if lock.interrupted and what != "reconcile":
            print(f"fdirctl: warning: the last writer of {self.grpc_addr} ({lock.interrupted}) was "
                  "killed mid-write; `fdirctl doctor` shows what it left, `fdirctl reconcile` repairs it",
                  file=sys.stderr)
        return lock

    def close(self, completed: bool = True) -> None:
        """completed=False: the command stopped part-way (Ctrl-C, a failed rollback, a bug);
        a writer's lock file then keeps its name (controller/writelock.py)."""
        for ws in self._ws:
            ws.close()
        if self.client is not None:
            self.client.close()
        if self.lock is not None:
            self.lock.release(clear=completed)
