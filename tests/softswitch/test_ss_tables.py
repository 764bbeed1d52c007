"""Table lookup semantics without a compiler: exact, lpm (longest wins), ternary priorities with
one hash per distinct mask, range bounds, optional wildcards, insert/modify/delete bookkeeping.
"""
from __future__ import annotations

import json

import pytest

from softswitch import json_model
from softswitch.errors import SoftswitchError
from softswitch.tables import Entry, Table

PROG = json_model.load(json.dumps({
    "header_types": [{"name": "m_t", "id": 0, "fields": [["k1", 32, False], ["k2", 16, False],
                                                         ["k3", 8, False]]}],
    "headers": [{"name": "m", "id": 0, "header_type": "m_t", "metadata": True}],
}))


def table(*kinds: str, size: int = 100) -> Table:
    names = ["k1", "k2", "k3"]
    spec = {"name": "t", "id": 0, "type": "simple", "max_size": size, "with_counters": False,
            "key": [{"match_type": k, "target": ["m", names[i]], "mask": None} for i, k in enumerate(kinds)],
            "action_ids": [0, 1], "actions": ["a0", "a1"],
            "default_entry": {"action_id": 0, "action_const": False, "action_data": []}}
    t = Table(spec, PROG)
    t.bind({0: lambda F, P: None, 1: lambda F, P: None})
    return t


def test_exact_insert_lookup_delete():
    t = table("exact", "exact")
    e = Entry(((5, 0xFFFFFFFF), (6, 0xFFFF)), 0, 1, [9])
    t.insert(e)
    assert t.exact.get((5, 6)) is e
    with pytest.raises(SoftswitchError, match="already exists"):
        t.insert(Entry(((5, 0xFFFFFFFF), (6, 0xFFFF)), 0, 1, []))
    t.delete(e.matches, 0)
    assert t.exact.get((5, 6)) is None
    with pytest.raises(SoftswitchError, match="not found"):
        t.delete(e.matches, 0)


def test_lpm_longest_prefix_wins_regardless_of_insert_order():
    t = table("lpm")
    m8, m16, m24 = (0xFF000000, 0xFFFF0000, 0xFFFFFF00)
    for val, mask in ((0x0A010000, m16), (0x0A010200, m24), (0x0A000000, m8)):
        t.insert(Entry(((val, mask),), 0, 1, [mask]))
    assert t.lookup((0x0A010203,)).params == [m24]
    assert t.lookup((0x0A01FF03,)).params == [m16]
    assert t.lookup((0x0AFF0000,)).params == [m8]
    assert t.lookup((0x0B000000,)) is None


def test_ternary_priority_across_masks_and_within_one_mask():
    t = table("ternary", "ternary")
    t.insert(Entry(((0x0A000000, 0xFF000000), (0, 0)), 10, 1, ["wide"]))
    t.insert(Entry(((0x0A000001, 0xFFFFFFFF), (80, 0xFFFF)), 5, 1, ["narrow"]))
    t.insert(Entry(((0x0A000001, 0xFFFFFFFF), (80, 0xFFFF)), 20, 1, ["narrow-high"]))
    assert t.lookup((0x0A000001, 80)).params == ["narrow-high"]
    t.delete(((0x0A000001, 0xFFFFFFFF), (80, 0xFFFF)), 20)
    assert t.lookup((0x0A000001, 80)).params == ["wide"]     # priority 10 beats 5
    assert t.lookup((0x0B000001, 80)) is None


def test_many_entries_one_mask_is_one_group():
    t = table("ternary", "ternary", size=5000)
    for i in range(1000):
        t.insert(Entry(((0x0A000000 + i, 0xFFFFFFFF), (i % 4, 3)), 1, 1, [i]))
    assert len(t._order) == 1
    assert t.lookup((0x0A000000 + 777, 1025)).params == [777]   # 1025 & 3 == 1 == 777 % 4
    assert t.lookup((0x0A000000 + 777, 1024)) is None


def test_range_and_optional():
    t = table("range", "optional")
    t.insert(Entry(((10, 20), (7, 0xFFFF)), 1, 1, ["r1"]))
    t.insert(Entry(((15, 30), (0, 0)), 2, 1, ["r2"]))         # optional omitted: wildcard
    assert t.lookup((12, 7)).params == ["r1"]
    assert t.lookup((16, 7)).params == ["r2"]
    assert t.lookup((25, 9)).params == ["r2"]
    assert t.lookup((31, 7)) is None


def test_table_full_and_modify_keeps_counters():
    t = table("exact", size=2)
    t.with_counters = True
    a = Entry(((1, 0xFFFFFFFF),), 0, 0, [])
    t.insert(a)
    t.insert(Entry(((2, 0xFFFFFFFF),), 0, 0, []))
    with pytest.raises(SoftswitchError, match="full"):
        t.insert(Entry(((3, 0xFFFFFFFF),), 0, 0, []))
    a.counter[0] = 5
    t.modify(Entry(((1, 0xFFFFFFFF),), 0, 1, [4], cookie=b"c"))
    assert t.exact[(1,)].counter[0] == 5 and t.exact[(1,)].action_id == 1
