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
               "do_handoff": 0, "conns_new": 0, "reply_misses": 0, "no_local_port": 0}
    base_lb.update(lb)
    return {"conns_per_s": conns_per_s, "p50_ms": 0.4, "p99_ms": p99, "ok": 100,
            "succeeded": 900, "total": 1000, "offered_rate": 300,
            "cpu_s": {"switch": 2.0, "switch_sys": 0.5, "workers": 1.0},
            "cpu_s_per_1k_conns": {"workers": workers_1k, "switch": switch_1k},
            "cpu_share": {"switch": 0.5, "workers": 0.25, "load_tool": 0.05}, "errors": {},
            "load_tool_vs_lb_cpu": 0.071, "lb": base_lb}


def _rec(target, mode, conns, rnd=1):
    lb = {"handoffs_per_conn": 3.75, "do_handoff": 30, "same_worker": 10} if mode == "handoff" else {}
    fixed = _phase(None, 0.61, 0.3, 0.7, **lb)
    del fixed["ok"], fixed["errors"]            # h2load's phase: succeeded / total
    return {"case": f"{target}-{mode}-4-lsb", "target": target, "mode": mode, "round": rnd, "lcores": 4,
            "scheme": "lsb", "usable_ports": {"min_per_lcore": 1, "unowned_per_laddr": 0},
            "saturation": _phase(conns, 9.5, 0.125, 0.25, **lb), "fixed_rate": fixed}


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
    rss["saturation"]["ok"] = 0                     # wrk stalled and was killed: it reported nothing
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
    assert table[2].startswith("| softswitch-rss-4-lsb | stalled | 900/1000,")
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


# --- break-it 2 finding 13: figures from too few conns are not measurements -----------------

def _stalled_rss() -> dict:
    """softswitch-rss-4-lsb of the committed matrix: wrk got 9 conns answered before its
    closed loop stalled (2.2 conns/s, CPU per 1k conns from 9 conns); h2load 61 of 240."""
    rec = _rec("softswitch", "rss", 2.2)
    rec["saturation"].update(ok=9, load_tool_vs_lb_cpu=0.7,
                             cpu_s_per_1k_conns={"workers": 0.0, "switch": 1.1111})
    rec["fixed_rate"].update(succeeded=61, total=240, p50_ms=0.504, p99_ms=1.949)
    rec["fixed_rate"]["lb"].update(affinity=27.65, handoffs_per_conn=0.0)
    return rec


def test_a_phase_below_min_conns_shows_no_per_conn_figure():
    from bench.compare_plan import MIN_CONNS, shown
    rec = _stalled_rss()
    s = shown(rec["saturation"])
    assert s["too_few_conns"] is True and s["ok"] == 9
    assert s["conns_per_s"] is None and s["p99_ms"] is None and s["load_tool_vs_lb_cpu"] is None
    assert s["cpu_s_per_1k_conns"] == {"workers": None, "switch": None}
    f = shown(rec["fixed_rate"])
    assert (f["p50_ms"], f["p99_ms"], f["lb"]["handoffs_per_conn"]) == (None, None, None)
    assert f["succeeded"] == 61 and f["lb"]["affinity"] == 27.65         # counts are kept
    assert rec["saturation"]["conns_per_s"] == 2.2                        # the record is not changed
    enough = {**rec["saturation"], "ok": MIN_CONNS}
    assert shown(enough) is enough


def test_matrix_row_of_a_stalled_phase_says_stalled_and_shows_no_cpu_per_conn():
    row = matrix_table({"records": [_stalled_rss()]}).splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "stalled (9 conns)"
    assert cells[2] == "61/240, - / - ms"
    assert cells[3] == "27.65%" and cells[4] == "-"
    assert cells[7] == "-" and cells[8] == "-"            # CPU s per 1k conns, wrk CPU / LB CPU


def test_csv_row_of_a_stalled_phase_has_empty_per_conn_cells():
    from bench.compare_report import rows
    sat, fix = rows({"records": [_stalled_rss()]})
    assert (sat["answered"], sat["conns_per_s"], sat["cpu_s_per_1k_workers"], sat["cpu_s_per_1k_switch"],
            sat["load_tool_vs_lb_cpu"], sat["too_few_conns"]) == (9, "", "", "", "", True)
    assert (fix["answered"], fix["p50_ms"], fix["p99_ms"], fix["handoffs_per_conn"]) == (61, "", "", "")


def test_the_progress_line_and_the_goal_medians_follow_the_same_rule():
    from bench.compare import case_line
    line = case_line(_stalled_rss())
    assert "stalled (9 conns)" in line and "0.0 conns/s" not in line and "2.2" not in line
    assert "61/240 answered, p50 - p99 - ms" in line and "handoffs/conn -" in line
    good = [_rec("softswitch", "fdir", c, i) for i, c in enumerate((3800.0, 3900.0))]
    bad = _stalled_rss()
    bad.update(mode="fdir", round=3)
    med = head_to_head_summary([*good, bad])["medians"]["softswitch/fdir"]
    assert med["conns_per_s_each"] == [3800.0, 3900.0, None] and med["conns_per_s"] == 3850.0
    assert med["switch_cpu_s_per_1k"] == 0.25                # the stalled round's 1.1111 is left out


