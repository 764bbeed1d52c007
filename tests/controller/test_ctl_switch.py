"""fdirctl against a real switch (softswitch, and BMv2 when installed): add/del/list round
trip, all-or-nothing on injected failures, controller and switch restarts with reconcile."""
from __future__ import annotations

import pytest
from ctl_helpers import snapshot

from controller.p4names import P4Names
from controller.p4rt_client import P4RTClient
from controller.state import read_state


def _init(fdirctl, *extra):
    code, res, err = fdirctl("init", "--lcores", "4", *extra)
    assert code == 0, err
    return res


def test_init_add_list_del_round_trip(fdirctl, program):
    res = _init(fdirctl)
    assert res["lcore_ports"] == [1, 2, 3, 4] and res["pipeline_pushed"]
    code, res, err = fdirctl("laddr", "add", "10.0.0.200", "2001:db8::c8")
    assert code == 0, err
    assert res["entries"] == (8 + 2) + (8 + 2)     # filters + lb_addr + ARP (IPv4) / NS answer (IPv6)
    code, res, _ = fdirctl("laddr", "list")
    assert code == 0
    assert [(r["laddr"], r["slot"], r["entries"], r["complete"]) for r in res["laddrs"]] == \
        [("10.0.0.200", 0, 10, True), ("2001:db8::c8", 0, 10, True)]     # slots per family
    code, res, _ = fdirctl("show", "fdir")
    assert res["count"] == 16
    mine = [r for r in res["entries"] if r["addr"] == "10.0.0.200"]
    assert sorted((r["port_value"], r["port_mask"], r["lcore"], r["proto"]) for r in mine) == \
        sorted((i, 3, i, p) for i in range(4) for p in ("tcp", "udp"))
    assert all(r["packets"] == 0 for r in res["entries"])      # hit counters are read back
    before_v6 = [r for r in res["entries"] if r["addr"] == "2001:db8::c8"]
    code, res, err = fdirctl("laddr", "del", "10.0.0.200")
    assert code == 0 and res["entries"] == 10, err
    code, res, _ = fdirctl("show", "fdir")
    assert res["count"] == 8 and [r for r in res["entries"]] == before_v6
    code, res, _ = fdirctl("laddr", "list")
    assert [r["laddr"] for r in res["laddrs"]] == ["2001:db8::c8"]
    code, res, _ = fdirctl("show", "rss")
    assert res["size"] == 128 and res["rss"] and {k: v["slots"] for k, v in res["per_lcore"].items()} == \
        {"0": 32, "1": 32, "2": 32, "3": 32}


def test_add_twice_is_an_error_never_a_duplicate(fdirctl, program, switch):
    _init(fdirctl)
    assert fdirctl("laddr", "add", "10.0.0.200")[0] == 0
    before = snapshot(switch.addr, program[0])
    code, res, err = fdirctl("laddr", "add", "10.0.0.201", "10.0.0.200")
    assert code == 4 and "10.0.0.200 is already present" in err and err.count("\n") == 1
    assert snapshot(switch.addr, program[0]) == before
    code, _, err = fdirctl("laddr", "del", "10.0.0.9")
    assert code == 4 and "10.0.0.9 is not present" in err


