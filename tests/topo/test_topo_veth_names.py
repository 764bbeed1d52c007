"""veth names of the switch test rig are unique across processes and calls and fit in an
interface name (review finding 13: pid 1234 call 56 and pid 12345 call 6 both gave s123456p1)."""
import itertools

import pytest

from topo.rig.veth import MAX_IFNAME, veth_names, veth_tag

PID_MAX = 4194304           # the largest pid_max Linux allows (PID_MAX_LIMIT on 64-bit)


def test_the_reported_collision_is_gone():
    assert veth_names(veth_tag(1234, 56), 1) != veth_names(veth_tag(12345, 6), 1)


def test_names_are_unique_and_fit():
    pids = [1, 9, 10, 35, 36, 1234, 12345, 99999, 100000, 123456, PID_MAX - 1, PID_MAX]
    seen: dict[str, tuple[int, int, int]] = {}
    for pid, call, port in itertools.product(pids, [0, 1, 6, 56, 999, 9999], [1, 8, 99]):
        for name in veth_names(veth_tag(pid, call), port):
            assert len(name) <= MAX_IFNAME == 15, name
            assert "." not in name and "/" not in name       # sysctl net.ipv6.conf.<name> reads '.' as '/'
            assert seen.setdefault(name, (pid, call, port)) == (pid, call, port), name


def test_a_name_past_ifnamsiz_is_refused_naming_it():
    tag = veth_tag(PID_MAX - 1, 99999)
    assert int(tag.split("_")[0], 36) == PID_MAX - 1 and len(tag) == 11
    with pytest.raises(ValueError, match=rf"^veth name 's{tag}p100' is 16 characters, past the 15 "):
        veth_names(tag, 100)
