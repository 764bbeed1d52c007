"""sa_pool: capacity from the shared partition predicate, first-free order, bucket choice,
miss counting, no leaks over fetch/release cycles, memory far below DPVS's layout."""
import random

import pytest
from lc_helpers import packed

from fdirlab import mask_math
from fdirlab.partition import Partition
from lcore.errors import ConfigError, PoolError
from lcore.sa_pool import SaPool, bucket_index, dpvs_pool_bytes, jhash_32b

RS = packed("10.0.2.1")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 8, 64])
def test_capacity_per_lcore_matches_mask_math(n):
    part = Partition("lsb", n)
    total = 0
    for lcore in range(n):
        pool = SaPool("10.0.0.200", 0, lcore, part)
        assert pool.capacity == mask_math.owned_count(n, lcore)
        assert list(pool.ports) == list(mask_math.owned_ports(n, lcore))
        total += pool.capacity
        s = pool.stats()
        assert (s.sa_used, s.sa_free, s.sa_miss, s.buckets) == (0, 16 * pool.capacity, 0, 0)
    # what no lcore owns is exactly the mask math's unowned capacity
    assert total + mask_math.unowned_count(n) == 65535 - 1025 + 1
    if n in (3, 6):
        assert mask_math.unowned_count(n) > 0


@pytest.mark.parametrize("scheme", ["lsb", "range", "laddr"])
@pytest.mark.parametrize("n", [3, 8])
def test_fetched_ports_satisfy_the_shared_predicate(scheme, n):
    part = Partition(scheme, n)
    for slot in range(2):
        for lcore in range(n):
            pool = SaPool("10.0.0.200", slot, lcore, part)
            assert pool.capacity == len(part.owned_ports(lcore, slot))
            for _ in range(min(50, pool.capacity)):
                port = pool.fetch(RS, 8080)
                assert part.owns(lcore, port, slot)
            if pool.capacity == 0:
                assert pool.fetch(RS, 8080) is None


def test_first_free_order_and_release_to_tail():
    pool = SaPool("10.0.0.200", 0, 1, Partition("lsb", 4), 1025, 1100)
    got = [pool.fetch(RS, 80) for _ in range(5)]
    assert got == [1025, 1029, 1033, 1037, 1041]          # ascending, port & 3 == 1
    pool.release(RS, 80, 1029)
    pool.release(RS, 80, 1025)
    bucket = pool.buckets[pool.bucket_for(RS, 80)]
    order = bucket.free_order()
    assert order[:2] == [1045, 1049] and order[-2:] == [1029, 1025]
    # never-used ports first, then the released ones in release order
    rest = [pool.fetch(RS, 80) for _ in range(pool.capacity - 3)]
    assert rest[-2:] == [1029, 1025]


def test_bucket_choice_v4_is_dpvs_formula():
    for addr, port in [("10.0.2.1", 8080), ("192.168.255.254", 1), ("10.0.0.7", 65535)]:
        a = packed(addr)
        assert bucket_index(a, port, 16) == (((int.from_bytes(a, "big") & 0xFFFF) + port) % 16)
    pool = SaPool("10.0.0.200", 0, 0, Partition("lsb", 1))
    pool.fetch(packed("10.0.2.1"), 8080)          # (0x0201 + 8080) % 16 == 1
    assert [i for i, b in enumerate(pool.buckets) if b is not None] == [(0x0201 + 8080) % 16]


def test_bucket_choice_v6_is_dpdk_jhash():
    # reference values from lookup3 hashword() compiled in C (rte_jhash_32b, initval AF_INET6)
    ref = {("2001:db8::2:1", 8080): 1630699218, ("2001:db8::2:2", 80): 928956959,
           ("fd00::1", 443): 3103184649, ("::1", 1): 1731333060}
    for (addr, port), h in ref.items():
        a = packed(addr)
        words = [((port & 0xFF) << 8) | (port >> 8)] + [int.from_bytes(a[i:i + 4], "little") for i in (0, 4, 8, 12)]
        assert jhash_32b(words, 10) == h
        assert bucket_index(a, port, 16) == h % 16
    # different RSs spread over buckets
    spread = {bucket_index(packed(f"2001:db8::2:{i:x}"), 8080, 16) for i in range(64)}
    assert len(spread) >= 12


