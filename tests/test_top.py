"""fdirctl top's pure part: rows and rates from two polls of the workers, and its layout."""
from __future__ import annotations

import subprocess
import sys

from rich.console import Console

from controller.top import Snapshot, render, top_rows, totals


def stats(pin: int, pout: int, hits: int, misses: int, conns: int, new: int = 0,
          handoff: int = 0, used: int = 0) -> dict:
    return {"packets": {"in": pin, "out": pout}, "reply_hits": hits, "reply_misses": misses,
            "conns": {"total": conns}, "conns_new": new,
            "handoff": {"do_handoff": handoff, "congestion_drop": 0},
            "pools": [{"sa_used": used, "sa_free": 100 - used}]}


def test_rates_and_interval_affinity():
    a = Snapshot(10.0, [stats(100, 90, 50, 0, 5), stats(10, 10, 5, 5, 1), None])
    b = Snapshot(12.0, [stats(300, 290, 150, 0, 7, 20, 4, 3), stats(10, 10, 5, 15, 1), None])
    first = top_rows(None, a)
    assert first[0]["in_s"] is None and first[0]["affinity"] == 100.0   # all so far
    assert first[1]["affinity"] == 50.0
    rows = top_rows(a, b)
    assert rows[0]["in_s"] == 100.0 and rows[0]["out_s"] == 100.0 and rows[0]["new_s"] == 10.0
    assert rows[0]["handoff_s"] == 2.0 and rows[0]["sa_used"] == 3 and rows[0]["conns"] == 7
    assert rows[1]["affinity"] == 0.0          # 10 new misses, no new hits in the interval
    assert rows[2] == {"lcore": 2, "down": True}
    t = totals(rows)
    assert t["reply_hits"] == 155 and t["reply_misses"] == 15 and t["down"] == [2]
    assert t["affinity"] == round(100 * 155 / 170, 1)


def test_view_fits_80_columns_with_large_counters():
    big = stats(10**9, 10**9, 10**9, 10**7, 10**6, 10**6, 10**8, 99)
    rows = top_rows(Snapshot(0.0, [big] * 8), Snapshot(1.0, [big] * 8))
    con = Console(width=80, record=True, force_terminal=False)
    con.print(render(rows, "fdirctl top  8 lcores, mode handoff, scheme lsb, every 1s"))
    text = con.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text                     # no column had to be cut
    assert text.count("\n") < 24


def test_bad_interval_is_one_line_and_exit_2():
    res = subprocess.run([sys.executable, "-m", "controller", "top", "--interval", "0"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "--interval 0" in res.stderr
