"""Conn table through the datapath: both-direction lookup, TCP states and DPVS timeouts,
UDP timeouts, expiry releasing the lport, exhaustion and recovery, reply-miss reasons."""
import pytest
from lc_helpers import RS_MAC, frame, make_dp

from lcore.errors import ConfigError
from lcore.tcp_state import ACK, FIN, RST, SYN, TcpState, Timeouts, next_state

CLIENT, VIP, LADDR, RS = "10.0.1.1", "10.0.0.100", "10.0.0.200", "10.0.2.1"


def only_conn(dp):
    (conn,) = list(dp.conns)
    return conn


def reply(dp, lport, flags, now):
    dp.rx(frame(RS, LADDR, 8080, lport, flags=flags, smac=RS_MAC), now=now)


def test_tcp_lifecycle_states_and_timeouts():
    dp = make_dp()
    to = Timeouts()
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=0)
    c = only_conn(dp)
    assert c.state == TcpState.SYN_RECV and c.expires == to.syn_recv
    reply(dp, c.lport, "SA", 1)
    assert c.state == TcpState.SYN_RECV
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="A"), now=2)
    assert c.state == TcpState.ESTABLISHED and c.expires == 2 + to.established
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="FA"), now=3)
    assert c.state == TcpState.CLOSE_WAIT and c.expires == 3 + to.close_wait
    reply(dp, c.lport, "FA", 4)
    assert c.state == TcpState.TIME_WAIT and c.expires == 4 + to.time_wait
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="A"), now=5)
    assert c.state == TcpState.TIME_WAIT
    assert dp.conns.by_state() == {"TIME_WAIT": 1}
    assert dp.tick(5 + to.time_wait - 0.01) == 0
    assert dp.tick(5 + to.time_wait) == 1
    assert len(dp.conns) == 0 and dp.pools_view()[0]["sa_used"] == 0
    assert dp.stats.conns_expired == 1
    # the reply now finds nothing: counted, dropped
    reply(dp, c.lport, "A", 20)
    assert dp.stats.reply_misses == 1 and dp.stats.drops["reply_no_conn"] == 1


def test_rst_closes_and_state_table_rows():
    assert next_state(TcpState.ESTABLISHED, RST | ACK, True) == TcpState.CLOSE
    assert next_state(TcpState.NONE, SYN, True) == TcpState.SYN_RECV
    assert next_state(TcpState.ESTABLISHED, FIN | ACK, False) == TcpState.FIN_WAIT
    assert next_state(TcpState.ESTABLISHED, 0x08, True) == TcpState.ESTABLISHED   # PSH only
    dp = make_dp()
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=0)
    c = only_conn(dp)
    reply(dp, c.lport, "R", 1)
    assert c.state == TcpState.CLOSE and c.expires == 1 + Timeouts().close


def test_only_syn_creates_tcp_conn():
    dp = make_dp()
    for flags in ("A", "SA", "R", "F", "PA"):
        dp.rx(frame(CLIENT, VIP, 40000, 80, flags=flags), now=0)
    assert len(dp.conns) == 0 and dp.stats.drops["tcp_not_syn"] == 5 and not dp.tx


def test_activity_refreshes_and_configurable_timeouts():
    dp = make_dp(proto="udp", timeouts=Timeouts(udp=10))
    dp.rx(frame(CLIENT, VIP, 5000, 80, "udp"), now=0)
    c = only_conn(dp)
    assert c.state is None and c.expires == 10
    dp.rx(frame(CLIENT, VIP, 5000, 80, "udp"), now=8)
    assert dp.tick(12) == 0 and len(dp.conns) == 1        # refreshed at 8 -> 18
    reply(dp, c.lport, "", 15) if False else dp.rx(frame(RS, LADDR, 8080, c.lport, "udp", smac=RS_MAC), now=15)
    assert dp.stats.reply_hits == 1
    assert dp.tick(24.9) == 0 and dp.tick(25) == 1


def test_exhaustion_fails_cleanly_and_recovers_after_expiry():
    dp = make_dp(proto="udp", port_range=(1025, 1028), timeouts=Timeouts(udp=5))
    for cport in range(5000, 5004):
        dp.rx(frame(CLIENT, VIP, cport, 80, "udp"), now=0)
    assert len(dp.conns) == 4 and len(dp.tx) == 4
    dp.rx(frame(CLIENT, VIP, 5004, 80, "udp"), now=1)
    assert dp.stats.no_local_port == 1 and dp.stats.drops["no_local_port"] == 1
    assert dp.pools_view()[0]["sa_miss"] == 1 and len(dp.conns) == 4
    dp.tick(5)
    assert len(dp.conns) == 0
    dp.rx(frame(CLIENT, VIP, 5004, 80, "udp"), now=6)
    assert len(dp.conns) == 1 and dp.stats.no_local_port == 1


