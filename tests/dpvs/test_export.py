"""fdirctl export: golden renderings for ethtool and DPDK testpmd checked against their
documented grammar, and the tc rendering checked by the Linux kernel itself (root): applied
to a veth in software mode, one frame per residue, per-filter hit counts from `tc -s`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from controller import export as X
from controller.rules import fdir_entries
from fdirlab.partition import Partition

REPO = Path(__file__).resolve().parents[2]
LADDR, LADDR6 = "10.0.0.200", "fd00:fd::200"


def filters(n: int, rx_queues: tuple[int, ...] = (), addrs=(LADDR,)) -> list[X.Filter]:
    ports = tuple(range(1, n + 1))
    entries = [e for a in addrs for e in fdir_entries(Partition("lsb", n), ports, a)]
    return X.rows_from_state(entries, ports, rx_queues)


# --- golden: ethtool --------------------------------------------------------------------

# ethtool(8) -N: flow-type tcp4|udp4|tcp6|udp6, dst-ip ADDR [m MASK], dst-port N [m N], action N,
# loc N
ETHTOOL_RE = re.compile(
    r"^ethtool -N (\S+) flow-type (tcp4|udp4|tcp6|udp6) dst-ip (\S+)(?: m (\S+))? "
    r"dst-port (\d+) m (0x[0-9a-f]{4}) action (\d+) loc (\d+)$"
)


def test_ethtool_golden_mask_is_bits_to_ignore():
    got = X.render(filters(4, (3, 2, 1, 0)), "ethtool", "eth2")
    assert got[:4] == [
        "ethtool -N eth2 flow-type tcp4 dst-ip 10.0.0.200 dst-port 0 m 0xfffc action 3 loc 0",
        "ethtool -N eth2 flow-type tcp4 dst-ip 10.0.0.200 dst-port 1 m 0xfffc action 2 loc 1",
        "ethtool -N eth2 flow-type tcp4 dst-ip 10.0.0.200 dst-port 2 m 0xfffc action 1 loc 2",
        "ethtool -N eth2 flow-type tcp4 dst-ip 10.0.0.200 dst-port 3 m 0xfffc action 0 loc 3",
    ]
    assert len(got) == 8 and got[4].startswith("ethtool -N eth2 flow-type udp4 ")


def test_ethtool_semantics_match_the_filters():
    """Decode each command as ethtool's rxclass.c does (kernel mask = ~m) and check that it
    matches exactly the ports the lcore owns, for n = 1, 6, 8 and IPv6."""
    for n in (1, 6, 8):
        fs = filters(n, addrs=(LADDR, LADDR6))
        part = Partition("lsb", n)
        for line in X.render(fs, "ethtool"):
            m = ETHTOOL_RE.match(line)
            assert m, line
            dev, ft, ip, ipm, port, pm, q, _loc = m.groups()
            assert ipm is None and ft[-1] == ("6" if ":" in ip else "4")
            kmask = ~int(pm, 16) & 0xFFFF
            owned = {p for p in range(1025, 1025 + 64) if p & kmask == int(port)}
            assert owned == {p for p in range(1025, 1025 + 64) if part.owner(p, 0) == int(q)}, line


# --- golden: DPDK testpmd flow create -----------------------------------------------------

# testpmd: flow create {port} [group G] [priority L] [ingress] pattern {item} [/ {item}]... / end
#          actions {action} / end
TESTPMD_RE = re.compile(
    r"^flow create (\d+) priority 0 ingress pattern eth / (ipv4|ipv6) dst is (\S+) / (tcp|udp) "
    r"dst spec (\d+) dst mask (0x[0-9a-f]{4})( / fuzzy thresh is 4294967295)? / end "
    r"actions queue index (\d+) / end$"
)


def test_rte_flow_golden():
    fs = filters(2, (5, 7), addrs=(LADDR6,))
    assert X.render(fs, "rte-flow", port_id=1) == [
        "flow create 1 priority 0 ingress pattern eth / ipv6 dst is fd00:fd::200 / tcp dst spec 0 "
        "dst mask 0x0001 / end actions queue index 5 / end",
        "flow create 1 priority 0 ingress pattern eth / ipv6 dst is fd00:fd::200 / tcp dst spec 1 "
        "dst mask 0x0001 / end actions queue index 7 / end",
        "flow create 1 priority 0 ingress pattern eth / ipv6 dst is fd00:fd::200 / udp dst spec 0 "
        "dst mask 0x0001 / end actions queue index 5 / end",
        "flow create 1 priority 0 ingress pattern eth / ipv6 dst is fd00:fd::200 / udp dst spec 1 "
        "dst mask 0x0001 / end actions queue index 7 / end",
    ]
    for line in X.render(filters(8), "rte-flow", fuzzy=True):
        m = TESTPMD_RE.match(line)
        assert m and m.group(7) and int(m.group(5)) == int(m.group(8)), line


def test_tc_golden_and_unowned_port_is_a_comment():
    fs = filters(2)
    bad = X.Filter(LADDR, 0xFFFFFFFF, "tcp", 1, 7, None, None, 1, "hand")
    got = X.render(fs + [bad], "tc-flower", "eth3")
    assert got[0] == "tc qdisc add dev eth3 clsact"
    assert got[1] == (
        "tc filter add dev eth3 ingress protocol ip prio 1 flower ip_proto tcp "
        "dst_ip 10.0.0.200 dst_port 0/0x0001 skip_sw action skbedit queue_mapping 0"
    )
    assert got[-1].startswith("# hand: tcp 10.0.0.200 port 1/0x0007 steers to a switch port")
    assert X.render(fs, "tc-u32", "eth3")[1] == (
        "tc filter add dev eth3 ingress protocol ip prio 1 u32 match ip dst 10.0.0.200/32 "
        "match ip dport 0 0x0001 match ip protocol 6 0xff skip_sw action skbedit queue_mapping 0"
    )
    with pytest.raises(ValueError, match="export format 'xdp'"):
        X.render(fs, "xdp")


# --- priority order: every format carries the switch's winner -------------------------------

N_PRI, RXQ_PRI = 4, (3, 2, 1, 0)


def overlapping() -> list[X.Filter]:
    """The default lab's laddr filters (P4 priority 10, 4 lcores on queues 3..0), a hand-made
    catch-all for 10.0.0.0/24 to lcore 3 at priority 1 (finding 2: it must lose wherever a
    laddr filter matches) and a hand-made exact port 2050 to lcore 1 at priority 100 (it must
    win over the laddr filter of that port). Given in an order unlike the match order."""
    from controller.rules import hand_filter

    ports = tuple(range(1, N_PRI + 1))
    entries = [
        hand_filter("10.0.0.0", 0, 0, "tcp", ports[3], 1, 0xFFFFFF00),
        *fdir_entries(Partition("lsb", N_PRI), ports, LADDR),
        hand_filter(LADDR, 2050, 0xFFFF, "tcp", ports[1], 100),
    ]
    return X.rows_from_state(entries, ports, RXQ_PRI)


def _matches(f: X.Filter, addr: str, proto: str, port: int) -> bool:
    import ipaddress

    a = int(ipaddress.ip_address(addr))
    return (f.version == ipaddress.ip_address(addr).version and a & f.addr_mask == int(
        ipaddress.ip_address(f.addr)) and f.proto == proto and port & f.port_mask == f.port)


def switch_queue(fs: list[X.Filter], addr: str, proto: str, port: int) -> int | None:
    """The queue of the filter the switch picks: the highest P4Runtime priority among those
    that match (P4Runtime spec §9.1); None: no filter matches."""
    hit = [f for f in fs if _matches(f, addr, proto, port)]
    return max(hit, key=lambda f: f.priority).queue if hit else None


PRI_FRAMES = [(a, "tcp", p) for a in (LADDR, "10.0.0.7") for p in range(2048, 2056)]


def test_every_format_carries_the_switch_priority_order():
    """Decode each format's own order (ethtool: lowest loc first; tc: lowest prio first;
    rte_flow: lowest priority level first, undefined between equal levels) and check its
    winner per frame is the switch's."""
    fs = overlapping()
    assert [f.priority for f in fs] == sorted((f.priority for f in fs), reverse=True)
    eth = [ETHTOOL_RE.match(x) for x in X.render(fs, "ethtool", "eth2")]
    assert all(eth) and [int(m.group(8)) for m in eth] == list(range(len(fs)))
    rte = X.render(fs, "rte-flow")
    levels = [int(re.match(r"flow create 0 priority (\d+) ingress ", x).group(1)) for x in rte]
    assert levels == [0] + [1] * 8 + [2], rte    # 100 -> 0, the laddr filters (10) -> 1, 1 -> 2
    tc = X.render(fs, "tc-flower", "eth2")[1:]
    prios = [int(re.search(r" prio (\d+) ", x).group(1)) for x in tc]
    assert prios == list(range(1, len(fs) + 1))
    u32 = X.render(fs, "tc-u32", "eth2")[1:]
    assert [int(re.search(r" prio (\d+) u32 ", x).group(1)) for x in u32] == prios
    for addr, proto, port in PRI_FRAMES:
        want = switch_queue(fs, addr, proto, port)
        for order in (prios, [int(m.group(8)) for m in eth], levels):
            hit = [(o, f) for o, f in zip(order, fs, strict=True) if _matches(f, addr, proto, port)]
            best = min((o for o, _ in hit), default=None)
            won = {f.queue for o, f in hit if o == best}
            assert won == ({want} if want is not None else set()), (addr, port, order, won, want)
    # the finding's case: port 2048 of the laddr goes to lcore 0 (queue 3), the catch-all to
    # queue 0, port 2050 to lcore 1 (queue 2) by the priority-100 filter
    assert [switch_queue(fs, LADDR, "tcp", p) for p in (2048, 2049, 2050)] == [3, 2, 2]
    assert switch_queue(fs, "10.0.0.7", "tcp", 2048) == 0


