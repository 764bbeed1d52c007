"""`python -m topo run|clean`: the live lab behind `make run`, and its clean-up."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fdirlab.errors import FdirlabError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m topo", description="the fdirlab Mininet lab")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="build the lab and open the Mininet CLI")
    run.add_argument("--lab", default=None, help="lab file (TOML); default: the built-in lab")
    run.add_argument("--mode", choices=("fdir", "rss", "handoff"), default=None,
                     help="steering mode (overrides the lab file)")
    run.add_argument("--target", choices=("auto", "bmv2", "softswitch"), default=None,
                     help="switch (overrides the lab file; auto = bmv2 if installed)")
    run.add_argument("--pcap", action="store_true", help="the switch writes a pcap per port")
    run.add_argument("--no-cli", action="store_true", help="start, print the guide, stop")
    sub.add_parser("clean", help="remove what a crashed run left behind")
    args = ap.parse_args(argv)

    from topo.cleanup import cleanup
    if args.cmd == "clean":
        cleanup()
        return 0
    if os.geteuid() != 0:
        print("run: the lab needs root (Mininet network namespaces)", file=sys.stderr)
        return 2
    from topo.lab import LabRun
    # fdirctl typed at the Mininet prompt (`sh fdirctl ...`) is the venv's.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    try:
        lab = LabRun(args.lab, target=args.target, steering=args.mode, pcap=args.pcap)
        lab.start()
    except FdirlabError as e:
        print(f"run: {e}", file=sys.stderr)
        return 1
    try:
        print(lab.guide(), flush=True)
        if not args.no_cli:
            from mininet.cli import CLI
            CLI(lab.net)
    finally:
        lab.stop()
        print("lab stopped: switch, workers, servers, hosts and links are gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
