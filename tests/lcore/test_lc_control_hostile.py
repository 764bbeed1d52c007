"""Hostile input on a worker's control socket: wrong-typed and deeply nested requests are
answered with an error naming the field; many idle connections and a client that never
reads its replies neither stop the worker nor grow it without bound (issue 11)."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_lc_control import handler

from lcore.control import MAX_CLIENTS, OUT_HIGH, ControlServer, request
from lcore.control_schema import MAX_DEPTH, depth

ROOT = str(Path(__file__).parents[2])
SVC = {"op": "service_add", "vip": "10.0.0.100", "vport": 81, "proto": "tcp", "sched": "rr",
       "servers": [{"addr": "10.0.2.1", "port": 8080, "weight": 1}], "laddrs": ["10.0.0.200"]}


def nested(n: int) -> str:
    return "[" * n + "]" * n


# (request line, words the one-line error must contain)
HOSTILE = [
    ('{"op": ["info"]}', ["field op", "['info']", "string"]),
    ('{"op": {"x": 1}}', ["field op"]),
    ('{"op": null}', ["field op"]),
    ('{"op": 7}', ["field op", "7"]),
    ('{"op": "pool_add", "laddr": ["10.0.0.201"]}', ["pool_add", "field laddr"]),
    ('{"op": "pool_add", "laddr": {"a": 1}}', ["field laddr"]),
    ('{"op": "pool_add", "laddr": "10.0.0.201", "slot": 1.5}', ["field slot", "1.5"]),
    ('{"op": "pool_add", "laddr": "10.0.0.201", "slot": true}', ["field slot", "True"]),
    ('{"op": "pool_del", "laddr": 10}', ["field laddr"]),
    (json.dumps({**SVC, "proto": ["tcp"]}), ["service_add", "field proto", "['tcp']"]),
    (json.dumps({**SVC, "vport": "81"}), ["field vport", "'81'"]),
    (json.dumps({**SVC, "vport": 70000}), ["field vport", "70000"]),
    (json.dumps({**SVC, "sched": {"rr": 1}}), ["field sched"]),
    (json.dumps({**SVC, "servers": {"addr": "10.0.2.1"}}), ["field servers"]),
    (json.dumps({**SVC, "servers": ["10.0.2.1"]}), ["field servers[0]"]),
    (json.dumps({**SVC, "servers": [{"addr": ["10.0.2.1"], "port": 1}]}), ["field servers[0].addr"]),
    (json.dumps({**SVC, "servers": [{"addr": "10.0.2.1", "port": 1, "colour": 2}]}),
     ["servers[0]", "colour"]),
    (json.dumps({**SVC, "laddrs": [["10.0.0.200"]]}), ["field laddrs[0]"]),
    (json.dumps({**SVC, "laddrs": "10.0.0.200"}), ["field laddrs"]),
    (json.dumps({**SVC, "max_trails": "many"}), ["field max_trails"]),
    ('{"op": "service_del", "vip": "10.0.0.100", "vport": 80, "proto": 6}', ["field proto", "6"]),
    ('{"op": "neigh_add", "addr": "10.0.2.9", "mac": 12}', ["field mac"]),
    ('{"op": "neigh_del", "addr": [1]}', ["field addr"]),
    ('{"op": "conns", "limit": "10"}', ["field limit", "'10'"]),
    ('{"op": "conns", "limit": [10]}', ["field limit"]),
    ('{"op": "set_timeouts", "udp": "7"}', ["field udp", "'7'"]),
    ('{"op": "set_timeouts", "udp": false}', ["field udp"]),
    ('{"op": "pool_add"}', ["pool_add", "'laddr'"]),
    ('{"op": "info", "laddr": [[[[[1]]]]]}', ["nested deeper than 4"]),
    ('{"op": "info", "x": ' + nested(50) + "}", ["nested deeper than 4"]),
    ('{"op": "info", "x": ' + nested(100000) + "}", ["nested deeper than 4"]),
    (nested(200000), ["nested deeper than 4"]),
    ('"just a string"', ["JSON object", "str"]),
    ("[1, 2]", ["JSON object", "list"]),
    ("{\"op\": \"info\"", ["bad JSON"]),
    ("\xff\xfe", ["bad JSON"]),
]


def _state(h):
    return [h.handle({"op": op}) for op in ("pools", "services", "neighs", "stats")]


@pytest.mark.parametrize("line,words", HOSTILE, ids=[f"h{i}" for i in range(len(HOSTILE))])
def test_hostile_request_names_the_field_and_changes_nothing(line, words):
    h = handler()
    before = _state(h)
    reply = h.handle_line(line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line)
    assert reply["ok"] is False, reply
    assert "\n" not in reply["error"] and len(reply["error"]) < 400
    for w in words:
        assert w in reply["error"], (w, reply["error"])
    assert _state(h) == before
    assert h.handle({"op": "info"})["ok"] is True


def test_depth_is_counted_iteratively():
    assert depth(1) == 0 and depth({}) == 1 and depth({"a": [{"b": 1}]}) == 3
    assert depth(json.loads(nested(900))) == MAX_DEPTH + 1     # stops counting past the bound


def test_an_internal_error_is_a_reply_not_a_crash():
    h = handler()

    def boom(req):
        raise TypeError("unhashable type: 'list'")
    h.op_stats = boom
    reply = h.handle({"op": "stats"})
    assert reply == {"ok": False, "error": "internal error: TypeError: unhashable type: 'list'"}
    assert h.handle({"op": "info"})["ok"]


def test_server_evicts_the_longest_idle_connection(tmp_path):
    clock = [0.0]
    srv = ControlServer(str(tmp_path / "c.sock"), handler(), max_clients=3, now=lambda: clock[0])
    dropped = []
    srv.on_drop = dropped.append
    try:
        socks, conns = [], []
        for i in range(3):
            clock[0] = float(i)
            s = socket.socket(socket.AF_UNIX)
            s.connect(srv.path)
            socks.append(s)
            conns.append(srv.accept())
        clock[0] = 10.0
        socks[0].sendall(b'{"op":"info"}\n')        # conn 0 is active again: conn 1 is idlest
        assert srv.on_readable(conns[0]) and json.loads(socks[0].recv(65536))["ok"]
        s = socket.socket(socket.AF_UNIX)
        s.connect(srv.path)
        socks.append(s)
        new = srv.accept()
        assert dropped == [conns[1]] and len(srv.clients) == 3 and new in srv.clients
        assert socks[1].recv(10) == b""                 # the evicted client sees EOF
        assert srv.view()["evicted"] == 1 and srv.view()["clients"] == 3
        for s in socks:
            s.close()
    finally:
        srv.close()


def test_server_stops_reading_a_client_that_does_not_read(tmp_path):
    srv = ControlServer(str(tmp_path / "c.sock"), handler())
    try:
        c = socket.socket(socket.AF_UNIX)
        c.connect(srv.path)
        conn = srv.accept()
        c.setblocking(False)
        sent = 0
        req = b'{"op":"stats"}\n' * 4000                  # ~60 KB of requests, ~1 KB replies each
        for _ in range(50):
            try:
                sent += c.send(req)
            except BlockingIOError:
                pass
            srv.on_readable(conn)
        assert not srv.wants_read(conn) and srv.wants_write(conn)
        # replies queued for it stay near OUT_HIGH; the rest waits unread in the kernel
        held = srv.buffered(conn)
        assert held < OUT_HIGH + 64 * 1024 + (1 << 20), held
        # it reads: every request it sent is answered, in order
        c.setblocking(True)
        c.settimeout(5)
        got = b""
        while got.count(b"\n") < sent // 15:
            srv.flush(conn)
            srv.on_readable(conn)
            got += c.recv(1 << 20)
        assert got.count(b"\n") == sent // 15
        assert all(json.loads(x)["ok"] for x in got.splitlines()[:3])
        c.close()
    finally:
        srv.close()


# --- a real worker process ------------------------------------------------------------------

def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def worker(tmp_path):
    """A real worker in its own network namespace, on that namespace's loopback."""
    if os.geteuid() != 0:
        pytest.fail("root test run without root")
    ns = f"lch{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    ctl = str(tmp_path / "w.sock")
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "lcore", "--iface", "lo",
                             "--lcore-id", "0", "--n-lcores", "1", "--scheme", "lsb", "--mode", "fdir",
                             "--mac", "02:00:00:00:00:fe",
                             "--ctl", ctl], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if os.path.exists(ctl) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()
        yield proc, ctl
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def patient_request(ctl, req):
    """request(), waiting while the listen backlog is full (the worker accepts in bursts)."""
    for _ in range(200):
        try:
            return request(ctl, req)
        except BlockingIOError:
            time.sleep(0.05)
    raise AssertionError("the worker never accepted a new control connection")