def test_fdirctl_dpvs_conf_command(tmp_path):
    conf = REPO / "tests/dpvs/confs/six-workers.conf"
    out = tmp_path / "lab.toml"
    r = subprocess.run(
        [sys.executable, "-m", "controller", "dpvs-conf", str(conf), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    assert "6 lcores, steering fdir" in r.stdout and r.stderr.count("\n") == 1
    assert "not model" in r.stderr and "timer_defs" in r.stderr
    from fdirlab.lab_config import load_lab

    assert load_lab(out).n_lcores == 6
    bad = tmp_path / "bad.conf"
    bad.write_text(conf.read_text().replace("pool_hash_size   16", "pool_hash_size   0"))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller",
            "dpvs-conf",
            str(bad),
            "-o",
            str(tmp_path / "no.toml"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 2 and not (tmp_path / "no.toml").exists()
    assert re.fullmatch(
        rf"fdirctl: {re.escape(str(bad))}:\d+: pool_hash_size: 0: out of range 1-128\n", r.stderr
    ), r.stderr


# --- the kernel checks the tc rendering ------------------------------------------------------

NS = "fdl-i14-export"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ip", "netns", "exec", NS, *cmd], capture_output=True, text=True, check=check
    )


def software(line: str, queue_dev: str, side: str) -> list[str]:
    """The hardware command in software mode: skip_hw instead of skip_sw, and the rx queue
    (skbedit queue_mapping on receive is hardware-only in Linux) as a redirect to one veth
    per queue."""
    assert " skip_sw " in line and " action skbedit queue_mapping " in line
    head, _, q = line.rpartition(" action skbedit queue_mapping ")
    return (
        head.replace(" skip_sw", " skip_hw")
        + f" action mirred egress redirect dev {queue_dev}{q}{side}"
    ).split()


def kernel_formats() -> list[str]:
    """The tc renderings this kernel has a classifier for (cls_flower, cls_u32)."""
    out = []
    for fmt, probe in (("tc-flower", ["flower"]), ("tc-u32", ["u32", "match", "u32", "0", "0"])):
        r = sh(
            "tc",
            "filter",
            "add",
            "dev",
            "x0",
            "ingress",
            "prio",
            "9",
            *probe,
            "skip_hw",
            "action",
            "mirred",
            "egress",
            "redirect",
            "dev",
            "x1",
            check=False,
        )
        if r.returncode == 0:
            out.append(fmt)
            sh("tc", "filter", "del", "dev", "x0", "ingress", "prio", "9")
    return out


@pytest.fixture
def netns():
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1")
        sh("tc", "qdisc", "add", "dev", "x0", "clsact")
        yield NS
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


def _frames(n_lcores: int) -> list[tuple[str, str, int]]:
    """(addr, proto, port) per residue 0..mask of each address and protocol."""
    mask = Partition("lsb", n_lcores).mask
    return [
        (a, p, 2048 + r) for a in (LADDR, LADDR6) for p in ("tcp", "udp") for r in range(mask + 1)
    ]


@pytest.mark.root
def test_tc_rendering_is_checked_by_the_kernel(netns):
    """6 lcores on queues 5..0: every residue 0..5 hits exactly its filter and lands on its
    lcore's queue; residues 6 and 7 (owned by nobody) hit no filter."""
    n, rxq = 6, (5, 4, 3, 2, 1, 0)
    fs = filters(n, rxq, addrs=(LADDR, LADDR6))
    fmts = kernel_formats()
    assert fmts, "the kernel has neither cls_flower nor cls_u32"
    # Debian's iproute2 parses every rendered line as exported (skip_sw, skbedit): whatever
    # refuses it on a veth (no offload; or a kernel built without the classifier) is the
    # kernel, never tc's own parser
    for fmt in ("tc-flower", "tc-u32"):
        for line in X.render(fs, fmt, "x0")[1:]:
            r = sh(*line.split(), check=False)
            sh("tc", "filter", "del", "dev", "x0", "ingress", check=False)
            parse_errors = ("What is", "Usage", "Illegal", "bad ", "Unknown", "invalid")
            assert not any(w in r.stderr for w in parse_errors), (fmt, line, r.stderr)
    for q in range(n):
        sh("ip", "link", "add", f"q{q}a", "type", "veth", "peer", "name", f"q{q}b")
        sh("ip", "link", "set", f"q{q}a", "up")
        sh("ip", "link", "set", f"q{q}b", "up")
    sh("ip", "link", "set", "x0", "up")
    sh("ip", "link", "set", "x1", "up")
    frames = _frames(n)
    hexes = []
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    for a, p, port in frames:
        ip = IPv6(src="fd00:fd::2:1", dst=a) if ":" in a else IP(src="10.0.2.1", dst=a)
        l4 = TCP(sport=8080, dport=port, flags="SA") if p == "tcp" else UDP(sport=8080, dport=port)
        hexes.append(bytes(Ether(src="02:fd:03:00:00:01", dst="02:fd:00:00:00:01") / ip / l4).hex())
    for fmt in fmts:
        lines = X.render(fs, fmt, "x0")
        assert lines[0] == "tc qdisc add dev x0 clsact"
        sh("tc", "filter", "del", "dev", "x0", "ingress", check=False)
        for line in lines[1:]:
            r = sh(*software(line, "q", "a"), check=False)
            assert r.returncode == 0, f"{fmt}: the kernel refused {line!r}: {r.stderr.strip()}"
        before = {
            q: int(sh("cat", f"/sys/class/net/q{q}b/statistics/rx_packets").stdout)
            for q in range(n)
        }
        send = (
            "import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
            "s.bind(('x1',0))\n"
            "for h in sys.argv[1:]: s.send(bytes.fromhex(h))\n"
        )
        sh(sys.executable, "-c", send, *hexes)
        hits = _hits(sh("tc", "-s", "filter", "show", "dev", "x0", "ingress").stdout)
        # every filter was hit by exactly one frame: its own residue's
        assert sorted(hits) == list(range(1, len(fs) + 1)), hits
        assert all(v == 1 for v in hits.values()), (fmt, hits)
        after = {
            q: int(sh("cat", f"/sys/class/net/q{q}b/statistics/rx_packets").stdout)
            for q in range(n)
        }
        got = {q: after[q] - before[q] for q in range(n)}
        # lcore i (queue rxq[i]) got its residue i: one frame per address and protocol
        assert got == {q: 4 for q in range(n)}, (fmt, got)
        print(f"{fmt}: {len(fs)} filters, {len(frames)} frames, residues 6 and 7 matched none")


def _hits(text: str) -> dict[int, int]:
    """pref -> packets of its action, from `tc -s filter show` (flower or u32 layout)."""
    out: dict[int, int] = {}
    pref = None
    for line in text.splitlines():
        m = re.match(r"filter protocol \S+ pref (\d+) ", line)
        if m:
            pref = int(m.group(1))
            continue
        m = re.search(r"Sent \d+ bytes (\d+) pkt", line)
        if m and pref is not None:
            out[pref] = out.get(pref, 0) + int(m.group(1))
    return out


@pytest.mark.root
def test_tc_priority_order_is_checked_by_the_kernel(netns):
    """Overlapping filters of different P4 priorities (overlapping()): applied by the kernel
    from the tc rendering, each frame lands on the queue of the filter the switch picks (the
    highest P4 priority that matches), frame by frame: the priority-1 catch-all only where
    no laddr filter matches, the priority-100 port 2050 over its laddr filter."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    fs = overlapping()
    fmts = kernel_formats()
    assert fmts, "the kernel has neither cls_flower nor cls_u32"
    for q in range(N_PRI):
        sh("ip", "link", "add", f"q{q}a", "type", "veth", "peer", "name", f"q{q}b")
        sh("ip", "link", "set", f"q{q}a", "up")
        sh("ip", "link", "set", f"q{q}b", "up")
    sh("ip", "link", "set", "x0", "up")
    sh("ip", "link", "set", "x1", "up")
    send = ("import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
            "s.bind(('x1',0))\ns.send(bytes.fromhex(sys.argv[1]))\n")
    rx = " ".join(f"/sys/class/net/q{q}b/statistics/rx_packets" for q in range(N_PRI))

    def counts() -> list[int]:
        return [int(x) for x in sh("cat", *rx.split()).stdout.split()]

    for fmt in fmts:
        sh("tc", "filter", "del", "dev", "x0", "ingress", check=False)
        for line in X.render(fs, fmt, "x0")[1:]:
            r = sh(*software(line, "q", "a"), check=False)
            assert r.returncode == 0, f"{fmt}: the kernel refused {line!r}: {r.stderr.strip()}"
        got, want = {}, {}
        for addr, _, port in PRI_FRAMES:
            frame = Ether(src="02:fd:03:00:00:01", dst="02:fd:00:00:00:01") / IP(src="10.0.2.1", dst=addr) / \
                TCP(sport=8080, dport=port, flags="SA")
            before = counts()
            sh(sys.executable, "-c", send, bytes(frame).hex())
            moved = [q for q, (b, a) in enumerate(zip(before, counts(), strict=True)) if a != b]
            got[(addr, port)] = moved
            want[(addr, port)] = [switch_queue(fs, addr, "tcp", port)]
        assert got == want, fmt
        print(f"{fmt}: {len(PRI_FRAMES)} frames, each on the switch's winner's queue")
