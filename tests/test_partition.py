"""Port-partition schemes: filters (port_matches) and pools (owned_ports) agree on every port."""
import pytest

from fdirlab import mask_math as mm
from fdirlab.errors import PartitionError
from fdirlab.partition import Partition, range_to_prefixes


def _covered(prefixes, port):
    return any(port & mask == value & mask for value, mask in prefixes)


def _expand(value, mask):
    """All 16-bit ports p with p & mask == value, without testing all 65536 one by one."""
    free = ~mask & 0xFFFF
    if free & (free + 1) == 0:                 # prefix: the free bits are the low ones
        return range(value & mask, (value & mask) + free + 1)
    if mask & (mask + 1) == 0:                 # low-bit mask (lsb scheme)
        return range(value & mask, 65536, mask + 1)
    return [p for p in range(65536) if p & mask == value & mask]


@pytest.mark.parametrize("lo,hi", [(0, 0), (1024, 17150), (1, 65535), (0, 65535), (5, 5), (1000, 1003), (7, 4000)])
def test_range_to_prefixes_is_exact(lo, hi):
    prefixes = range_to_prefixes(lo, hi)
    covered = [p for p in range(0, 65536) if _covered(prefixes, p)]
    assert covered == list(range(lo, hi + 1))


@pytest.mark.parametrize("scheme", ["lsb", "range", "laddr"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 8])
def test_filters_and_pools_agree_on_every_port(scheme, n):
    part = Partition(scheme, n)
    for slot in (0, 5):
        owners_by_pool, steered_to = {}, {}
        for lcore in range(n):
            for p in part.owned_ports(lcore, slot):
                assert p not in owners_by_pool
                owners_by_pool[p] = lcore
            for value, mask in part.port_matches(lcore, slot):
                for p in _expand(value, mask):
                    assert p not in steered_to, f"port {p} steered twice"
                    steered_to[p] = lcore
        for p in range(mm.DEFAULT_LOW, mm.DEFAULT_HIGH + 1):
            owner = part.owner(p, slot)
            assert steered_to.get(p) == owner, (scheme, n, slot, p)
            assert owners_by_pool.get(p) == owner


def test_range_scheme_follows_vpp_formula():
    part = Partition("range", 4)
    size = (0xFFFF - 1024) // 4
    assert part.owner(1024) == 0 and part.owner(1024 + size) == 1
    assert part.owner(1024 + 4 * size) is None          # past the last slice
    assert part.owner(80) is None


def test_laddr_scheme_gives_whole_address_to_one_lcore():
    part = Partition("laddr", 4)
    assert [part.owner(2000, slot) for slot in range(6)] == [0, 1, 2, 3, 0, 1]
    assert part.port_matches(2, 2) == [(0, 0)] and part.port_matches(1, 2) == []
    assert len(part.owned_ports(1, 1)) == mm.DEFAULT_HIGH - mm.DEFAULT_LOW + 1


def test_filter_counts():
    assert Partition("lsb", 8).filter_count(1) == 16
    assert Partition("laddr", 8).filter_count(8) == 16
    assert Partition("range", 8).filter_count(1) > 16     # slices need several prefixes


def test_bad_scheme_and_lcore():
    with pytest.raises(PartitionError, match="'hash'"):
        Partition("hash", 4)
    with pytest.raises(PartitionError, match="lcore index 9"):
        Partition("lsb", 4).port_matches(9)
