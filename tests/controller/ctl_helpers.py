"""Helpers for controller tests: fdirctl run in-process or as a process against one switch.
The rigs (switch processes, fdir.p4's synthetic P4Info, switch snapshots) live in topo/rig/,
shared with bench/; they are re-exported here."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from topo.rig.fdir_p4info import DIRECT, TABLE_ACTIONS, snapshot, synthetic_p4info
from topo.rig.p4rt import free_port
from topo.rig.switches import BMV2_JSON, BUILD, P4INFO, REPO, SwitchProc, bmv2_thrift_args, program_files

__all__ = ["BMV2_JSON", "BUILD", "DIRECT", "P4INFO", "REPO", "TABLE_ACTIONS", "Fdirctl", "SwitchProc",
           "bmv2_thrift_args", "free_port", "program_files", "snapshot", "synthetic_p4info"]


class Fdirctl:
    """Runs fdirctl in-process (fast) against one switch; `.sub` runs it as a real process."""

    def __init__(self, sw: SwitchProc, program: tuple[Path, Path], capsys) -> None:
        self.sw, self.program, self.capsys = sw, program, capsys

    def base(self) -> list[str]:
        p4info, js = self.program
        return ["--grpc-addr", self.sw.addr, "--device-id", str(self.sw.device_id),
                "--p4info", str(p4info), "--bmv2-json", str(js), "--timeout", "5"]

    def __call__(self, *args: str, workers: bool = False) -> tuple[int, dict, str]:
        """(exit code, JSON answer, stderr)."""
        from controller.cli import main
        argv = [*self.base(), "--json", *([] if workers else ["--no-workers"]), *args]
        self.capsys.readouterr()
        code = main(argv)
        out, err = self.capsys.readouterr()
        return code, json.loads(out.strip().splitlines()[-1]) if out.strip() else {}, err

    def sub(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        e = dict(os.environ, **(env or {}))
        return subprocess.run([sys.executable, "-m", "controller", *self.base(), "--no-workers", *args],
                              capture_output=True, text=True, cwd=REPO, env=e, timeout=120)