def test_the_readme_matrix_is_what_compare_tables_prints_from_the_committed_json():
    """README's full-matrix rows are the committed compare.json rendered by the current rule
    (finding 13: `softswitch-rss-4-lsb | 2 | ... | 0.000 / 1.111` was a figure from 9 conns)."""
    table = matrix_table(load(ROOT / "results" / "compare" / "compare.json", COMPARE_TABLES)).splitlines()
    readme = [ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.startswith("| ")]
    assert table[0] in readme
    start = readme.index(table[0])
    assert readme[start:start + len(table)] == table
    assert any(ln.startswith("| softswitch-rss-4-lsb | stalled (9 conns) |") for ln in table)


def test_the_committed_csv_is_what_compare_report_writes_from_the_committed_json(tmp_path):
    from bench.compare_report import write_all
    result = load(ROOT / "results" / "compare" / "compare.json", COMPARE_REPORT)
    paths, skipped = write_all(result, tmp_path, figures=False)
    assert (tmp_path / "compare.csv").read_text() == (ROOT / "results" / "compare" / "compare.csv").read_text()
    assert skipped == []


# --- finding 15: a figure without data is not drawn, and no matplotlib warning ---------------

def _report_result(with_sweep: bool) -> dict:
    rec = _rec("softswitch", "handoff", 3000.0)
    if with_sweep:
        rec["sweep"] = [{**rec["fixed_rate"], "offered_rate": 500, "succeeded": 1000, "total": 1000}]
    return {"plan": {"rate": 120, "laddrs": 2}, "machine": {}, "records": [rec],
            "usable_ports": [{"scheme": "lsb", "lcores": n, "min_per_lcore": 1, "unowned_per_laddr": 0}
                             for n in (1, 2)]}


def test_a_run_without_a_sweep_draws_no_handoff_figure_and_says_so(tmp_path):
    import warnings

    from bench.compare_report import draw
    (tmp_path / "handoff_vs_load.png").write_bytes(b"an earlier run's figure")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the quick run printed a UserWarning (legend)
        from bench.compare_report import write_all
        paths, skipped = write_all(_report_result(with_sweep=False), tmp_path)
    assert [p.name for p in paths if p.suffix == ".png"] == ["conns_and_p99.png", "usable_ports.png"]
    assert len(skipped) == 1 and skipped[0].startswith("handoff_vs_load.png: no offered-load sweep")
    assert not (tmp_path / "handoff_vs_load.png").exists()     # would not match this compare.json
    drawn, skipped = draw(_report_result(with_sweep=True), tmp_path)
    assert [p.name for p in drawn] == ["conns_and_p99.png", "handoff_vs_load.png", "usable_ports.png"]
    assert skipped == []


# --- finding 16: the readers' arguments ------------------------------------------------------

def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"bench.{module}", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.parametrize("module", ["compare_tables", "compare_report"])
def test_help_is_usage_not_a_folder(module):
    res = _cli(module, "--help")
    assert res.returncode == 0 and res.stdout.startswith(f"usage: python -m bench.{module} "), res
    assert "compare.json" in res.stdout and res.stderr == ""


def test_compare_tables_takes_the_json_file_itself(tmp_path):
    (tmp_path / "compare.json").write_text(json.dumps({"records": [_rec("softswitch", "fdir", 10.0)]}))
    (tmp_path / "head_to_head.json").write_text("{not json")     # not read: the file named is
    res = _cli("compare_tables", str(tmp_path / "compare.json"))
    assert res.returncode == 0 and "| softswitch-fdir-4-lsb | 10 |" in res.stdout, res.stderr


def test_compare_report_takes_the_json_file_itself_and_writes_beside_it(tmp_path):
    (tmp_path / "compare.json").write_text(json.dumps(_report_result(with_sweep=False)))
    res = _cli("compare_report", str(tmp_path / "compare.json"))
    assert res.returncode == 0, res.stderr
    assert res.stderr == "" and "UserWarning" not in res.stdout
    assert "not drawn: handoff_vs_load.png: no offered-load sweep" in res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.csv", "compare.json", "conns_and_p99.png",
                                                          "usable_ports.png"]


@pytest.mark.parametrize("module", ["compare_tables", "compare_report"])
@pytest.mark.parametrize("arg,needle", [
    ("README.md", "README.md: not "),
    ("no/such/dir", "no/such/dir: no such file or folder"),
])
def test_a_path_that_is_no_result_is_one_line_exit_2(module, arg, needle):
    res = _cli(module, arg)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"{module}: ") and needle in res.stderr, res.stderr
