"""Attaching and detaching a service's local addresses (DPVS ipvsadm --add/--del-laddr):
new conns follow the new list, conns already bound keep working and keep their pool."""
import pytest
from lc_helpers import RS_MAC, frame, make_dp, packed

from lcore.errors import ConfigError

CLIENT, VIP, RS = "10.0.1.1", "10.0.0.100", "10.0.2.1"
OLD, NEW = "10.0.0.200", "10.0.0.202"


def test_detach_and_attach_keep_open_conns_and_move_new_ones():
    dp = make_dp(laddrs=[OLD])
    dp.rx(frame(CLIENT, VIP, 40000, 80, flags="S"), now=0)
    (old_conn,) = list(dp.conns)
    assert old_conn.laddr == packed(OLD)
    dp.pool_add(NEW, 1)
    assert dp.service_laddr(VIP, 80, "tcp", NEW, add=True) == [OLD, NEW]
    assert dp.service_laddr(VIP, 80, "tcp", OLD, add=False) == [NEW]
    # The open conn's reply to OLD still finds it.
    hits = dp.stats.reply_hits
    dp.rx(frame(RS, OLD, 8080, old_conn.lport, flags="SA", smac=RS_MAC), now=1)
    assert dp.stats.reply_hits == hits + 1
    # New conns bind NEW only.
    for sport in range(40001, 40011):
        dp.rx(frame(CLIENT, VIP, sport, 80, flags="S"), now=2)
    used = {pool.laddr: pool.stats().sa_used for pool in dp.pools.values()}
    assert used == {OLD: 1, NEW: 10}
    # OLD cannot be dropped while its conn lives, can once it is gone.
    with pytest.raises(ConfigError, match="1 conn"):
        dp.pool_del(OLD)


def test_bad_service_laddr_requests():
    dp = make_dp(laddrs=[OLD])
    with pytest.raises(ConfigError, match="already"):
        dp.service_laddr(VIP, 80, "tcp", OLD, add=True)
    with pytest.raises(ConfigError, match="last local address"):
        dp.service_laddr(VIP, 80, "tcp", OLD, add=False)
    with pytest.raises(ConfigError, match="not a local address"):
        dp.service_laddr(VIP, 80, "tcp", NEW, add=False)
    with pytest.raises(ConfigError, match="no service"):
        dp.service_laddr(VIP, 81, "tcp", NEW, add=True)
    with pytest.raises(ConfigError, match="IPv6"):
        dp.service_laddr(VIP, 80, "tcp", "2001:db8::1", add=True)


def test_ipv6_services_are_named_in_brackets():
    """Errors name an IPv6 service as [addr]:port (RFC 3986 §3.2.2), as ipvsadm reads it."""
    dp = make_dp(v6=True)
    with pytest.raises(ConfigError, match=r"^service tcp \[2001:db8::100\]:80 exists$"):
        dp.service_add("2001:db8::100", 80, "tcp", "rr", [{"addr": "2001:db8::2:1", "port": 80}], ["2001:db8::200"])
    with pytest.raises(ConfigError, match=r"^no service udp \[2001:db8::100\]:80$"):
        dp.service_del("2001:db8::100", 80, "udp")