def worker_pid(ctl):
    return request(ctl, {"op": "info"})["pid"]


@pytest.mark.root
def test_real_worker_survives_hostile_lines_idle_floods_and_non_readers(worker):
    proc, ctl = worker
    pid = worker_pid(ctl)
    # 1. every hostile line on one connection: one error reply each, in order
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(ctl)
        s.settimeout(10)
        payload = b"".join(line.encode("utf-8", "surrogateescape") + b"\n" for line, _ in HOSTILE)
        s.sendall(payload + b'{"op":"info"}\n')
        buf = b""
        while buf.count(b"\n") < len(HOSTILE) + 1:
            chunk = s.recv(1 << 16)
            assert chunk, "worker closed the connection"
            buf += chunk
    replies = [json.loads(x) for x in buf.splitlines()]
    assert [r["ok"] for r in replies] == [False] * len(HOSTILE) + [True]
    for (line, words), r in zip(HOSTILE, replies, strict=False):   # replies end with the final ping
        assert all(w in r["error"] for w in words), (line[:60], r["error"])
    assert proc.poll() is None

    # 2. four times MAX_CLIENTS idle connections: the worker holds at most MAX_CLIENTS and
    #    still answers a new client; the oldest idle ones were closed
    idle = []
    for _ in range(4 * MAX_CLIENTS):
        c = socket.socket(socket.AF_UNIX)
        c.connect(ctl)
        idle.append(c)
    info = patient_request(ctl, {"op": "info"})
    assert info["ok"] and info["control"]["clients"] <= MAX_CLIENTS
    assert info["control"]["evicted"] >= 3 * MAX_CLIENTS
    idle[0].settimeout(5)
    assert idle[0].recv(10) == b""
    for c in idle:
        c.close()

    # 3. a client that sends 8 MiB of requests and never reads: the worker stops reading it,
    #    its memory stays bounded, and it serves others meanwhile
    before = rss_kib(pid)
    hog = socket.socket(socket.AF_UNIX)
    hog.connect(ctl)
    hog.setblocking(False)
    chunk = b'{"op":"stats"}\n' * 4096
    sent, stalled = 0, 0
    deadline = time.monotonic() + 20
    while sent < (8 << 20) and stalled < 50 and time.monotonic() < deadline:
        try:
            sent += hog.send(chunk)
            stalled = 0
        except BlockingIOError:
            stalled += 1
            time.sleep(0.02)
    assert sent < (8 << 20), "the worker kept reading a client that never reads"
    assert request(ctl, {"op": "stats"})["ok"]
    grown = rss_kib(pid) - before
    assert grown < 16 * 1024, f"worker grew by {grown} KiB for {sent} bytes of unread requests"
    hog.close()
    assert request(ctl, {"op": "info"})["ok"] and proc.poll() is None


def test_every_op_has_a_schema_with_its_fields():
    """The ipvsadm ops (lcore/ipvs_ops.py) are checked like the others: same field names."""
    from lcore import ipvs_ops
    from lcore.control_schema import OPS
    for op, (required, optional) in ipvs_ops.OPS.items():
        schema = OPS[op]
        assert set(schema["required"]) == {"op"} | required, op
        assert set(schema["properties"]) == {"op"} | required | optional, op
    h = handler()
    assert "field weight" in h.handle({"op": "dest_add", "vip": "10.0.0.100", "vport": 80, "proto": "udp",
                                       "addr": "10.0.2.9", "port": 1, "weight": [1]})["error"]
    assert "field proto" in h.handle({"op": "ipvs_zero", "vip": "10.0.0.100", "vport": 80,
                                      "proto": {"tcp": 1}})["error"]
