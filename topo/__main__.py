"""`python -m topo run|clean`: the live lab behind `make run`, and its clean-up."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from fdirlab.errors import FdirlabError
from fdirlab.lab_config import LAB_ENV


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m topo", description="the fdirlab Mininet lab")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="build the lab and open the Mininet CLI")
    run.add_argument("--lab", default=None, help="lab file (TOML); default: the built-in lab")
    run.add_argument("--mode", choices=("fdir", "rss", "handoff"), default=None,
                     help="steering mode (overrides the lab file)")
    run.add_argument("--target", choices=("auto", "bmv2", "softswitch"), default=None,
                     help="switch (overrides the lab file; auto = bmv2 if installed)")
    run.add_argument("--dpvs-conf", default=None, metavar="DPVS_CONF",
                     help="build the lab a DPVS dpvs.conf describes (instead of --lab)")
    run.add_argument("--pcap", action="store_true",
                     help="the switch writes a pcap per port and direction into the lab's log folder")
    run.add_argument("--no-cli", action="store_true", help="start, print the guide, stop")
    sub.add_parser("clean", help="remove what a crashed run left behind")
    args = ap.parse_args(argv)

    from topo.cleanup import cleanup
    if args.cmd == "clean":
        if os.geteuid() != 0:
            # the runs it cleans up were root's: their processes, links and namespaces
            print("clean: needs root (the lab's processes, links and namespaces are root's)", file=sys.stderr)
            return 2
        out = cleanup()
        return 1 if out.failed else 0
    if os.geteuid() != 0:
        print("run: the lab needs root (Mininet network namespaces)", file=sys.stderr)
        return 2
    from topo.lab import LabRun
    # fdirctl typed at the Mininet prompt (`sh fdirctl ...`) is the venv's.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    from topo.signals import Terminated, stop_on_signals
    lab: LabRun | None = None
    code, up, how = 0, False, ""
    with stop_on_signals():          # SIGTERM/SIGHUP: the same teardown as `exit`
        try:
            try:
                data = None
                if args.dpvs_conf:
                    if args.lab:
                        print("run: give --lab or --dpvs-conf, not both", file=sys.stderr)
                        return 2
                    from fdirlab import dpvs_conf
                    d = dpvs_conf.load(args.dpvs_conf)
                    data = d.lab
                    print(f"{args.dpvs_conf}: " + "; ".join(d.notes), flush=True)
                    if d.warning():
                        print(f"warning: {d.warning()}", flush=True)
                lab = LabRun(args.lab, target=args.target, steering=args.mode, pcap=args.pcap, data=data)
                lab.start()
            except FdirlabError as e:
                print(f"run: {e}", file=sys.stderr)
                return 1
            up = True
            os.environ[LAB_ENV] = str(lab.run_dir / "lab.toml")    # `sh ipvsadm -ln` at the prompt
            print(lab.guide(), flush=True)
            if not args.no_cli:
                from topo.cli import LabCLI
                LabCLI(lab.net, str(lab.run_dir / "lab.toml"), lab._env())
        except Terminated as t:
            code, how = int(t.code or 1), f" on {signal.Signals(t.signum).name}"
        finally:
            if lab is not None:
                lab.stop()           # idempotent: after a failed start there is nothing left to stop
            if up or how:
                _say(f"lab stopped{how}: switch, workers, servers, hosts and links are gone")
    return code


def _say(line: str) -> None:
    """Print, unless the terminal is gone (SIGHUP after an ssh disconnect: EIO)."""
    try:
        print(line, flush=True)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
