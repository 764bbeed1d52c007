"""Deriving lcores and local addresses back from entries (controller restart), and the pure
reconcile diff: only managed entries change, hand-made ones block instead of being touched."""
from controller.entries import COOKIE_HAND, Entry, cookie_laddr
from controller.reconcile import diff_entries
from controller.rules import Layout, desired_entries, hand_filter, laddr_entries, miss_entry
from controller.state import interpret
from fdirlab.lab_config import MissPolicy, default_lab

LAY = Layout(lcore_ports=(1, 2, 3, 4), wire_ports=(5, 6), scheme="lsb", mode="fdir",
             miss=MissPolicy("lcore", 2), lb_mac="02:fd:00:00:00:01", vips=("10.0.0.100",),
             l2=(("02:fd:02:00:00:01", 5),))
LADDRS = [("10.0.0.200", 0), ("2001:db8::1", 1)]


def test_interpret_rebuilds_layout_and_laddrs():
    ents = desired_entries(LAY, LADDRS)
    hand = hand_filter("10.0.0.200", 1, 3, "tcp", 3, priority=20)
    st = interpret(ents + [hand], miss_entry(LAY))
    assert st.layout == LAY
    assert set(st.laddrs) == {"10.0.0.200", "2001:db8::1"}
    assert st.laddrs["2001:db8::1"].slot == 1
    assert st.hand == [hand]
    assert st.check() == []


def test_interpret_flags_a_half_installed_laddr():
    ents = desired_entries(LAY, LADDRS)
    victim = next(e for e in ents if e.owner[1] == "10.0.0.200" and e.table == "fdir_v4")
    st = interpret([e for e in ents if e != victim], miss_entry(LAY))
    probs = st.check()
    assert len(probs) == 1 and "10.0.0.200" in probs[0] and "1 of 10 entries missing" in probs[0]


def test_interpret_without_init_has_no_layout():
    st = interpret([hand_filter("10.0.0.1", 0, 0, "udp", 1)])
    assert st.layout is None and len(st.hand) == 1


def test_diff_touches_only_what_differs():
    lab = default_lab()
    lay = Layout.from_lab(lab)
    want = desired_entries(lay, [(a, i) for i, a in enumerate(lab.laddrs)])
    assert diff_entries(want, want, miss_entry(lay), miss_entry(lay)).empty
    # one filter lost, one with a wrong port, one stale laddr, one hand-made entry
    lost = want[0]
    wrong = want[1]
    wrong_now = Entry(wrong.table, wrong.match, wrong.action, (("port", 99),), wrong.priority, wrong.cookie)
    stale = laddr_entries(lay, "10.0.0.222", 5)
    hand = hand_filter("10.0.0.200", 7, 0xFFFF, "udp", 2, priority=50)
    current = [wrong_now] + want[2:] + stale + [hand]
    d = diff_entries(current, want, miss_entry(lay), miss_entry(lay))
    assert d.insert == [lost]
    assert d.modify == [(wrong_now, wrong)]
    assert sorted(d.delete, key=str) == sorted(stale, key=str)
    assert hand not in d.delete and not d.blocked


def test_diff_blocks_on_a_hand_made_entry_holding_a_wanted_key():
    lay = Layout.from_lab(default_lab())
    want = laddr_entries(lay, "10.0.0.200", 0)
    squatter = Entry(want[0].table, want[0].match, "steer", (("port", 4),), want[0].priority, COOKIE_HAND)
    d = diff_entries([squatter], want)
    assert d.blocked == [(want[0], squatter)]
    assert squatter not in d.delete and want[0] not in d.insert


def test_diff_sets_the_miss_policy():
    lay = Layout.from_lab(default_lab())
    now = Entry("lb_miss_policy", (), "drop_miss", default=True)
    d = diff_entries([], [], now, miss_entry(lay))
    assert d.modify == [(now, miss_entry(lay))]


def test_cookie_round_trip_ipv6():
    e = laddr_entries(LAY, "2001:db8::1", 3)[0]
    assert e.cookie == cookie_laddr("2001:db8::1", 3)
    assert e.owner == ("laddr", "2001:db8::1", {"slot": "3"})
