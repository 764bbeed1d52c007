"""fdirctl doctor (pure): each DPVS misconfiguration is found, with its fix; a healthy
setup gives no error."""
from controller import rules
from controller.doctor import diagnose
from controller.state import interpret
from fdirlab.lab_config import MissPolicy

LADDR, OTHER = "10.0.0.200", "10.0.0.201"


def layout(n=4, scheme="lsb", mode="fdir"):
    return rules.Layout(lcore_ports=tuple(range(1, n + 1)), wire_ports=(10, 11), scheme=scheme,
                        mode=mode, miss=MissPolicy("rss"), lb_mac="02:fd:00:00:00:01",
                        vips=("10.0.0.100",))


def state(lay, laddrs=(LADDR,), extra=()):
    entries = rules.base_entries(lay)
    for slot, a in enumerate(laddrs):
        entries += rules.laddr_entries(lay, a, slot)
    return interpret(entries + list(extra), rules.miss_entry(lay))


def workers(lay, laddrs=(LADDR,), skip=()):
    out = []
    for i in range(lay.n_lcores):
        info = {"lcore": i, "n_lcores": lay.n_lcores, "scheme": lay.scheme, "mode": lay.mode,
                "port_range": [1025, 65535]}
        pools = [{"laddr": a, "slot": s} for s, a in enumerate(laddrs) if (i, a) not in skip]
        out.append((info, pools))
    return out


def codes(findings, severity="error"):
    return sorted({f.code for f in findings if f.severity == severity})


def test_healthy_setup_has_no_error():
    lay = layout()
    assert codes(diagnose(state(lay), workers(lay))) == []


def test_six_lcores_warn_about_ports_owned_by_nobody():
    lay = layout(6)
    found = diagnose(state(lay), workers(lay))
    assert codes(found) == []
    (w,) = [f for f in found if f.code == "unowned-ports"]
    assert "16128" in w.message and "power-of-two" in w.fix


def test_hand_filter_with_wrong_mask_and_wrong_lcore():
    lay = layout(4)
    # DPVS users' classic: the mask for 8 lcores on a 4-lcore box, pointing lcore 1's
    # residue at lcore 2's port, with a higher priority than the generated filters.
    bad = rules.hand_filter(LADDR, 1, 0x7, "tcp", port=3, priority=100)
    found = diagnose(state(lay, extra=[bad]), workers(lay))
    assert "mask-mismatch" in codes(found)
    steered = [f for f in found if f.code == "pool-steered-elsewhere"]
    assert steered and "lcore 1" in steered[0].message and "port 3 (lcore 2)" in steered[0].message
    assert "tcp" in steered[0].message
    assert all("udp" not in f.message for f in steered)


def test_pool_without_filters_and_filters_without_pool():
    lay = layout(4)
    found = diagnose(state(lay, laddrs=(LADDR,)), workers(lay, laddrs=(LADDR, OTHER), skip={(2, LADDR)}))
    msgs = {f.code: f for f in found}
    assert OTHER in msgs["pool-without-filters"].message
    assert "laddr add" in msgs["pool-without-filters"].fix
    assert "lcores [2]" in msgs["filters-without-pool"].message


def test_worker_with_another_lcore_count():
    lay = layout(4)
    ws = workers(lay)
    ws[3][0]["n_lcores"] = 8
    assert "worker-config" in codes(diagnose(state(lay), ws))


def test_uninitialised_switch():
    found = diagnose(interpret([]), [])
    assert codes(found) == ["not-initialised"]


def test_verdict_does_not_depend_on_read_order():
    """Kind 5: a hand filter at the generated priority overlapping lcore 1's filter; whatever
    order the entries are read in, doctor reports the overlap, never a steering it guessed."""
    import random
    lay = layout(4)
    hand = rules.hand_filter(LADDR, 1025, 0xFFFF, "tcp", port=4, priority=rules.FILTER_PRIORITY)
    base = rules.base_entries(lay) + rules.laddr_entries(lay, LADDR, 0) + [hand]
    verdicts = set()
    for seed in range(6):
        ents = list(base)
        random.Random(seed).shuffle(ents)
        found = diagnose(interpret(ents, rules.miss_entry(lay)), workers(lay))
        verdicts.add(tuple(sorted((f.code, f.message) for f in found if f.severity == "error")))
    assert len(verdicts) == 1
    (errs,) = verdicts
    assert [c for c, _ in errs] == ["equal-priority-overlap"]


def test_overlap_math():
    from controller.overlap import overlaps
    a = rules.hand_filter(LADDR, 1, 0x3, "tcp", 2)
    assert overlaps(a, rules.hand_filter(LADDR, 1, 0x1, "tcp", 3))
    assert not overlaps(a, rules.hand_filter(LADDR, 2, 0x3, "tcp", 3))
    assert not overlaps(a, rules.hand_filter(LADDR, 1, 0x3, "udp", 3))
    assert overlaps(a, rules.hand_filter("10.0.0.0", 0, 0, "tcp", 3, addr_mask=0xFF000000))
    assert not overlaps(a, rules.hand_filter(OTHER, 1, 0x3, "tcp", 2))


def test_miss_policy_that_breaks_new_conns_is_reported_with_the_lab_file_fix():
    """A lab file that says drop (or lcore N) and a switch that does the same: doctor says new
    conns to the VIP fail (or pile on one lcore) and that the fix is in the lab file (finding 5)."""
    import dataclasses

    from fdirlab.lab_config import parse_lab
    for policy, code, sev in (("drop", "miss-drops-new-conns", "error"), ("lcore 2", "miss-pins-new-conns", "warning")):
        lab = parse_lab({"lab": {"miss_policy": policy}})
        lay = dataclasses.replace(rules.Layout.from_lab(lab), wire_ports=(5, 6, 7, 8))
        found = {f.code: f for f in diagnose(state(lay, laddrs=lab.laddrs), workers(lay, laddrs=lab.laddrs), lab)}
        assert code in found and found[code].severity == sev, sorted(found)
        assert "10.0.0.100" in found[code].message and 'miss_policy = "rss"' in found[code].fix
    lay = dataclasses.replace(layout(), miss=MissPolicy("drop"), vips=())       # no VIP: nothing to say
    assert "miss-drops-new-conns" not in {f.code for f in diagnose(state(lay), workers(lay))}


def test_printed_fix_commands_quote_the_lab_path():
    """Finding 18's kind: what fdirctl prints for pasting into a shell quotes the user's lab
    path, so `fdirctl --lab '/tmp/my lab;x/lab.toml' reconcile` is one argument, not two commands."""
    import shlex

    from controller import shellcmd
    lay = layout()
    path = "/tmp/my lab;x/lab.toml"
    found = diagnose(state(lay, laddrs=(LADDR,)), workers(lay, laddrs=(LADDR, OTHER), skip={(2, LADDR)}),
                     lab_path=path)
    fixes = [f.fix for f in found if "fdirctl --lab" in f.fix]
    assert fixes and all("fdirctl --lab '/tmp/my lab;x/lab.toml' " in f for f in fixes), fixes
    assert shlex.split(shellcmd.fdirctl(path, "worker", "restart", "2"))[:3] == ["fdirctl", "--lab", path]
    assert shellcmd.fdirctl(None) == "fdirctl --lab FILE"
