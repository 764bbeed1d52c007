"""bench/compare_tables.py: the README's tables carry exactly the JSON's numbers."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.compare import head_to_head_summary
from bench.compare_tables import detail_lines, goal_table, main, matrix_table
from bench.result_schema import COMPARE_REPORT, COMPARE_TABLES, HEAD_TO_HEAD, load

ROOT = Path(__file__).resolve().parent.parent


def _phase(conns_per_s, p99, workers_1k, switch_1k, **lb):
    base_lb = {"affinity": 100.0, "handoffs_per_conn": 0.0, "drop_causes": {},
               "spread_max_over_mean": 1.02, "congestion_drop": 0, "same_worker": 0,
               "do_handoff": 0}
    base_lb.update(lb)
    return {"conns_per_s": conns_per_s, "p50_ms": 0.4, "p99_ms": p99, "ok": 100,
            "succeeded": 90, "total": 100, "offered_rate": 300,
            "cpu_s": {"switch": 2.0, "switch_sys": 0.5, "workers": 1.0},
            "cpu_s_per_1k_conns": {"workers": workers_1k, "switch": switch_1k},
            "load_tool_vs_lb_cpu": 0.071, "lb": base_lb}


def _rec(target, mode, conns, rnd=1):
    lb = {"handoffs_per_conn": 3.75, "do_handoff": 30, "same_worker": 10} if mode == "handoff" else {}
    return {"case": f"{target}-{mode}-4-lsb", "target": target, "mode": mode, "round": rnd,
            "saturation": _phase(conns, 9.5, 0.125, 0.25, **lb),
            "fixed_rate": _phase(None, 0.61, 0.3, 0.7, **lb)}


def test_goal_table_quotes_medians_each_round_and_ratios():
    rounds = [_rec("softswitch", "fdir", c, i) for i, c in enumerate((3866.3, 3880.2, 3887.9))]
    rounds += [_rec("bmv2", "fdir", c, i) for i, c in enumerate((2776.0, 2479.2, 2705.7))]
    rounds += [_rec("softswitch", "handoff", 3795.9)]
    h2h = {"summary": head_to_head_summary(rounds), "failed_cases": [{"case": "x", "error": "E"}]}
    text = goal_table(h2h)
    lines = text.splitlines()
    sw = next(ln for ln in lines if ln.startswith("| softswitch/fdir"))
    assert "**3,880** (3,866, 3,880, 3,888)" in sw
    assert "0.125 / 0.250" in sw and "25%" in sw       # switch_sys / switch = 0.5 / 2.0
    assert next(ln for ln in lines if ln.startswith("| bmv2/fdir")).count("2,706") == 2
    assert "| softswitch/handoff" in text and "3.75" in text
    assert f"softswitch_over_bmv2_fdir_conns **{round(3880.2 / 2705.7, 3)}**" in text
    assert "failed: x: E" in text
    # fdir rows first, then handoff
    order = [ln.split("|")[1].strip() for ln in lines if ln.startswith("| ") and "/" in ln[:20]]
    assert order.index("softswitch/handoff") > order.index("softswitch/fdir")


def test_matrix_table_one_row_per_case_and_stalled_rss():
    rss = _rec("softswitch", "rss", None)
    rss["fixed_rate"]["lb"].update(affinity=26.08, drop_causes={"reply_other_lcore": 3107})
    rss["saturation"]["cpu_s_per_1k_conns"] = {"workers": None, "switch": None}
    rec = _rec("bmv2", "fdir", 2705.7)
    rec["sweep"] = [{"offered_rate": 200, "succeeded": 400, "total": 400,
                     "lb": {"handoffs_per_conn": 0.0, "congestion_drop": 0}}]
    rec["extras"] = {"iperf3_tcp": {"mbit_s": 183.14}, "iperf3_udp": {"error": "timed out"},
                     "udp_rr": {"rate": 400.0, "sent": 800, "answered": 200, "p50_ms": 0.35,
                                "p99_ms": 0.53}}
    result = {"records": [rss, rec]}
    table = matrix_table(result).splitlines()
    assert len(table) == 2 + 2
    assert table[2].startswith("| softswitch-rss-4-lsb | stalled | 90/100,")
    assert "26.08%" in table[2] and "reply_other_lcore 3107" in table[2] and "| - |" in table[2]
    assert table[0].split(" | ")[5] == "congestion drops at saturation"
    assert table[3].split(" | ")[5] == "0"
    assert table[3].startswith("| bmv2-fdir-4-lsb | 2,706 |")
    details = detail_lines(result)
    assert "200/s offered: 400/400 answered" in details
    assert "iperf3 TCP 183.1 Mbit/s" in details and "iperf3 UDP timed out" in details
    assert "200/800 answered" in details


def test_main_names_a_folder_without_results(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err
    (tmp_path / "compare.json").write_text("{not json")
    assert main([str(tmp_path)]) == 2
    assert "compare.json" in capsys.readouterr().err
    (tmp_path / "compare.json").write_text(json.dumps({"records": [_rec("softswitch", "fdir", 10.0)]}))
    assert main([str(tmp_path)]) == 0
    assert "| softswitch-fdir-4-lsb | 10 |" in capsys.readouterr().out


@pytest.mark.parametrize("reader,name,data,needle", [
    (r, "compare.json", {}, "compare.json: not a `make compare` result: at top level: '")
    for r in ("compare_tables", "compare_report")] + [
    (r, "compare.json", [], "compare.json: not a `make compare` result: at top level: [] is not of type 'object'")
    for r in ("compare_tables", "compare_report")] + [
    (r, "compare.json", {"plan": {"rate": 1, "laddrs": 2}, "usable_ports": [], "records": [{"case": "c"}]},
     "at records/0: ") for r in ("compare_tables", "compare_report")] + [
    ("compare_tables", "head_to_head.json", {"summary": {"medians": {}}},
     "at summary: 'ratios' is a required property"),
])
def test_a_json_that_is_not_a_result_is_one_line_exit_2_and_nothing_written(reader, name, data, needle, tmp_path):
    """Break-it finding 9: a compare.json of `{}` was a KeyError traceback (compare_tables.py,
    compare_report.py). Both readers check the file against bench/result_schema.py first."""
    (tmp_path / name).write_text(json.dumps(data))
    res = subprocess.run([sys.executable, "-m", f"bench.{reader}", str(tmp_path)], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"{reader}: {tmp_path / name}: "), res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == "" and [p.name for p in tmp_path.iterdir()] == [name]


def test_the_committed_results_pass_their_schemas():
    """The schemas require only what `make compare` writes: its committed output passes."""
    res = ROOT / "results" / "compare"
    assert load(res / "compare.json", COMPARE_TABLES) and load(res / "compare.json", COMPARE_REPORT)
    assert load(res / "head_to_head.json", HEAD_TO_HEAD)
