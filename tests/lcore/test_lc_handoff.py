"""Handoff mode without root: two datapaths in one process sharing a handoff directory,
the flow table (insert/lookup/backward-shift delete), rings and congestion drops."""
import random

import pytest
from lc_helpers import LB_MAC_B, RS_MAC, frame, packed

from lcore.datapath import Datapath, flow_key
from lcore.errors import HandoffError
from lcore.handoff import FlowTable, HandoffNode, Ring

CLIENT, VIP, LADDR, RS = "10.0.1.1", "10.0.0.100", "10.0.0.200", "10.0.2.1"


def two_workers(tmp_path, depth=64):
    dps = []
    for i in range(2):
        node = HandoffNode(str(tmp_path), i, 2, depth, nslots=1024)
        dp = Datapath(i, 2, "range", LB_MAC_B, handoff=node)
        dp.pool_add(LADDR, 0)
        dp.service_add(VIP, 80, "udp", "rr", [{"addr": RS, "port": 8080}], [LADDR])
        dp.neigh.add(RS, RS_MAC)
        dps.append(dp)
    return dps


def test_reply_on_wrong_worker_is_handed_to_owner(tmp_path):
    a, b = two_workers(tmp_path)
    a.rx(frame(CLIENT, VIP, 5000, 80, "udp"), now=0)        # RSS picked lcore 0
    (conn,) = list(a.conns)
    assert a.tx and a.stats.same_worker == 1
    a.tx.clear()
    # the reply lands on lcore 1 (RSS only): it looks up the shared table and hands off
    b.rx(frame(RS, LADDR, 8080, conn.lport, "udp", smac=RS_MAC), now=0.1)
    assert b.stats.do_handoff == 1 and not b.tx and b.stats.reply_misses == 0
    for raw, value in a.handoff.drain():
        assert value == (0 << 32) | conn.index
        a.handoff_rx(raw, now=0.2)
    assert a.stats.handoff_in == 1 and a.stats.reply_hits == 1 and len(a.tx) == 1
    # client packets of the same flow landing on lcore 1 go the same way
    b.rx(frame(CLIENT, VIP, 5000, 80, "udp"), now=0.3)
    assert b.stats.do_handoff == 2 and len(b.conns) == 0


def test_congestion_drop_is_counted_when_ring_full(tmp_path):
    a, b = two_workers(tmp_path, depth=4)
    a.rx(frame(CLIENT, VIP, 5000, 80, "udp"), now=0)
    (conn,) = list(a.conns)
    for _ in range(6):
        b.rx(frame(RS, LADDR, 8080, conn.lport, "udp", smac=RS_MAC), now=0.1)
    assert (b.stats.do_handoff, b.stats.congestion_drop) == (4, 2)
    assert b.stats.drops["congestion_drop"] == 2
    assert len(a.handoff.drain()) == 4
    b.rx(frame(RS, LADDR, 8080, conn.lport, "udp", smac=RS_MAC), now=0.2)
    assert b.stats.do_handoff == 5                  # room again once drained


def test_expiry_removes_shared_flows(tmp_path):
    a, b = two_workers(tmp_path)
    a.rx(frame(CLIENT, VIP, 5000, 80, "udp"), now=0)
    assert a.handoff.table.count == 2
    a.tick(1000)
    assert a.handoff.table.count == 0
    b.rx(frame(RS, LADDR, 8080, 1024, "udp", smac=RS_MAC), now=1001)
    assert b.stats.do_handoff == 0 and b.stats.reply_misses == 1


def test_flow_table_random_ops_match_a_dict(tmp_path):
    lock = open(tmp_path / "l", "w")  # noqa: SIM115 - held for the whole test
    t = FlowTable(str(tmp_path / "t"), lock.fileno(), 256)
    rng = random.Random(3)
    ref: dict[bytes, int] = {}
    keys = [flow_key(17, packed(f"10.0.{i // 250}.{i % 250}"), i, packed("10.0.0.1"), 80) for i in range(400)]
    for _ in range(20000):
        k = rng.choice(keys)
        if rng.random() < 0.5:
            ok = t.insert(k, v := rng.randrange(1 << 40))
            if ok:
                ref[k] = v
            else:
                assert len(ref) + 1 > 256 * 0.9
        else:
            assert t.remove(k) == (ref.pop(k, None) is not None)
        if rng.random() < 0.05:
            for kk in keys:
                assert t.lookup(kk) == ref.get(kk)
    assert t.count == len(ref)


def test_purge_owner_and_mismatched_config(tmp_path):
    n0 = HandoffNode(str(tmp_path), 0, 2, 8, nslots=64)
    n0.insert(b"a" * 40, (1 << 32) | 5)
    n0.insert(b"b" * 40, (0 << 32) | 6)
    HandoffNode(str(tmp_path), 1, 2, 8, nslots=64)          # lcore 1 restarts: its flows go
    assert n0.lookup(b"a" * 40) is None and n0.lookup(b"b" * 40) == 6
    with pytest.raises(HandoffError, match="same handoff settings"):
        HandoffNode(str(tmp_path), 1, 2, 8, nslots=128)


def test_ring_wraps_and_keeps_order(tmp_path):
    r = Ring(str(tmp_path / "r"), 3)
    got = []
    for i in range(10):
        assert r.push(bytes([i]) * (i + 1), i)
        if i % 2:
            got += r.pop_all(10)
    got += r.pop_all(10)
    assert [v for _, v in got] == list(range(10))
    assert all(bytes(f) == bytes([v]) * (v + 1) for f, v in got)


def test_ring_length_is_never_negative_on_a_torn_tail(tmp_path):
    """A tail read mid-write by the producer can look smaller than head: empty, not < 0."""
    from lcore.handoff import _U64, RING_HEAD_OFF, RING_TAIL_OFF, Ring
    r = Ring(str(tmp_path / "torn"), 64)
    _U64.pack_into(r.mm, RING_HEAD_OFF, 0x100)
    _U64.pack_into(r.mm, RING_TAIL_OFF, 0x0)      # 0x100 caught with its low byte written first
    assert len(r) == 0 and r.pop_all(8) == []
