"""`make bench`: every benchmark of fdirlab in one go; each prints its own ratios.

Run one alone with `python -m bench.<name>_bench --help`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

BENCHES = ("lcore_bench", "softswitch_bench", "fdirctl_bench")


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (default: all of BENCHES) with their default arguments.
    An unknown name (or an option) is one usage line naming it, exit 2, nothing run."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHES)} (default: all)")
    a = ap.parse_args(argv)
    bad = [n for n in a.names if n not in BENCHES]
    if bad:
        ap.error(f"benchmark {bad[0]!r}: use {', '.join(BENCHES)}")
    names = a.names or list(BENCHES)
    status = 0
    for name in names:
        print(f"=== bench.{name} ===", flush=True)
        mod = importlib.import_module(f"bench.{name}")
        rc = mod.main([])
        status = status or (rc or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
