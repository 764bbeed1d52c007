"""Command line of the lcore worker (`python -m lcore`, planned entry point `lcore-worker`):
parse and validate arguments, then run the worker; every error is one line, no traceback.

Exit status: 0 after SIGTERM/SIGINT, 2 for a bad argument (the message names the value),
1 for a runtime failure such as a missing privilege.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn

from lcore.config import DEFAULT_HANDOFF_DEPTH, MODES, WorkerConfig, parse_port_range
from lcore.errors import ConfigError, LcoreError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:           # one line, exit 2 (argparse's default is 2 lines)
        print(f"lcore: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lcore", description="fdirlab lcore worker: full-NAT on one interface")
    p.add_argument("--iface", required=True, help="interface carrying the LB MAC")
    p.add_argument("--lcore-id", type=int, required=True)
    p.add_argument("--n-lcores", type=int, required=True)
    p.add_argument("--scheme", required=True, help="port partition: lsb, range or laddr")
    p.add_argument("--mode", required=True, help=f"steering mode: {', '.join(MODES)}")
    p.add_argument("--mac", required=True, help="the load balancer's MAC (src of sent frames)")
    p.add_argument("--ctl", required=True, help="control socket path")
    p.add_argument("--port-range", default="1025-65535")
    p.add_argument("--pool-hash-size", type=int, default=16)
    p.add_argument("--handoff-dir")
    p.add_argument("--handoff-depth", type=int, default=DEFAULT_HANDOFF_DEPTH)
    p.add_argument("--handoff-slots", type=int, default=1 << 16,
                   help="slots of the shared flow table (power of two)")
    p.add_argument("--log", help="log file (default: stderr)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def parse_config(argv: list[str] | None = None) -> tuple[WorkerConfig, bool]:
    a = build_parser().parse_args(argv)
    low, high = parse_port_range(a.port_range)
    return WorkerConfig(iface=a.iface, lcore_id=a.lcore_id, n_lcores=a.n_lcores, scheme=a.scheme,
                        mode=a.mode, mac=a.mac, ctl=a.ctl, port_low=low, port_high=high,
                        pool_hash_size=a.pool_hash_size, handoff_dir=a.handoff_dir,
                        handoff_depth=a.handoff_depth, handoff_slots=a.handoff_slots,
                        log=a.log).validate(), a.verbose


def main(argv: list[str] | None = None) -> int:
    try:
        cfg, verbose = parse_config(argv)
    except ConfigError as exc:
        print(f"lcore: error: {exc}", file=sys.stderr)
        return 2
    try:
        handlers: list[logging.Handler] | None = [logging.FileHandler(cfg.log)] if cfg.log else None
    except OSError as exc:
        print(f"lcore: error: --log {cfg.log}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers,
                        format=f"%(asctime)s lcore{cfg.lcore_id} %(levelname)s %(message)s")
    from lcore.worker import Worker  # after validation: argument errors need no sockets
    try:
        worker = Worker(cfg)
    except ConfigError as exc:
        print(f"lcore: error: {exc}", file=sys.stderr)
        return 2
    except (LcoreError, OSError) as exc:
        print(f"lcore: error: {exc}", file=sys.stderr)
        return 1
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    return 0
