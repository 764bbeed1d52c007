"""What every fdirctl command module shares: the one-line-error parser, the switch and
output options every (sub)command accepts, and small formatting helpers."""
from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, Protocol

from controller import errors as E
from controller.session import Result, Session
from fdirlab.lab_config import DEFAULT_GRPC_ADDR

# what add_subparsers() returns (argparse's private type)
Subparsers = Any


class Command(Protocol):
    """One fdirctl command: a module of controller/commands/ with these two functions."""

    def register(self, sub: Subparsers) -> None:
        """Add the command's parser (and its subcommands) to `fdirctl`'s subparsers."""

    def run(self, s: Session) -> Result:
        """Do it: (JSON answer, text, exit code); expected failures raise ControllerError."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line with exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"fdirctl: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(E.EXIT_USAGE)


def common_args(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = p.add_argument_group("switch and output")
    g.add_argument("--grpc-addr", default=d(None),
                   help=f"P4Runtime server (default: lab file, $FDIRCTL_GRPC_ADDR, {DEFAULT_GRPC_ADDR})")
    g.add_argument("--device-id", type=int, default=d(None), help="P4Runtime device id (default: lab file or 1)")
    g.add_argument("--lab", default=d(None),
                   help="lab file (TOML; default $FDIRLAB_LAB, which a running lab sets at its prompt); "
                        "required by reconcile, defaults for init")
    g.add_argument("--json", action="store_true", default=d(False), help="machine-readable output")
    g.add_argument("--run-dir", default=d(None), help="directory of the workers' lcore-<i>.sock (default: the lab's)")
    g.add_argument("--no-workers", action="store_true", default=d(False), help="do not talk to lcore workers")
    g.add_argument("--timeout", type=float, default=d(5.0), help="seconds to wait for the switch/workers")
    g.add_argument("--p4info", default=d(None), help="P4Info text file (default: p4src/build, else the switch's)")
    g.add_argument("--bmv2-json", default=d(None), help="compiled program to push (default: p4src/build/fdir.json)")
    g.add_argument("--batch-size", type=int, default=d(1000), help="updates per P4Runtime Write")
    g.add_argument("--debug", action="store_true", default=d(False), help="tracebacks for internal errors")
    g.add_argument("--lock-wait", type=float, default=d(60.0), metavar="SECONDS",
                   help="commands that change the switch wait this long for another writer to finish "
                        "(default 60; 0: fail at once); reads never wait")


def command(sub: Subparsers, name: str, help: str) -> argparse.ArgumentParser:
    """A command's parser, with the common options (given after the command too)."""
    sp: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    common_args(sp, suppress=True)
    return sp


def int0(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def plist(ports: list[int]) -> str:
    return ",".join(map(str, ports)) or "-"
