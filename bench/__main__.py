"""`make bench`: every benchmark of fdirlab in one go; each prints its own ratios.

Run one alone with `python -m bench.<name>_bench --help`.
"""
from __future__ import annotations

import importlib
import sys

BENCHES = ("lcore_bench", "softswitch_bench", "fdirctl_bench")


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(BENCHES)
    status = 0
    for name in names:
        print(f"=== bench.{name} ===", flush=True)
        mod = importlib.import_module(f"bench.{name}")
        rc = mod.main([])
        status = status or (rc or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