def test_same_lport_for_different_rs_and_both_indexes():
    servers = [{"addr": "10.0.2.1", "port": 8080, "weight": 1}, {"addr": "10.0.2.2", "port": 8080, "weight": 1}]
    dp = make_dp(proto="udp", servers=servers)
    dp.rx(frame(CLIENT, VIP, 5000, 80, "udp"), now=0)
    dp.rx(frame(CLIENT, VIP, 5001, 80, "udp"), now=0)
    a, b = sorted(dp.conns, key=lambda c: c.cport)
    assert a.raddr != b.raddr and a.lport == b.lport == 1025   # one lport, two RSs
    for c in (a, b):
        assert dp.conns.by_in[c.in_key()] is c and dp.conns.by_out[c.out_key()] is c


@pytest.mark.parametrize("n,lcore,port,reason", [
    (4, 1, 1025 + 3, "reply_other_lcore"),   # 1028 & 3 == 0: lcore 0's port
    (3, 1, 1027, "reply_unowned_port"),      # 1027 & 3 == 3: nobody's with 3 lcores
    (4, 1, 1025, "reply_no_conn"),           # ours, but no conn
])
def test_reply_miss_reasons(n, lcore, port, reason):
    dp = make_dp(n_lcores=n, lcore_id=lcore)
    reply(dp, port, "SA", 0)
    assert dp.stats.reply_misses == 1 and dict(dp.stats.drops) == {reason: 1}


def test_pool_del_refuses_then_force_drops_and_counts():
    dp = make_dp(proto="udp")
    for cport in (5000, 5001):
        dp.rx(frame(CLIENT, VIP, cport, 80, "udp"), now=0)
    with pytest.raises(ConfigError, match="used by 2 conn"):
        dp.pool_del(LADDR)
    assert dp.pool_del(LADDR, force=True) == 2
    assert len(dp.conns) == 0 and dp.stats.conns_dropped == 2 and not dp.pools
    # the service's laddr has no pool now: new conns fail visibly
    dp.rx(frame(CLIENT, VIP, 5002, 80, "udp"), now=1)
    assert dp.stats.no_local_port == 1
    reply(dp, 1025, "", 1)
    assert dp.stats.drops["reply_no_pool"] == 1


def test_shorter_timeout_after_a_long_one_expires_on_time():
    # ESTABLISHED (90 s) far in the future, then FIN/FIN -> TIME_WAIT (7 s): the conn must
    # go 7 s later, not when the 90 s deadline comes round (a local address drains on it).
    dp = make_dp()
    to = Timeouts()
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=0)
    c = only_conn(dp)
    reply(dp, c.lport, "SA", 1)
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="A"), now=2)
    assert dp.tick(2 + to.syn_recv + 1) == 0         # the SYN_RECV deadline passes: re-armed
    t = 2 + to.syn_recv + 2
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="FA"), now=t)
    reply(dp, c.lport, "FA", t)
    assert c.state == TcpState.TIME_WAIT
    assert dp.tick(t + to.time_wait) == 1
    assert len(dp.conns) == 0


@pytest.mark.parametrize("closing", ["TIME_WAIT", "CLOSE", "ESTABLISHED"])
def test_syn_on_a_closing_conn_reuses_it_and_is_counted(closing):
    """A client that reuses its source port while the LB still holds a conn for that tuple
    (closing, or never seen to close) gets the old conn back (DPVS dp_vs_in finds it; no new
    conn, same RS and lport): conns_new stays 1, conns_reused counts it, and the SYN goes out
    to the same RS."""
    dp = make_dp()
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=0)
    c = only_conn(dp)
    reply(dp, c.lport, "SA", 1)
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="A"), now=2)
    if closing == "TIME_WAIT":
        dp.rx(frame(CLIENT, VIP, 40000, 80, flags="FA"), now=3)
        reply(dp, c.lport, "FA", 4)
    elif closing == "CLOSE":
        dp.rx(frame(CLIENT, VIP, 40000, 80, flags="R"), now=3)
    assert c.state.name == closing
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=5)
    assert (dp.stats.conns_new, dp.stats.conns_reused) == (1, 1)
    # IPVS's state table: a SYN moves TIME_WAIT/CLOSE to SYN_RECV, and keeps ESTABLISHED
    assert only_conn(dp) is c and c.dest.total_conns == 1
    assert c.state == (TcpState.ESTABLISHED if closing == "ESTABLISHED" else TcpState.SYN_RECV)
    out = dp.tx[-1]
    assert out[30:34] == bytes([10, 0, 2, 1]) and int.from_bytes(out[36:38], "big") == 8080
    assert dp.stats.as_dict()["conns_reused"] == 1


def test_a_syn_retransmitted_in_the_handshake_is_not_a_reuse():
    dp = make_dp()
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=0)
    reply(dp, only_conn(dp).lport, "SA", 0.5)
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=1)
    assert (dp.stats.conns_new, dp.stats.conns_reused, len(dp.tx)) == (1, 0, 3)