def test_miss_counted_per_bucket_and_other_buckets_unaffected():
    pool = SaPool("10.0.0.200", 0, 0, Partition("lsb", 2), 1025, 1040)
    assert pool.capacity == 8                       # even ports 1026..1040
    for _ in range(8):
        assert pool.fetch(RS, 80) is not None
    assert pool.fetch(RS, 80) is None
    assert pool.fetch(RS, 80) is None
    other = packed("10.0.2.2")
    assert pool.bucket_for(other, 80) != pool.bucket_for(RS, 80)
    assert pool.fetch(other, 80) == 1026           # same lport, another RS: allowed
    s = pool.stats()
    assert (s.sa_used, s.sa_miss, s.buckets) == (9, 2, 2)
    assert s.sa_free == 16 * 8 - 9


def test_nothing_leaked_after_fetch_release_cycles():
    rng = random.Random(7)
    pool = SaPool("10.0.0.200", 0, 3, Partition("lsb", 8), 1025, 3000)
    dests = [(packed(f"10.0.2.{i}"), 8080 + i) for i in range(1, 6)]
    held: list[tuple[bytes, int, int]] = []
    for _ in range(20000):
        if held and rng.random() < 0.5:
            d, p, lport = held.pop(rng.randrange(len(held)))
            pool.release(d, p, lport)
        else:
            d, p = rng.choice(dests)
            lport = pool.fetch(d, p)
            if lport is not None:
                assert (d, p, lport) not in held
                held.append((d, p, lport))
    for d, p, lport in held:
        pool.release(d, p, lport)
    s = pool.stats()
    assert s.sa_used == 0 and s.sa_free == 16 * pool.capacity
    for b in pool.buckets:
        if b is not None:
            assert sorted(b.free_order()) == list(pool.ports)
            assert len(b.ring) <= pool.capacity


def test_release_errors():
    pool = SaPool("10.0.0.200", 0, 0, Partition("lsb", 2), 1025, 1100)
    port = pool.fetch(RS, 80)
    pool.release(RS, 80, port)
    with pytest.raises(PoolError, match="not in use"):
        pool.release(RS, 80, port)
    with pytest.raises(PoolError, match="does not belong"):
        pool.release(RS, 80, 1027)                 # odd: lcore 1's port
    with pytest.raises(PoolError):
        pool.release(packed("10.9.9.9"), 1, 1026)   # bucket never created


@pytest.mark.parametrize("bad", [{"laddr": "10.0.0.300"}, {"slot": -1}, {"hash_size": 0}, {"hash_size": 256}])
def test_bad_arguments_name_the_value(bad):
    args = {"laddr": "10.0.0.200", "slot": 0, "hash_size": 16} | bad
    with pytest.raises(ConfigError) as exc:
        SaPool(args["laddr"], args["slot"], 0, Partition("lsb", 2), hash_size=args["hash_size"])
    assert str(list(bad.values())[0]) in str(exc.value)


def test_memory_at_most_one_fiftieth_of_dpvs_for_n8():
    """Every bucket in use and every released port in its ring (the worst case)."""
    pool = SaPool("10.0.0.200", 0, 0, Partition("lsb", 8))
    rs = [packed(f"10.0.2.{i}") for i in range(64)]
    while pool.stats().buckets < 16:
        for d in rs:
            pool.fetch(d, 8080)
    for b in pool.buckets:
        taken = [b.fetch() for _ in range(b.free)]
        for port in taken:
            b.release(port)
    assert pool.nbytes() * 50 <= dpvs_pool_bytes(16)