@pytest.mark.parametrize("fail_at,batch", [(0, 1000), (5, 1000), (9, 1000), (7, 3)])
def test_failed_write_leaves_the_switch_exactly_as_before(fdirctl, program, switch, monkeypatch,
                                                          fail_at, batch):
    _init(fdirctl)
    assert fdirctl("laddr", "add", "10.0.0.200")[0] == 0
    before = snapshot(switch.addr, program[0])
    monkeypatch.setenv("FDIRCTL_INJECT_FAIL", str(fail_at))
    code, res, err = fdirctl("--batch-size", str(batch), "laddr", "add", "10.0.0.201", "fd00::201")
    assert code == 5, err
    assert f"update {fail_at + 1} of 20" in err and "rejected by the switch" in err
    # the switch applies a batch's other updates (CONTINUE_ON_ERROR); all of them are undone
    assert res["update"] == fail_at and res["undone"] == min(20, (fail_at // batch + 1) * batch) - 1
    assert snapshot(switch.addr, program[0]) == before
    monkeypatch.delenv("FDIRCTL_INJECT_FAIL")
    assert fdirctl("laddr", "add", "10.0.0.201", "fd00::201")[0] == 0


def test_hand_made_filters_are_never_touched(fdirctl, program, switch, tmp_path):
    _init(fdirctl)
    # a filter squatting on the key laddr add would use for lcore 1 / TCP
    code, _, err = fdirctl("filter", "add", "--addr", "10.0.0.200", "--port", "1", "--port-mask", "3",
                           "--proto", "tcp", "--lcore", "3")
    assert code == 0, err
    before = snapshot(switch.addr, program[0])
    code, _, err = fdirctl("laddr", "add", "10.0.0.200")
    assert code == 4 and "hand-made filter" in err
    assert snapshot(switch.addr, program[0]) == before
    # a wrong-mask filter at a higher priority coexists with the address and survives its del
    assert fdirctl("filter", "add", "--addr", "10.0.0.201", "--port", "0", "--port-mask", "1",
                   "--proto", "udp", "--lcore", "0", "--priority", "20")[0] == 0
    assert fdirctl("laddr", "add", "10.0.0.201")[0] == 0
    assert fdirctl("laddr", "del", "10.0.0.201")[0] == 0
    code, res, _ = fdirctl("filter", "list")
    assert sorted((r["addr"], r["port_mask"], r["priority"]) for r in res["filters"]) == \
        [("10.0.0.200", 3, 10), ("10.0.0.201", 1, 20)]
    code, _, err = fdirctl("filter", "del", "--addr", "10.0.0.200", "--port", "1", "--port-mask", "3",
                           "--proto", "tcp")
    assert code == 0, err


def test_controller_restart_reads_everything_back(fdirctl, program, switch):
    _init(fdirctl, "--scheme", "range", "--miss", "lcore:2")
    assert fdirctl("laddr", "add", "10.0.0.200", "fd00::7")[0] == 0
    # a brand-new session (as after a restart) derives lcores, scheme and local addresses
    names = P4Names.from_file(program[0])
    with P4RTClient(switch.addr, 1).connect() as c:
        st = read_state(c, names)
    assert st.layout.lcore_ports == (1, 2, 3, 4) and st.layout.scheme == "range"
    assert str(st.layout.miss) == "lcore 2"
    assert {a: ls.slot for a, ls in st.laddrs.items()} == {"10.0.0.200": 0, "fd00::7": 0}
    assert st.check() == []
    code, res, _ = fdirctl("status", "--check")
    assert code == 0 and res["scheme"] == "range" and res["laddrs"] == 2


def _lab(tmp_path, switch, laddrs='["10.0.0.200", "10.0.0.201", "fd00:fd::200"]'):
    p = tmp_path / "lab.toml"
    p.write_text(f'[lab]\nname = "t"\nrun_dir = "{tmp_path}/run"\n[switch]\ngrpc_addr = "{switch.addr}"\n'
                 f'[laddrs]\naddrs = {laddrs}\n')
    return str(p)


def test_switch_restart_then_reconcile_restores_the_same_entries(fdirctl, program, switch, tmp_path):
    lab = _lab(tmp_path, switch)
    code, res, err = fdirctl("--lab", lab, "reconcile")
    assert code == 0 and res["pipeline_pushed"] and res["insert"] > 0, err
    good = snapshot(switch.addr, program[0])
    code, res, _ = fdirctl("--lab", lab, "reconcile")
    assert code == 0 and not res["changed"] and not res["pipeline_pushed"]
    switch.restart()
    code, res, _ = fdirctl("--lab", lab, "status", "--check")
    assert code == 7
    code, res, err = fdirctl("--lab", lab, "reconcile")
    assert code == 0 and res["pipeline_pushed"], err
    assert snapshot(switch.addr, program[0]) == good


def test_reconcile_touches_only_what_differs(fdirctl, program, switch, tmp_path):
    lab = _lab(tmp_path, switch)
    assert fdirctl("--lab", lab, "reconcile")[0] == 0
    good = snapshot(switch.addr, program[0])
    # drift: one local address removed, one extra added, a hand-made filter added
    assert fdirctl("laddr", "del", "10.0.0.201")[0] == 0
    assert fdirctl("laddr", "add", "10.0.0.77")[0] == 0
    assert fdirctl("filter", "add", "--addr", "10.0.0.5", "--port", "80", "--proto", "tcp", "--lcore", "1")[0] == 0
    code, res, _ = fdirctl("--lab", lab, "reconcile", "--check")
    assert code == 7 and res["insert"] == 10 and res["delete"] == 10 and res["modify"] == 0
    code, res, _ = fdirctl("--lab", lab, "reconcile")
    assert code == 0 and (res["insert"], res["delete"], res["modify"]) == (10, 10, 0)
    after = snapshot(switch.addr, program[0])
    hand = [r for r in after if r[3] == b"fdirlab:hand"]
    assert len(hand) == 1 and [r for r in after if r not in hand] == good


def test_bad_input_is_one_line_nonzero_and_changes_nothing(fdirctl, program, switch):
    _init(fdirctl)
    before = snapshot(switch.addr, program[0])
    cases = [
        (["laddr", "add", "10.0.0.300"], 2, "10.0.0.300"),
        (["laddr", "add", "10.0.0.1", "10.0.0.1"], 2, "given twice"),
        (["laddr", "add", "224.0.0.1"], 2, "224.0.0.1"),
        (["filter", "add", "--addr", "10.0.0.1/40", "--port", "1", "--proto", "tcp", "--lcore", "0"], 2, "10.0.0.1/40"),
        (["filter", "add", "--addr", "10.0.0.1", "--port", "5", "--port-mask", "3", "--proto", "tcp",
          "--lcore", "0"], 2, "outside mask"),
        (["filter", "add", "--addr", "10.0.0.1", "--port", "1", "--proto", "tcp", "--lcore", "4"], 2, "--lcore 4"),
        (["filter", "add", "--addr", "2001:db8::1", "--table", "fdir_v4", "--port", "1", "--proto", "tcp",
          "--lcore", "0"], 2, "2001:db8::1"),
        (["init", "--lcores", "0"], 2, "lcore count 0"),
        (["init", "--lcores", "40000"], 2, "40000"),
        (["init", "--lcore-ports", "1,2", "--wire-ports", "2,3", "--force"], 2, "duplicate port 2"),
        (["init", "--miss", "lcore:9"], 2, "lcore 9"),
        (["init"], 4, "already initialised"),
    ]
    for argv, want, word in cases:
        code, res, err = fdirctl(*argv)
        assert (code, err.count("\n")) == (want, 1), (argv, err)
        assert word in err, (argv, err)
    assert snapshot(switch.addr, program[0]) == before
    r = fdirctl.sub("laddr", "add", "fe80::1::2")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "fe80::1::2" in r.stderr


def test_unreachable_switch_exits_3(program, tmp_path):
    import subprocess
    import sys

    from ctl_helpers import REPO, free_port
    r = subprocess.run([sys.executable, "-m", "controller", "--grpc-addr", f"127.0.0.1:{free_port()}",
                        "--timeout", "1", "laddr", "list"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "unreachable" in r.stderr


def test_two_switches_in_one_process(target, program, tmp_path):
    from ctl_fake_p4rt import FakeSwitch
    from ctl_helpers import SwitchProc

    from controller.laddr_ops import Ctx, add_laddrs, init
    from controller.p4rt_client import load_device_config, load_p4info_text
    from controller.rules import Layout
    sws = [FakeSwitch() if target == "fake" else SwitchProc(target, log_dir=tmp_path) for _ in range(2)]
    try:
        p4info, cfg = load_p4info_text(program[0]), load_device_config(program[1])
        names = P4Names(p4info)
        ctxs = [Ctx(P4RTClient(s.addr, 1).connect(), names, p4info=p4info, device_config=cfg) for s in sws]
        init(ctxs[0], Layout(lcore_ports=(1, 2)))
        init(ctxs[1], Layout(lcore_ports=(1, 2, 3, 4, 5, 6, 7, 8)))
        add_laddrs(ctxs[0], ["10.0.0.1"])
        add_laddrs(ctxs[1], ["10.0.0.2", "10.0.0.3"])
        s0, s1 = ctxs[0].state(), ctxs[1].state()
        assert (s0.layout.n_lcores, set(s0.laddrs)) == (2, {"10.0.0.1"})
        assert (s1.layout.n_lcores, set(s1.laddrs)) == (8, {"10.0.0.2", "10.0.0.3"})
        for c in ctxs:
            c.client.close()
    finally:
        for s in sws:
            s.stop()
