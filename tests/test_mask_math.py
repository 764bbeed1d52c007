"""The DPVS mask math (fdirlab.mask_math), checked against brute force over every port."""
import ipaddress

import pytest

from fdirlab import mask_math as mm
from fdirlab.errors import MaskMathError


@pytest.mark.parametrize("n", range(1, 65))
def test_shift_mask_and_port_base(n):
    m = mm.fdir_mask(n)
    assert 2 ** m.shift >= n
    assert m.shift == 0 or 2 ** (m.shift - 1) < n        # smallest such shift
    assert m.mask == 2 ** m.shift - 1
    assert [m.port_base(i) for i in range(n)] == list(range(n))


def test_known_values():
    assert (mm.fdir_mask(1).shift, mm.fdir_mask(1).mask) == (0, 0)
    assert (mm.fdir_mask(4).shift, mm.fdir_mask(4).mask) == (2, 3)
    assert (mm.fdir_mask(6).shift, mm.fdir_mask(6).mask) == (3, 7)
    assert (mm.fdir_mask(64).shift, mm.fdir_mask(64).mask) == (6, 63)
    assert mm.fdir_mask(mm.MAX_LCORES).shift == 15


@pytest.mark.parametrize("bad", [0, -1, mm.MAX_LCORES + 1, 1 << 16, 2.0, "4", True])
def test_bad_lcore_counts_are_errors_naming_the_value(bad):
    with pytest.raises(MaskMathError) as e:
        mm.fdir_mask(bad)
    assert repr(bad) in str(e.value) or str(bad) in str(e.value)


def test_shift_16_message():
    with pytest.raises(MaskMathError, match="shift 16"):
        mm.fdir_mask(mm.MAX_LCORES + 1)


def test_port_base_out_of_range():
    with pytest.raises(MaskMathError, match="lcore index 4"):
        mm.fdir_mask(4).port_base(4)


@pytest.mark.parametrize("n", list(range(1, 17)) + [24, 31, 32, 33, 48, 64])
def test_owned_ports_match_brute_force(n):
    m = mm.fdir_mask(n)
    low, high = mm.DEFAULT_LOW, mm.DEFAULT_HIGH
    seen = set()
    for lcore in range(n):
        ports = mm.owned_ports(n, lcore)
        expect = [p for p in range(low, high + 1) if p & m.mask == lcore]
        assert list(ports) == expect
        assert mm.owned_count(n, lcore) == len(expect)
        assert seen.isdisjoint(ports)
        seen.update(ports)
    nobody = list(mm.unowned_ports(n))
    assert nobody == [p for p in range(low, high + 1) if (p & m.mask) >= n]
    assert len(seen) + len(nobody) == high - low + 1
    assert mm.unowned_count(n) == len(nobody)
    if n & (n - 1) == 0:
        assert nobody == []


def test_six_lcores_lose_a_quarter_of_the_ports():
    # 6 lcores need mask 7: residues 6 and 7 belong to nobody.
    assert list(mm.unowned_residues(6)) == [6, 7]
    # 1024..65535 is 8064 blocks of 8 ports: each residue has 8064 ports there.
    assert mm.unowned_count(6) == 2 * 8064
    assert mm.owned_count(6, 0) == 8063           # port 1024 (residue 0) is below low
    assert mm.owned_count(6, 1) == 8064


def test_custom_port_range():
    assert list(mm.owned_ports(4, 2, 1000, 1012)) == [1002, 1006, 1010]
    with pytest.raises(MaskMathError, match="port range 2000..1000"):
        mm.owned_ports(4, 0, 2000, 1000)
    with pytest.raises(MaskMathError, match="port range 0..10"):
        mm.owned_ports(4, 0, 0, 10)


@pytest.mark.parametrize("laddr", ["10.0.0.200", "2001:db8::c8"])
@pytest.mark.parametrize("n", [1, 2, 4, 6, 8])
def test_filters_for_one_laddr(laddr, n):
    addr = ipaddress.ip_address(laddr)
    fs = mm.filters_for_laddr(laddr, n)
    assert len(fs) == 2 * n
    m = mm.fdir_mask(n)
    for f in fs:
        assert f.family == addr.version
        assert f.table == ("fdir_v4" if addr.version == 4 else "fdir_v6")
        assert f.addr == int(addr) and f.addr_mask == (1 << addr.max_prefixlen) - 1
        assert f.port_mask == m.mask and f.port_value == f.lcore
        assert f.proto in (6, 17)
    assert {(f.lcore, f.proto) for f in fs} == {(i, p) for i in range(n) for p in (6, 17)}
    # Every owned port of every lcore is steered by exactly its own filter, per protocol.
    for lcore in range(n):
        for port in list(mm.owned_ports(n, lcore))[:50]:
            hits = [f for f in fs if f.matches(int(addr), port, 6)]
            assert [f.lcore for f in hits] == [lcore]
    # Ports nobody owns match no filter.
    for port in list(mm.unowned_ports(n))[:50]:
        assert not [f for f in fs if f.matches(int(addr), port, 17)]
    # Another address matches nothing.
    other = int(addr) + 1
    assert not [f for f in fs if f.matches(other, 1025, 6)]


def test_filters_bad_input():
    with pytest.raises(MaskMathError, match="'10.0.0.300'"):
        mm.filters_for_laddr("10.0.0.300", 4)
    with pytest.raises(MaskMathError, match="'sctp'"):
        mm.filters_for_laddr("10.0.0.1", 4, ("sctp",))
