"""A real worker process on a veth pair full-NATs real kernel TCP and UDP exchanges
(IPv4 and IPv6) in both directions. Needs root: network namespaces and AF_PACKET."""
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lcore.control import request

pytestmark = pytest.mark.root

PY = sys.executable
TOOLS = str(Path(__file__).with_name("lc_netns_tools.py"))
LB_MAC = "02:00:00:00:00:fe"
RS_MAC = "02:00:00:00:00:01"


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def wait_for(path: str, proc: subprocess.Popen, what: str) -> None:
    for _ in range(200):
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come up")


@contextlib.contextmanager
def build_lab(tmp_path, n_workers=1, mode="fdir", scheme="lsb", offload=False):
    """Namespace P holds the client (10.0.1.1) and the RS (10.0.2.1) with real sockets; each
    worker i sits alone in namespace Wi on a veth to P. P reaches the VIP through worker
    0's link and the local addresses through the last worker's link, so with two workers
    every reply lands on the "wrong" lcore (what RSS without fdir does)."""
    if os.geteuid() != 0:
        pytest.fail("root test run without root")
    tag = f"{os.getpid() % 100000}"
    p_ns = f"lcp{tag}"
    w_ns = [f"lcw{tag}x{i}" for i in range(n_workers)]
    procs: list[subprocess.Popen] = []
    made: list[str] = []
    try:
        sh("ip", "netns", "add", p_ns)
        made.append(p_ns)
        P = ("ip", "netns", "exec", p_ns)
        sh(*P, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
        sh(*P, "sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0")
        p_ifs = []
        for i, ns in enumerate(w_ns):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            w_if, p_if = f"lw{tag}x{i}", f"lp{tag}x{i}"
            sh("ip", "link", "add", w_if, "type", "veth", "peer", "name", p_if)
            sh("ip", "link", "set", w_if, "netns", ns)
            sh("ip", "link", "set", p_if, "netns", p_ns)
            W = ("ip", "netns", "exec", ns)
            sh(*W, "sysctl", "-qw", f"net.ipv6.conf.{w_if}.disable_ipv6=1")
            sh(*W, "ip", "link", "set", w_if, "address", LB_MAC)
            sh(*W, "ip", "link", "set", w_if, "up")
            sh(*P, "ip", "link", "set", p_if, "address", f"02:00:00:00:00:{i + 1:02x}")
            sh(*P, "ip", "link", "set", p_if, "up")
            # offloads off: a sender's partial checksums and TSO super-frames would cross the wire
            if not offload:
                sh(*P, "ethtool", "-K", p_if, "tx", "off")
            p_ifs.append(p_if)
        front, back = p_ifs[0], p_ifs[-1]
        for a in ("10.0.1.1/24", "10.0.2.1/24"):
            sh(*P, "ip", "addr", "add", a, "dev", front)
        for a in ("2001:db8:1::1/64", "2001:db8:2::1/64"):
            sh(*P, "ip", "addr", "add", a, "dev", front, "nodad")
        for addr, dev in (("10.0.0.100", front), ("10.0.0.200", back),
                          ("2001:db8::100", front), ("2001:db8::200", back)):
            sh(*P, "ip", "route", "add", addr, "dev", dev)
            sh(*P, "ip", "neigh", "replace", addr, "lladdr", LB_MAC, "dev", dev, "nud", "permanent")
        echo = subprocess.Popen([*P, PY, TOOLS, "echo", "10.0.2.1", "8080"], stdout=subprocess.PIPE)
        procs.append(echo)
        echo6 = subprocess.Popen([*P, PY, TOOLS, "echo", "2001:db8:2::1", "8081"], stdout=subprocess.PIPE)
        procs.append(echo6)
        assert echo.stdout.readline().strip() == b"ready"
        assert echo6.stdout.readline().strip() == b"ready"
        ctls, workers = [], []
        for i, ns in enumerate(w_ns):
            ctl = str(tmp_path / f"lcore{i}.sock")
            extra = ["--handoff-dir", str(tmp_path / "handoff")] if mode == "handoff" else []
            worker = subprocess.Popen(
                ["ip", "netns", "exec", ns, PY, "-m", "lcore", "--iface", f"lw{tag}x{i}",
                 "--lcore-id", str(i), "--n-lcores", str(n_workers), "--scheme", scheme,
                 "--mode", mode, "--mac", LB_MAC, "--ctl", ctl, *extra],
                stderr=subprocess.PIPE, cwd=str(Path(__file__).parents[2]))
            procs.append(worker)
            wait_for(ctl, worker, f"worker {i}")
            ctls.append(ctl)
            workers.append(worker)
        yield {"P": P, "ctl": ctls[0], "ctls": ctls, "worker": workers[0], "workers": workers}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def lab(tmp_path):
    with build_lab(tmp_path) as lab:
        yield lab


def ok(ctl, **req):
    reply = request(ctl, req)
    assert reply["ok"], reply
    return reply


def client(lab, kind, src, dst, port, msg, timeout=5, expect_ok=True):
    out = subprocess.run([*lab["P"], PY, TOOLS, kind, src, dst, str(port), msg, str(timeout)],
                         capture_output=True, timeout=20)
    if not expect_ok:
        return out.returncode
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().strip()


def configure(ctls, n_protos=("tcp", "udp"), slot=0):
    for ctl in ctls:
        ok(ctl, op="pool_add", laddr="10.0.0.200", slot=slot)
        ok(ctl, op="pool_add", laddr="2001:db8::200", slot=slot)
        for proto in n_protos:
            ok(ctl, op="service_add", vip="10.0.0.100", vport=80, proto=proto, sched="rr",
               servers=[{"addr": "10.0.2.1", "port": 8080, "weight": 1}], laddrs=["10.0.0.200"])
            ok(ctl, op="service_add", vip="2001:db8::100", vport=80, proto=proto, sched="wrr",
               servers=[{"addr": "2001:db8:2::1", "port": 8081, "weight": 2}], laddrs=["2001:db8::200"])
        ok(ctl, op="neigh_add", addr="10.0.2.1", mac=RS_MAC)
        ok(ctl, op="neigh_add", addr="2001:db8:2::1", mac=RS_MAC)


def test_worker_full_nats_real_tcp_and_udp_both_directions(lab):
    ctl = lab["ctl"]
    info = ok(ctl, op="info")
    assert info["lcore"] == 0 and info["mac"] == LB_MAC and info["mode"] == "fdir"
    configure([ctl])
    assert request(ctl, {"op": "pool_add", "laddr": "10.0.0.200", "slot": 0})["error"].endswith("exists")

    # the RS sees laddr:lport as its peer; the client hears back from the VIP
    reply = client(lab, "tcp", "10.0.1.1", "10.0.0.100", 80, "hello-tcp4")
    assert reply.startswith("peer=10.0.0.200:") and reply.endswith("|hello-tcp4")
    reply = client(lab, "udp", "10.0.1.1", "10.0.0.100", 80, "hello-udp4")
    assert reply.startswith("peer=10.0.0.200:") and reply.endswith("|hello-udp4|from=10.0.0.100:80")
    reply = client(lab, "tcp", "2001:db8:1::1", "2001:db8::100", 80, "hello-tcp6")
    assert reply.startswith("peer=2001:db8::200:") and reply.endswith("|hello-tcp6")
    reply = client(lab, "udp", "2001:db8:1::1", "2001:db8::100", 80, "hello-udp6")
    assert reply.startswith("peer=2001:db8::200:") and reply.endswith("|hello-udp6|from=2001:db8::100:80")

    stats = ok(ctl, op="stats")
    assert stats["reply_hits"] >= 6 and stats["reply_misses"] == 0
    assert stats["conns"]["total"] == 4
    by_state = stats["conns"]["by_state"]
    assert by_state.get("UDP") == 2 and sum(by_state.values()) == 4
    assert set(by_state) <= {"UDP", "TIME_WAIT", "CLOSE_WAIT", "FIN_WAIT", "LAST_ACK", "CLOSE", "ESTABLISHED"}
    assert not {k for k in stats["drops"] if k.startswith(("reply_", "no_", "tx_", "bad_", "trunc"))}
    pools = {p["laddr"]: p for p in ok(ctl, op="pools")["pools"]}
    assert pools["10.0.0.200"]["sa_used"] == 2 and pools["2001:db8::200"]["sa_used"] == 2
    conns = ok(ctl, op="conns", limit=10)
    assert conns["total"] == 4 and {c["vip"] for c in conns["conns"]} == {"10.0.0.100:80", "[2001:db8::100]:80"}
    # pool_del refuses while conns hold ports, force drops them and counts
    err = request(ctl, {"op": "pool_del", "laddr": "10.0.0.200"})
    assert not err["ok"] and "2 conn" in err["error"]
    assert ok(ctl, op="pool_del", laddr="10.0.0.200", force=True)["dropped_conns"] == 2
    assert ok(ctl, op="stats")["conns_dropped"] == 2
    lab["worker"].terminate()
    assert lab["worker"].wait(5) == 0
    assert not os.path.exists(ctl)


def test_handoff_mode_two_workers_replies_handed_to_owner(tmp_path):
    """Every reply arrives on lcore 1; the shared flow table sends it to lcore 0."""
    with build_lab(tmp_path, n_workers=2, mode="handoff", scheme="range") as lab:
        configure(lab["ctls"])
        reply = client(lab, "tcp", "10.0.1.1", "10.0.0.100", 80, "via-handoff")
        assert reply.startswith("peer=10.0.0.200:") and reply.endswith("|via-handoff")
        reply = client(lab, "udp", "2001:db8:1::1", "2001:db8::100", 80, "via-handoff6")
        assert reply.endswith("|via-handoff6|from=2001:db8::100:80")
        s0, s1 = (ok(c, op="stats") for c in lab["ctls"])
        assert s0["conns"]["total"] == 2 and s1["conns"]["total"] == 0
        assert s1["handoff"]["do_handoff"] >= 3 and s1["reply_misses"] == 0
        assert s0["handoff"]["handoff_in"] == s1["handoff"]["do_handoff"]
        assert s0["handoff"]["same_worker"] >= 3 and s0["reply_hits"] >= 3
        assert s1["handoff"]["congestion_drop"] == 0


def test_rss_mode_without_fdir_replies_miss_and_are_counted(tmp_path):
    """Same topology without handoff: lcore 1 holds no conn for lcore 0's lports."""
    with build_lab(tmp_path, n_workers=2, mode="rss", scheme="lsb") as lab:
        configure(lab["ctls"], n_protos=("udp",))
        assert client(lab, "udp", "10.0.1.1", "10.0.0.100", 80, "lost", timeout=1, expect_ok=False) != 0
        s0, s1 = (ok(c, op="stats") for c in lab["ctls"])
        assert s0["conns"]["total"] == 1 and s0["packets"]["out"] == 1
        assert s1["reply_misses"] == 1 and s1["drops"]["reply_other_lcore"] == 1
        assert s1["conns"]["total"] == 0 and s1["packets"]["out"] == 0


def test_sender_checksum_offload_is_completed_by_the_worker(tmp_path):
    """With tx offload on, P's kernel leaves TCP/UDP checksums partial on the veth; the
    worker sees TP_STATUS_CSUMNOTREADY and completes them before rewriting."""
    with build_lab(tmp_path, offload=True) as lab:
        configure([lab["ctl"]])
        assert client(lab, "tcp", "10.0.1.1", "10.0.0.100", 80, "offload4").endswith("|offload4")
        assert client(lab, "udp", "2001:db8:1::1", "2001:db8::100", 80, "offload6").endswith(
            "|offload6|from=2001:db8::100:80")


VLAN_SENDER = """
import sys
from scapy.all import Dot1Q, Ether, IP, UDP, sendp
iface, mac, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = Ether(dst=mac, src="02:00:00:00:00:01")
frames = [base / Dot1Q(vlan=7) / IP(src="10.0.1.1", dst="10.0.0.100") / UDP(sport=6000 + i, dport=80) / b"x"
          for i in range(n)]
frames += [base / Dot1Q(vlan=8) / Dot1Q(vlan=9) / IP(src="10.0.1.1", dst="10.0.0.100") / UDP(dport=80)
           for _ in range(n)]                                  # QinQ: the inner tag stays in the bytes
sendp(frames, iface=iface, verbose=False)
"""


def test_vlan_tagged_frames_are_counted_and_dropped(lab):
    """Real 802.1Q frames on the veth, sent from a packet socket in the client's namespace.
    The receiving kernel moves the outer tag into PACKET_AUXDATA (the frame reaches the
    worker untagged); the worker reads it there, counts `vlan_tagged` and NATs nothing.
    Without the auxdata check the singly-tagged ones would become conns."""
    ctl = lab["ctl"]
    configure([ctl])
    front = f"lp{os.getpid() % 100000}x0"
    before = ok(ctl, op="stats")
    sh(*lab["P"], PY, "-c", VLAN_SENDER, front, LB_MAC, "5")
    stats = ok(ctl, op="stats")
    for _ in range(40):
        if stats["drops"].get("vlan_tagged", 0) >= 10:
            break
        time.sleep(0.05)
        stats = ok(ctl, op="stats")
    assert stats["drops"].get("vlan_tagged", 0) - before["drops"].get("vlan_tagged", 0) == 5 + 5
    assert stats["conns"]["total"] == 0 and stats["conns_new"] == 0
    assert stats["packets"]["out"] == before["packets"]["out"]
    # the same exchange untagged is served: the drops were the tags, nothing else
    reply = client(lab, "udp", "10.0.1.1", "10.0.0.100", 80, "untagged")
    assert reply.endswith("|untagged|from=10.0.0.100:80")
