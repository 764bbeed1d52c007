"""Argument parsing for the small topo command lines (topo.traffic, topo.udpload,
topo.realserver): a bad value is one line naming the option and the value, exit 2, before
anything runs (argparse's own error prints the usage first and lets a value such as
`--parallel 0` through to a traceback later)."""
from __future__ import annotations

import argparse
import ipaddress
import math
import sys
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer in lo..hi."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} must be {lo}..{hi}")
        return v
    parse.__name__ = "integer"
    return parse


def number_in(lo: float, hi: float, lo_open: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number in (lo, hi] (or [lo, hi] when not lo_open)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
            raise argparse.ArgumentTypeError(f"{text} must be in {'(' if lo_open else '['}{lo:g}, {hi:g}]")
        return v
    parse.__name__ = "number"
    return parse


def ip_addr(text: str) -> str:
    """An argparse type: an IPv4 or IPv6 address, as given."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


PORT = int_in(1, 65535)
