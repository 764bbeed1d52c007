"""The comparison's quick mode in the live lab (root): nginx real servers, wrk and h2load in
a client host, the three steering modes on softswitch. Asserts the qualitative result only
(no timing): fdir answers every conn with 100% return-path affinity, rss loses conns,
handoff answers every conn and counts its handoffs (VPP "do handoff")."""
from __future__ import annotations

import pytest

from bench.compare import run_plan
from bench.compare_plan import quick_plan

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def quick() -> dict[str, dict]:
    # The test run holds the machine's lab lock already (RULES: flock around pytest).
    result = run_plan(quick_plan(("softswitch",)), lock=False)
    assert result["failed_cases"] == []
    return {r["mode"]: r for r in result["records"]}


def test_fdir_answers_every_conn_with_full_affinity(quick):
    rec = quick["fdir"]
    f = rec["fixed_rate"]
    assert f["total"] > 0 and f["succeeded"] == f["total"], f
    for phase in (rec["saturation"], f):
        lb = phase["lb"]
        assert lb["affinity"] == 100.0 and lb["reply_misses"] == 0, lb
        assert lb["do_handoff"] == 0
    s = rec["saturation"]
    assert s["ok"] > 0 and sum(s["errors"].values()) == 0, s
    assert len(s["lb"]["conns_per_lcore"]) == 4 and min(s["lb"]["conns_per_lcore"]) > 0


def test_rss_loses_conns_and_names_the_cause(quick):
    f = quick["rss"]["fixed_rate"]
    assert f["succeeded"] < f["total"], f
    lb = f["lb"]
    assert lb["affinity"] < 100.0 and lb["reply_misses"] > 0
    # The workers say why: replies that reached an lcore that does not own their port.
    assert lb["drop_causes"].get("reply_other_lcore", 0) > 0, lb["drop_causes"]


def test_handoff_answers_every_conn_and_counts_handoffs(quick):
    rec = quick["handoff"]
    f = rec["fixed_rate"]
    assert f["total"] > 0 and f["succeeded"] == f["total"], f
    lb = f["lb"]
    assert lb["reply_misses"] == 0 and lb["do_handoff"] > 0 and lb["same_worker"] > 0, lb
    assert lb["handoffs_per_conn"] > 0
    s = rec["saturation"]
    assert s["ok"] > 0 and s["lb"]["do_handoff"] > 0


def test_each_run_reports_the_load_tools_cpu_next_to_the_lbs(quick):
    for mode in ("fdir", "handoff"):
        share = quick[mode]["saturation"]["cpu_share"]
        assert {"switch", "workers", "servers", "load_tool"} <= set(share)
        assert share["switch"] > 0 and share["workers"] > 0 and share["load_tool"] > 0
        per_1k = quick[mode]["saturation"]["cpu_s_per_1k_conns"]
        assert per_1k["workers"] > 0 and per_1k["switch"] > 0
